"""The Spark engine (real Spark, local[2]) gives the local engine's rows, rejects and faults."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.score.batch import ScoringError
from delinq.pipeline.score.local import score_book
from delinq.pipeline.score.publish import MANIFEST_FILE, REJECTS_FILE, SCORES_FILE
from tests.conftest import output_entries

pytestmark = pytest.mark.slow
URI = "models:/delinquency-risk@champion"


def _faulty_book(rows: int, seed: int) -> pd.DataFrame:
    book = simulate_book(rows, seed=seed).astype({"LIMIT_BAL": object, "ID": "Int64"})
    book.loc[3, "ID"] = None
    book.loc[[5, 6], "ID"] = 424_242  # duplicated
    book.loc[7, "LIMIT_BAL"] = -5.0
    book.loc[8, "PAY_0"] = -9
    book.loc[9, "LIMIT_BAL"] = "lots"
    book.loc[10, "EDUCATION"] = 42  # unseen level: scored and counted
    book["LIMIT_BAL"] = book["LIMIT_BAL"].astype(str)  # as a text column, parsed per row
    return book


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory):
    """A folder of two Parquet files, each with row-level faults, and one id in both."""
    folder = tmp_path_factory.mktemp("spark-book") / "book"
    folder.mkdir()
    first, second = _faulty_book(1_200, seed=21), _faulty_book(900, seed=22)
    second["ID"] += 10_000
    second.loc[0, "ID"] = first.loc[0, "ID"]  # duplicated across files
    first.to_parquet(folder / "part-a.parquet", index=False)
    second.to_parquet(folder / "part-b.parquet", index=False)
    return folder


def _spark_score(spark, book, out, cfg, **kw):
    from delinq.pipeline.score.spark import score_book_spark

    return score_book_spark(book, out, "2026-02-28", URI, cfg, spark=spark, **kw)


def _sorted(path, key):
    frame = pd.read_parquet(path)
    return frame.sort_values(key).reset_index(drop=True)


def test_spark_and_local_engines_give_identical_rows(spark, champion_env, book_dir, tmp_path):
    cfg, _, _ = champion_env
    local = score_book(book_dir, tmp_path / "local", "2026-02-28", URI, cfg)
    remote = _spark_score(spark, book_dir, tmp_path / "spark", cfg)
    scores = _sorted(remote.partition / SCORES_FILE, "id")
    pd.testing.assert_frame_equal(scores, _sorted(local.partition / SCORES_FILE, "id"))
    assert scores["reason_1_code"].notna().any()  # reason codes came through Spark too
    rejects = _sorted(remote.partition / REJECTS_FILE, "row")
    pd.testing.assert_frame_equal(rejects, _sorted(local.partition / REJECTS_FILE, "row"))
    assert set(rejects["reason"]) >= {"missing_id", "duplicate_id", "negative:LIMIT_BAL"}
    assert 1_200 + 0 in rejects["row"].tolist()  # second file's first row: offsets are right
    for key in ("rows", "rejects_by_reason", "unseen_categories", "drift", "predict_path"):
        assert remote.manifest[key] == local.manifest[key], key
    assert remote.manifest["engine"] == "spark" and local.manifest["engine"] == "local"
    assert remote.manifest["rows"]["read"] == 2_100


def test_spark_rerun_gives_identical_bytes(spark, champion_env, book_dir, tmp_path):
    cfg, _, _ = champion_env
    first = _spark_score(spark, book_dir, tmp_path / "out", cfg, reasons=False)
    second = _spark_score(spark, book_dir, tmp_path / "out", cfg, reasons=False)
    assert first.manifest["outputs"] == second.manifest["outputs"]
    assert output_entries(tmp_path / "out") == ["as_of_date=2026-02-28"]


def test_spark_file_level_faults_publish_nothing(spark, champion_env, book_dir, tmp_path):
    cfg, _, _ = champion_env
    out = tmp_path / "out"
    good = _spark_score(spark, book_dir, out, cfg, reasons=False)
    bad = tmp_path / "bad"
    bad.mkdir()
    pd.read_parquet(book_dir / "part-a.parquet").drop(columns="PAY_0").to_parquet(bad / "x.parquet")
    with pytest.raises(ScoringError, match=r"x\.parquet: required column\(s\) missing: PAY_0"):
        _spark_score(spark, bad, out, cfg)
    (bad / "x.parquet").write_bytes((book_dir / "part-a.parquet").read_bytes()[:500])
    with pytest.raises(ScoringError, match=r"x\.parquet: cannot read file"):
        _spark_score(spark, bad, out, cfg)
    csv = tmp_path / "book.csv"
    simulate_book(50, seed=1).to_csv(csv, index=False)
    with pytest.raises(ScoringError, match="the Spark engine reads Parquet"):
        _spark_score(spark, csv, out, cfg)
    assert output_entries(out) == [good.partition.name]
    manifest = (good.partition / MANIFEST_FILE).read_text()
    assert "spark" in manifest and np.isfinite(good.manifest["drift"]["score_psi"])


def test_cli_engine_spark(spark, champion_env, book_dir, tmp_path):
    from typer.testing import CliRunner

    from delinq.pipeline.cli import app

    _, config, _ = champion_env
    out = tmp_path / "cli"
    args = [
        "score",
        "-c",
        str(config),
        "-i",
        str(book_dir),
        "-o",
        str(out),
        "--as-of",
        "2026-03-01",
    ]
    result = CliRunner().invoke(app, [*args, "--engine", "spark", "--no-reasons"])
    assert result.exit_code == 0, result.output
    # 7 faulty rows per file: 6 of its own, and the id both files share
    assert "Scored 2,086 of 2,100 rows" in result.output
    manifest = out / "as_of_date=2026-03-01" / MANIFEST_FILE
    assert '"engine": "spark"' in manifest.read_text()
