"""Byte-identical re-runs for a random-forest champion (it once predicted in threads)."""

from __future__ import annotations

import os

import pytest

from delinq.pipeline.book.io import load_training_data
from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.registry.checksum import sha256
from delinq.pipeline.score.local import score_book
from delinq.pipeline.score.publish import SCORES_FILE
from delinq.pipeline.train.job import train
from tests.conftest import one_family_config

pytestmark = pytest.mark.slow


def test_a_forest_champion_scores_the_same_bytes_twice(tmp_path):
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    # No night to fit: the forest's reason codes are slow, and this scores without them.
    cfg = one_family_config(tmp_path, "random_forest", book_rows=0)
    train(cfg, load_training_data(cfg))
    book = tmp_path / "book.parquet"
    simulate_book(40_000, seed=2).to_parquet(book, index=False)
    uri = "models:/delinquency-risk@champion"
    runs = [
        score_book(book, tmp_path / f"out{i}", "2026-01-31", uri, cfg, reasons=False)
        for i in range(3)
    ]
    assert len({sha256(run.partition / SCORES_FILE) for run in runs}) == 1
