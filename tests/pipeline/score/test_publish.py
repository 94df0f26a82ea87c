"""The partition layout: canonical dates, date order, leftovers of killed runs."""

import json

import pytest

from delinq.pipeline.score.publish import (
    MANIFEST_FILE,
    canonical_date,
    latest_manifest,
    partition,
    partition_lock,
    previous_rows,
    recover,
    staging_folder,
)


def _published(out, day, rows):
    folder = partition(out, day)
    folder.mkdir(parents=True)
    (folder / MANIFEST_FILE).write_text(json.dumps({"as_of_date": day, "rows": {"read": rows}}))


def test_partitions_are_ordered_as_dates_and_foreign_folders_ignored(tmp_path):
    for day, rows in (("2026-01-09", 9), ("2026-01-10", 10), ("2025-12-31", 1)):
        _published(tmp_path, day, rows)
    foreign = tmp_path / "as_of_date=latest"
    foreign.mkdir()
    (foreign / MANIFEST_FILE).write_text("{}")
    assert latest_manifest(tmp_path)["as_of_date"] == "2026-01-10"
    assert previous_rows(tmp_path, "2026-01-10") == 9
    assert previous_rows(tmp_path, "2025-12-31") is None


def test_canonical_dates():
    assert canonical_date(" 20260131 ") == canonical_date("2026-W05-6") == "2026-01-31"
    for wrong in ("", "  ", "2026-13-01", "31/01/2026"):
        with pytest.raises(ValueError):
            canonical_date(wrong)


def test_recovery_leaves_a_live_runs_folders_and_cleans_a_dead_ones(tmp_path):
    live = staging_folder(tmp_path, "2026-01-31")
    dead = staging_folder(tmp_path, "2026-02-01")
    _published(tmp_path, "2026-02-02", 5)
    killed_mid_publish = tmp_path / ".trash-0a1b2c3d--as_of_date=2026-02-02"
    partition(tmp_path, "2026-02-02").rename(killed_mid_publish)
    with partition_lock(tmp_path, "2026-01-31"):  # a live run holds its date
        recover(tmp_path, "2026-03-01")
        with pytest.raises(BlockingIOError), partition_lock(tmp_path, "2026-01-31"):
            pass
    assert live.exists() and not dead.exists()
    assert (partition(tmp_path, "2026-02-02") / MANIFEST_FILE).exists()  # restored
