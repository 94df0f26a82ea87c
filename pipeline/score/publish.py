"""The layout of published scores, and publishing a run atomically.

Each run writes ``OUTPUT/as_of_date=DATE/`` holding ``scores.parquet``, ``rejects.parquet``,
``manifest.json`` and ``drift.png``. A run holds a lock on its date for its whole life
(:func:`partition_lock`: one run per partition), stages its files in a hidden folder of its
own beside the partitions and renames it into place at the end, so readers see a whole
partition or none. :func:`recover` undoes what a killed run left behind, touching only dates
no live run holds. Partition dates are ISO dates (``YYYY-MM-DD``), ordered as dates.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SCORES_FILE, REJECTS_FILE, MANIFEST_FILE = "scores.parquet", "rejects.parquet", "manifest.json"
DRIFT_PLOT = "drift.png"


PREFIX = "as_of_date="


def canonical_date(text: str) -> str:
    """``text`` as a real calendar date in ``YYYY-MM-DD`` form; ``ValueError`` if it is none.

    ``20260131`` and ``2026-W05-6`` name the same day as ``2026-01-31`` and get its partition.
    """
    if not text or not text.strip():
        raise ValueError("an empty date")
    return dt.date.fromisoformat(text.strip()).isoformat()


def partition(output: Path, as_of: str) -> Path:
    """The folder of the run for ``as_of`` (a canonical date) under the output root."""
    return Path(output) / f"{PREFIX}{as_of}"


class PartitionLocked(BlockingIOError):
    """Another live run holds the partition; ``holder`` says which, in words."""

    def __init__(self, holder: str):
        super().__init__(holder)
        self.holder = holder


@contextmanager
def partition_lock(output: Path, as_of: str, wait: bool = False) -> Iterator[None]:
    """Hold the lock of ``as_of``'s partition for the block.

    If a live run holds it, raise :class:`PartitionLocked` naming that run (its process id,
    host and start), or with ``wait`` poll until it ends. An OS file lock: it goes with the
    process, so a killed run's lock is free at once and its holder note is overwritten.
    """
    locks = Path(output) / ".locks"  # kept, never removed: removing one races a waiting run
    locks.mkdir(exist_ok=True)
    with open(locks / as_of, "a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    handle.seek(0)
                    raise PartitionLocked(_holder(handle.read())) from None
                time.sleep(LOCK_POLL_S)
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(_me()))
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


LOCK_POLL_S = 0.5


def _me() -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def _holder(note: str) -> str:
    try:
        who = json.loads(note)
        return f"process {who['pid']} on {who['host']}, started {who['started']}"
    except (ValueError, KeyError, TypeError):
        return "a process that is starting"


def staging_folder(output: Path, as_of: str) -> Path:
    """A new, empty staging folder of this run's own (renamed into place at the end)."""
    staging = Path(output) / f".staging-{as_of}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    return staging


def _published(output: Path) -> list[tuple[str, Path]]:
    """(date, manifest) of every published partition, oldest first, ordered as dates."""
    found = []
    for manifest in Path(output).glob(f"{PREFIX}*/{MANIFEST_FILE}"):
        date = manifest.parent.name[len(PREFIX) :]
        try:
            found.append((dt.date.fromisoformat(date), date, manifest))
        except ValueError:
            continue  # not a partition this scorer writes
    return [(date, manifest) for _, date, manifest in sorted(found)]


def published_dates(output: Path) -> list[str]:
    """The dates of every published partition under ``output``, oldest first."""
    return [date for date, _ in _published(output)]


def latest_manifest(output: Path) -> dict | None:
    """The manifest of the most recent published partition under ``output``, if any."""
    published = _published(output)
    return json.loads(published[-1][1].read_text()) if published else None


def previous_rows(output: Path, as_of: str) -> int | None:
    """Rows read by the latest published run before ``as_of`` (``None``: no such run)."""
    day = dt.date.fromisoformat(as_of)
    earlier = [m for date, m in _published(output) if dt.date.fromisoformat(date) < day]
    return json.loads(earlier[-1].read_text())["rows"]["read"] if earlier else None


def _left_behind(output: Path) -> Iterator[tuple[str, Path]]:
    """(date, folder) of every staging and trash folder under ``output``."""
    for folder in output.glob(".staging-*"):
        yield folder.name[len(".staging-") :][:10], folder
    for folder in output.glob(".trash-*"):
        yield folder.name.split("--", 1)[1][len(PREFIX) :], folder


def recover(output: Path, held: str) -> None:
    """Undo what killed runs left behind, for ``held`` (this run's locked date) and for every
    other date no live run holds; a live run's staging folder is never touched."""
    for date, folder in sorted(_left_behind(output)):
        if date == held:
            _clean(output, folder)
            continue
        try:
            with partition_lock(output, date):
                _clean(output, folder)
        except BlockingIOError:
            continue  # a live run for that date owns it


def _clean(output: Path, folder: Path) -> None:
    if folder.name.startswith(".trash-"):
        final = output / folder.name.split("--", 1)[1]
        if not final.exists():
            folder.rename(final)  # killed between the two renames: restore the old partition
            return
    shutil.rmtree(folder, ignore_errors=True)


def publish(staging: Path, final: Path) -> None:
    """Swap ``staging`` in as ``final`` by two renames (the old partition, if any, is removed)."""
    trash = final.with_name(f".trash-{uuid.uuid4().hex[:8]}--{final.name}")
    if final.exists():
        final.rename(trash)
    staging.rename(final)
    shutil.rmtree(trash, ignore_errors=True)
