"""The loan-book simulator: schema, determinism, calibration and atomic chunked writes."""

import numpy as np
import pandas as pd
import pytest

from delinq.pipeline.book import simulate
from delinq.pipeline.book.simulate import COLUMNS, simulate_book, write_book


def test_schema_and_codes(book):
    assert list(book.columns) == COLUMNS
    assert book["ID"].is_unique
    status = book[simulate.STATUS_COLS].to_numpy()
    assert status.min() >= -2 and status.max() <= 8
    assert set(book["default_next_month"].unique()) == {0, 1}
    assert (book["LIMIT_BAL"] >= 10_000).all()


def test_same_seed_same_book_and_prefix_property():
    a = simulate_book(3_000, seed=11)
    pd.testing.assert_frame_equal(a, simulate_book(3_000, seed=11))
    assert not a.equals(simulate_book(3_000, seed=12))
    pd.testing.assert_frame_equal(simulate_book(1_000, seed=11), a.iloc[:1_000])


def test_calibrated_to_the_real_data_published_figures():
    book = simulate_book(100_000, seed=1)
    assert 0.19 < book["default_next_month"].mean() < 0.26  # real: 22.1 %
    share = book["PAY_0"].value_counts(normalize=True)
    assert 0.40 < share[0] < 0.58  # real: 49 % revolving
    assert 0.15 < share[-1] < 0.28  # real: 19 % paid in full
    by_status = book.groupby("PAY_0")["default_next_month"].mean()
    assert by_status[2] > 2 * by_status[0]  # late payers default far more
    assert 100_000 <= book["LIMIT_BAL"].median() <= 200_000  # real: 140,000


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_chunked_write_matches_memory(tmp_path, monkeypatch, suffix):
    monkeypatch.setattr(simulate, "CHUNK_ROWS", 700)
    path = write_book(tmp_path / f"book{suffix}", 2_000, seed=5)
    back = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(path)
    expected = simulate_book(2_000, seed=5)
    pd.testing.assert_frame_equal(back, expected, check_dtype=False)
    assert [p.name for p in tmp_path.iterdir()] == [f"book{suffix}"]


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(simulate, "CHUNK_ROWS", 500)

    def boom(n):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_book(tmp_path / "book.parquet", 2_000, progress=boom)
    assert list(tmp_path.iterdir()) == []


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="at least 1"):
        simulate_book(0)
    with pytest.raises(ValueError, match=".parquet or .csv"):
        write_book(tmp_path / "book.json", 10)
    assert np.isfinite(simulate_book(10).select_dtypes("number").to_numpy()).all()


def _holdout_aucs(train: pd.DataFrame, test: pd.DataFrame) -> dict[str, float]:
    """Hold-out AUC of the product's logistic regression and XGBoost trained on ``train``."""
    from sklearn.metrics import roc_auc_score

    from delinq.pipeline.book.io import validate
    from delinq.pipeline.config import load_config
    from delinq.pipeline.train.estimator import Columns, build_pipeline
    from tests.conftest import REPO

    cfg = load_config(REPO / "configs" / "taiwan.yaml")
    fit, held = validate(train, cfg.data, "train"), validate(test, cfg.data, "test")
    out = {}
    for family in ("logreg", "xgboost"):
        model = build_pipeline(cfg, Columns(fit.numeric, fit.categorical), family)
        model.fit(fit.X, fit.y)
        out[family] = roc_auc_score(held.y, model.predict_proba(held.X)[:, 1])
    return out


@pytest.mark.slow
def test_the_simulated_target_is_less_than_linear():
    # Interactions (utilisation x delinquency, payments x revolving) that a linear model
    # cannot draw: trees must find something the logistic regression cannot.
    auc = _holdout_aucs(simulate_book(16_000, seed=3), simulate_book(16_000, seed=4))
    assert auc["xgboost"] > auc["logreg"] + 0.01


@pytest.mark.slow
def test_a_model_trained_only_on_simulated_accounts_ranks_the_real_ones(taiwan_path):
    auc = _holdout_aucs(simulate_book(30_000, seed=1), pd.read_csv(taiwan_path))
    assert auc["xgboost"] >= 0.75
