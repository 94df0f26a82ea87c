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
    assert {p["clf__n_estimators"] for p in tried[1:]} <= {1, 2}
    assert search.best_params_ == {}  # 500 regularised trees beat 1-2 stumps


def test_tpe_search_over_a_range_beats_a_bad_default_and_is_reproducible(tmp_path, book):
    cfg = quick_config(tmp_path)
    crippled = cfg.models.logreg.model_copy(
        update={"params": {"C": 1e-7}, "space": {"C": ["log", 1e-3, 10.0]}}
    )
    search_cfg = cfg.models.search.model_copy(update={"method": "tpe", "n_iter": 4})
    cfg = cfg.model_copy(
        update={"models": cfg.models.model_copy(update={"search": search_cfg, "logreg": crippled})}
    )
    ds = validate(book, cfg.data, "book")

    def fit():
        return build_estimator(cfg, Columns(ds.numeric, ds.categorical), "logreg").fit(ds.X, ds.y)

    first, second = fit(), fit()
    scores = first.cv_results_["mean_test_score"]
    assert len(scores) == 5 and scores.max() > scores[0] + 0.01  # C = 1e-7 barely learns
    assert 1e-3 <= first.best_params_["clf__C"] <= 10.0
    assert first.best_params_ == second.best_params_


def _result(y, p, family="m"):
    from delinq.pipeline.train.evaluate import CVResult, FoldResult, classification_metrics

    metrics = classification_metrics(np.asarray(y), p, 0.5)
    fold = FoldResult(0, np.arange(len(y)), p, 0.5, 0.0, {}, None, metrics)
    return CVResult(family, [fold], np.asarray(y))


def test_bootstrap_interval_holds_the_point_estimate_and_narrows_with_rows():
    from sklearn.metrics import roc_auc_score

    from delinq.pipeline.train.evaluate import bootstrap_intervals

    rng = np.random.default_rng(0)
    widths = []
    for n in (400, 6_400):
        y = rng.integers(0, 2, n)
        p = np.clip(0.5 * y + rng.normal(0.25, 0.3, n), 0, 1)
        ci = bootstrap_intervals({"a": _result(y, p)}, resamples=200, seed=1)["a"]
        assert ci["roc_auc_ci_low"] < roc_auc_score(y, p) < ci["roc_auc_ci_high"]
        assert set(ci) == {
            f"{m}_ci_{e}" for m in ("roc_auc", "ks", "pr_auc", "f1") for e in ("low", "high")
        }
        widths.append(ci["roc_auc_ci_high"] - ci["roc_auc_ci_low"])
    assert widths[1] < widths[0] / 2  # 16x the rows: about a quarter of the width
    # Families share each resample: adding one changes no other family's interval.
    other = _result(y, rng.random(len(y)), "other")
    both = bootstrap_intervals({"a": _result(y, p), "other": other}, resamples=200, seed=1)
    assert both["a"] == ci


def test_paired_test_tells_a_real_difference_from_none():
    from delinq.pipeline.train.evaluate import paired_auc_test

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 3_000)
    good = y + rng.normal(0, 0.8, len(y))
    noise = rng.normal(0, 1, len(y))
    diff, p_value = paired_auc_test(y, good, noise, resamples=200, seed=0)
    assert diff > 0.2 and p_value <= 0.01
    diff, p_value = paired_auc_test(y, good, good + 1e-9 * noise, resamples=200, seed=0)
    assert abs(diff) < 1e-6 and p_value > 0.5


def test_too_few_bads_for_the_folds_is_a_clear_error():
    from delinq.pipeline.train.evaluate import CVError, cv_splits

    y = np.r_[np.zeros(100), np.ones(3)]
    with pytest.raises(CVError, match="3 bad and 100 good rows: too few for 5 folds"):
        cv_splits(y, 5, seed=0)
    assert len(cv_splits(y, 3, seed=0)) == 3


