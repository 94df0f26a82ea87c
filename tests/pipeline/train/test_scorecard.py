"""The scorecard family end to end: a champion whose published points are its table's sums,
and exports (SQL in SQLite and DuckDB) that score the same, missing values included."""

import os
import sqlite3

import duckdb
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedKFold

from delinq.features.cleaning import coerce_types
from delinq.models.points_card import points_card
from delinq.pipeline.book.io import load_training_data
from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.load import load_registered
from delinq.pipeline.score.local import score_book
from delinq.pipeline.score.publish import SCORES_FILE
from delinq.pipeline.train.estimator import Columns, scorecard_pipeline
from delinq.pipeline.train.job import train
from delinq.pipeline.train.scorecard import (
    IV_PLOT,
    PMML_FILE,
    SQL_FILE,
    SQL_TABLE,
    TABLE_CSV,
)
from tests.conftest import one_family_config

pytestmark = pytest.mark.slow
URI = "models:/delinquency-risk@champion"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A scorecard champion trained on a simulated book, in its own SQLite store."""
    tmp = tmp_path_factory.mktemp("scorecard")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    cfg = one_family_config(tmp, "scorecard")
    cfg = cfg.model_copy(
        update={
            "data": cfg.data.model_copy(update={"simulate_rows": 4_000}),
            "scoring": cfg.scoring.model_copy(update={"output_dir": tmp / "scores"}),
        }
    )
    result = train(cfg, load_training_data(cfg))
    tracking.connect(cfg.tracking)
    _, _, model, reference = load_registered(URI)
    return cfg, result, model, reference


def _book_with_gaps(rows: int, seed: int) -> pd.DataFrame:
    book = simulate_book(rows, seed=seed)
    rng = np.random.default_rng(seed)
    for col in ("LIMIT_BAL", "BILL_AMT1", "PAY_AMT1", "EDUCATION"):
        book[col] = book[col].astype(float)
        book.loc[rng.random(rows) < 0.05, col] = np.nan
    return book


def _sql_points(card, inputs: pd.DataFrame, ids: pd.Series, query: str, engine: str):
    table = inputs[list(card.points)].assign(ID=ids.to_numpy())
    if engine == "sqlite":
        con = sqlite3.connect(":memory:")
        table.to_sql(SQL_TABLE, con, index=False)
        got = pd.read_sql_query(query, con)
    else:
        con = duckdb.connect()
        con.register("frame", table)
        con.execute(f"CREATE TABLE {SQL_TABLE} AS SELECT * FROM frame")
        got = con.execute(query).df()
    return got.set_index("ID")["points"]


def test_run_writes_the_card_with_monotone_bins(env):
    cfg, result, _, _ = env
    assert result.champion == "scorecard"
    for name in (TABLE_CSV, SQL_FILE, PMML_FILE, IV_PLOT, "scorecard_table.html"):
        assert (result.output_dir / name).exists(), name
    table = pd.read_csv(result.output_dir / TABLE_CSV)
    assert table.loc[0, "input"] == "(base)"
    assert (table["points"] == table["points"].round()).all()
    # PAY_0 (months late) is in the card and its points fall as lateness rises.
    pay0 = table[(table["input"] == "PAY_0") & (table["count"] > 0)]
    pay0 = pay0[~pay0["bin"].isin(["(missing)"])]
    assert len(pay0) >= 2 and (np.diff(pay0["points"].to_numpy()) < 0).all()


def test_published_points_are_the_card_sums_and_the_sql_agrees(env, tmp_path):
    cfg, result, model, reference = env
    book = _book_with_gaps(20_000, seed=3)
    path = tmp_path / "book.parquet"
    book.to_parquet(path, index=False)
    res = score_book(path, tmp_path / "out", "2026-01-31", URI, cfg)
    published = pd.read_parquet(res.partition / SCORES_FILE).set_index("id")["points"]
    assert len(published) == len(book)

    card = points_card(model, **cfg.scorecard.model_dump(exclude={"bands"}))
    X = coerce_types(
        book[reference.names],
        reference.numeric,
        [c for c in reference.names if c not in reference.numeric],
    )
    ids = book["ID"].astype(str)
    by_card = pd.Series(card.score(X), index=ids.to_numpy())
    assert (by_card != published.loc[ids]).sum() == 0
    # The exported query, read back from the run's file, run in two SQL engines.
    query = (result.output_dir / SQL_FILE).read_text()
    inputs = card.inputs(X)
    for engine in ("sqlite", "duckdb"):
        got = _sql_points(card, inputs, ids, query.rstrip().rstrip(";"), engine)
        assert (got.loc[ids].to_numpy() != by_card.to_numpy()).sum() == 0, engine
    # The PMML document, read back from the run's file, in a PMML engine (PyPMML, on the JVM).
    from pypmml import Model

    pmml = Model.fromFile(str(result.output_dir / PMML_FILE))
    head = inputs[list(card.points)].iloc[:5_000]
    by_pmml = pmml.predict(head)["points"].to_numpy()
    assert (by_pmml != by_card.to_numpy()[:5_000]).sum() == 0
    # A row scored alone gets the points it gets in the batch.
    for i in (0, 7, 123):
        assert card.score(X.iloc[[i]])[0] == by_card.iloc[i]


def test_every_training_fold_keeps_the_declared_directions(env):
    cfg, _, _, _ = env
    cfg = cfg.model_copy(
        update={
            "models": cfg.models.model_copy(
                update={"monotone": {"PAY_0": "increasing", "LIMIT_BAL": "decreasing"}}
            )
        }
    )
    data = load_training_data(cfg)
    columns = Columns(data.numeric, data.categorical)
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(data.X, data.y)
    for train_rows, _ in folds:
        pipe = scorecard_pipeline(cfg, columns).fit(
            data.X.iloc[train_rows], data.y.iloc[train_rows]
        )
        bins = pipe.named_steps["woe"].bins_
        for col, sign in (("PAY_0", 1), ("LIMIT_BAL", -1)):
            b = bins[col]
            rate = b.bads[: b.n_regular] / b.count[: b.n_regular]
            assert b.trend == ("ascending" if sign > 0 else "descending")
            assert (sign * np.diff(rate) > 0).all(), col


def test_report_and_model_card_show_the_points_table(env, tmp_path):
    from delinq.pipeline.card import CARD_MD
    from delinq.pipeline.report import build_report

    cfg, result, _, _ = env
    out = build_report(cfg, URI, tmp_path / "report.html")
    page = out.read_text()
    assert "Scorecard: points per input and bin" in page and "(base)" in page
    card = (tmp_path / CARD_MD).read_text()
    assert "## Scorecard" in card and "PAY_0" in card
