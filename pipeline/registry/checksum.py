"""SHA-256 of files and folders: the manifest's checksums, and the registered model's.

A registered model is a pickle that gets loaded and run. Its files' digest is recorded on the
version when it is registered; the scorer, the explainer and promotion recompute it on what
they download and refuse files that differ (:func:`delinq.pipeline.registry.tracking.
download_version`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256(path: Path, skip: tuple[str, ...] = ()) -> str:
    """SHA-256 of a file, or of a folder's files (name and content, in name order), leaving
    out files named in ``skip``."""
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if file.name in skip:
            continue
        if path.is_dir():
            digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as f:
            for block in iter(lambda f=f: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