def test_repeated_rows_share_a_group_and_a_fold():
    import pandas as pd

    from delinq.models.search import duplicate_groups
    from delinq.pipeline.train.evaluate import cv_splits

    X = pd.DataFrame({"a": [1, 1, 2, 3, 3, 3, 4, 5] * 10, "b": list("xxyzzzwv") * 10})
    X["a"] = X["a"] + np.repeat(np.arange(10), 8) * 10  # 10 blocks, repeats within blocks
    groups, repeated = duplicate_groups(X)
    assert repeated == 10 * 5  # per block: the two 1s and the three 3s
    y = np.tile([0, 0, 1, 1, 1, 1, 0, 1], 10)
    for _, test in cv_splits(y, 5, 0, groups):
        inside = set(groups[test])
        assert all(set(np.flatnonzero(groups == g)) <= set(test) for g in inside)


def test_a_family_that_fails_is_named_and_left_out(tmp_path, book):
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Broken(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            raise ValueError("this text may hold a customer's value")

    cfg = quick_config(tmp_path)
    ds = validate(book, cfg.data, "book")
    failed = {}
    estimators = {
        "broken": Broken(),
        "logreg": build_estimator(cfg, Columns(ds.numeric, ds.categorical), "logreg"),
    }
    results = cross_validate(estimators, ds.X, ds.y, 3, cfg.seed, failed=failed)
    assert list(results) == ["logreg"]
    assert failed == {"broken": "ValueError on fold 1, ValueError on fold 2, ValueError on fold 3"}


def test_resampled_metrics_equal_sklearn_on_the_drawn_rows():
    """The O(n) weighted metrics of a resample are sklearn's on the rows it drew, ties too."""
    from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

    from delinq.pipeline.train.evaluate import _bootstrap_weights, _Ranked

    rng = np.random.default_rng(1)
    y = (rng.random(3_000) < 0.2).astype(int)
    p = np.round(np.clip(0.3 * y + rng.random(len(y)) * 0.7, 0, 1), 2)  # many tied scores
    hard = p > 0.5
    ranked = _Ranked(y, p, hard)
    for weights in _bootstrap_weights(len(y), 5, seed=0):
        rows = np.repeat(np.arange(len(y)), weights)
        m = ranked.metrics(weights)
        assert m["roc_auc"] == pytest.approx(roc_auc_score(y[rows], p[rows]), abs=1e-12)
        assert m["ks"] == pytest.approx(ks_statistic(y[rows], p[rows]), abs=1e-12)
        assert m["pr_auc"] == pytest.approx(average_precision_score(y[rows], p[rows]), abs=1e-12)
        assert m["f1"] == pytest.approx(f1_score(y[rows], hard[rows]), abs=1e-12)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, exited but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_released_workers_exit_while_the_process_goes_on_and_a_later_pool_starts_anew():
    import os
    import time

    from joblib import Parallel, delayed

    from delinq.pipeline.train.evaluate import release_workers

    pids = set(Parallel(n_jobs=2)(delayed(os.getpid)() for _ in range(4)))
    assert os.getpid() not in pids
    release_workers()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids)
    again = set(Parallel(n_jobs=2)(delayed(os.getpid)() for _ in range(4)))
    assert again and not again & pids


def _fails(text: str) -> None:
    raise ValueError(text)


def _children() -> set[int]:
    import os

    out = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        if int(fields[1]) == os.getpid() and fields[0] != "Z":
            out.add(int(pid))
    return out


def test_warmed_workers_are_the_ones_the_next_calls_use_and_results_keep_their_order():
    import os
    import time

    from joblib import Parallel, delayed

    from delinq.pipeline.train.evaluate import in_workers, release_workers, warm_workers

    release_workers()  # whatever an earlier test left: the warm-up must start its own
    time.sleep(1)
    before = _children()
    warm_workers(2)
    deadline = time.monotonic() + 60
    while len(_children() - before) < 2 and time.monotonic() < deadline:  # before any call
        time.sleep(0.1)
    warm = _children() - before
    assert len(warm) >= 2
    assert set(Parallel(n_jobs=2)(delayed(os.getpid)() for _ in range(6))) <= warm
    pid, total = in_workers(2, (os.getpid,), (sum, [1, 2, 3]))()
    assert pid in warm and total == 6
    with pytest.raises(ValueError, match="refit failed"):
        in_workers(2, (_fails, "refit failed"))()
