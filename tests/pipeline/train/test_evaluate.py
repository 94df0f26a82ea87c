"""Metrics against hand computations, and reproducible cross-validation."""

import numpy as np
import pytest

from delinq.pipeline.book.io import validate
from delinq.pipeline.train.estimator import Columns, build_estimator
from delinq.pipeline.train.evaluate import (
    METRICS,
    best_f1_threshold,
    classification_metrics,
    cross_validate,
    ks_statistic,
)
from tests.conftest import quick_config


def test_ks_by_hand():
    y = np.array([0, 0, 0, 1, 1, 1])
    p = np.array([0.1, 0.2, 0.6, 0.4, 0.8, 0.9])
    # riskiest first: 0.9 b, 0.8 b, 0.6 g, 0.4 b ... largest bad-good CDF gap is 2/3 - 0
    assert ks_statistic(y, p) == pytest.approx(2 / 3)
    assert ks_statistic(y, y.astype(float)) == pytest.approx(1.0)


def test_best_f1_threshold_by_hand():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.3, 0.35, 0.8])
    assert best_f1_threshold(y, p) == pytest.approx(0.35)


def test_metric_set():
    y = np.array([0, 1, 0, 1, 1, 0])
    p = np.array([0.2, 0.7, 0.4, 0.3, 0.9, 0.1])
    m = classification_metrics(y, p, threshold=0.5)
    assert set(m) == set(METRICS)
    assert m["gini"] == pytest.approx(2 * m["roc_auc"] - 1)
    assert m["precision"] == pytest.approx(1.0) and m["recall"] == pytest.approx(2 / 3)
    assert m["brier"] == pytest.approx(np.mean((p - y) ** 2))


@pytest.mark.slow
def test_same_seed_gives_identical_cv_metrics(tmp_path, book):
    cfg = quick_config(tmp_path)
    ds = validate(book, cfg.data, "book")
    cols = Columns(ds.numeric, ds.categorical)

    def run():
        estimators = {f: build_estimator(cfg, cols, f) for f in cfg.models.families}
        return cross_validate(estimators, ds.X, ds.y, 3, cfg.seed, n_jobs=2)

    first, second = run(), run()
    for family in cfg.models.families:
        a = first[family].fold_metrics.drop(columns="fit_seconds")
        b = second[family].fold_metrics.drop(columns="fit_seconds")
        assert a.equals(b), family
        assert np.array_equal(first[family].oof, second[family].oof)
        assert first[family].confusion.sum() == len(ds.y)


def test_search_weighs_the_defaults_against_sampled_candidates(tmp_path, book):
    cfg = quick_config(tmp_path)
    stumps = {"n_estimators": [1, 2], "max_depth": [1]}  # every sampled candidate is weak
    cfg = cfg.model_copy(
        update={
            "models": cfg.models.model_copy(
                update={
                    "search": cfg.models.search.model_copy(
                        update={"method": "random", "n_iter": 2}
                    ),
                    "xgboost": cfg.models.xgboost.model_copy(update={"space": stumps}),
                }
            )
        }
    )
    ds = validate(book, cfg.data, "book")
    search = build_estimator(cfg, Columns(ds.numeric, ds.categorical), "xgboost")
    search.fit(ds.X, ds.y)
    tried = search.cv_results_["params"]
    assert tried[0] == {} and len(tried) == 3
    assert {p["clf__n_estimators"] for p in tried[1:]} == {1, 2}
    assert search.best_params_ == {}  # 500 regularised trees beat 1-2 stumps
