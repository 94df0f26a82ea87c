"""The layout of published scores, and publishing a run atomically.

Each run writes ``OUTPUT/as_of_date=DATE/`` holding ``scores.parquet``, ``rejects.parquet``,
``manifest.json`` and ``drift.png``. A run stages its files in a hidden folder beside the
partitions and renames it into place at the end, so readers see a whole partition or none;
:func:`recover` undoes what a killed run left behind.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

SCORES_FILE, REJECTS_FILE, MANIFEST_FILE = "scores.parquet", "rejects.parquet", "manifest.json"
DRIFT_PLOT = "drift.png"


def partition(output: Path, as_of: str) -> Path:
    """The folder of the run for ``as_of`` under the output root."""
    return Path(output) / f"as_of_date={as_of}"


def staging_folder(output: Path, as_of: str) -> Path:
    """A new, empty staging folder beside the partitions (renamed into place at the end)."""
    staging = Path(output) / f".staging-{as_of}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    return staging


def latest_manifest(output: Path) -> dict | None:
    """The manifest of the most recent published partition under ``output``, if any."""
    manifests = sorted(Path(output).glob(f"as_of_date=*/{MANIFEST_FILE}"))
    return json.loads(manifests[-1].read_text()) if manifests else None


def previous_rows(output: Path, as_of: str) -> int | None:
    """Rows read by the latest published run before ``as_of`` (``None``: no such run)."""
    manifests = sorted(output.glob("as_of_date=*/" + MANIFEST_FILE))
    earlier = [m for m in manifests if m.parent.name < f"as_of_date={as_of}"]
    if not earlier:
        return None
    return json.loads(earlier[-1].read_text())["rows"]["read"]


def recover(output: Path) -> None:
    """Undo what a run killed mid-publish or mid-scoring left behind."""
    for trash in output.glob(".trash-*"):
        final = output / trash.name.split("--", 1)[1]
        if not final.exists():
            trash.rename(final)  # killed between the two renames: restore the old partition
        else:
            shutil.rmtree(trash, ignore_errors=True)
    for staging in output.glob(".staging-*"):
        shutil.rmtree(staging, ignore_errors=True)


def publish(staging: Path, final: Path) -> None:
    """Swap ``staging`` in as ``final`` by two renames (the old partition, if any, is removed)."""
    trash = final.with_name(f".trash-{uuid.uuid4().hex[:8]}--{final.name}")
    if final.exists():
        final.rename(trash)
    staging.rename(final)
    shutil.rmtree(trash, ignore_errors=True)


def sha256(path: Path) -> str:
    """SHA-256 of a file, or of a folder's files (name and content, in name order)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as f:
            for block in iter(lambda f=f: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
