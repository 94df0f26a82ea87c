"""Where a model came from: the data file's digest, the code's commit, the dependency lock's
digest. Tagged on the training run at its start; the model card reads them back."""

from __future__ import annotations

import subprocess
from pathlib import Path

from delinq.pipeline.config import Config
from delinq.pipeline.registry.checksum import sha256

ROOT = Path(__file__).resolve().parents[2]  # the repository (the package's root)
LOCK = ROOT / "requirements.lock"


def git_commit(root: Path = ROOT) -> str:
    """The checked-out commit, ``+dirty`` when files differ from it; "unknown" outside git."""
    try:
        head = _git(root, "rev-parse", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return head + ("+dirty" if dirty else "")


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=True
    )
    return done.stdout.strip()


def provenance_tags(cfg: Config) -> dict[str, str]:
    """Run tags: ``data_sha256`` (or how the book was simulated), ``git_commit`` and
    ``requirements_lock_sha256``."""
    if cfg.data.path is not None:
        data = sha256(cfg.data.path)
    else:
        data = f"simulated ({cfg.data.simulate_rows} rows, seed {cfg.seed})"
    return {
        "data_sha256": data,
        "git_commit": git_commit(),
        "requirements_lock_sha256": sha256(LOCK) if LOCK.exists() else "no lock file",
    }
