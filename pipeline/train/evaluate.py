"""Cross-validation of a whole pipeline and the credit-risk metrics computed on it."""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import clone
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_curve,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)
from sklearn.model_selection import StratifiedKFold

from delinq.models.fitted import fitted_pipeline
from delinq.models.folds import GroupedStratifiedKFold

METRICS = (
    "roc_auc",
    "gini",
    "ks",
    "pr_auc",
    "f1",
    "precision",
    "recall",
    "f1_at_0.5",
    "precision_at_0.5",
    "recall_at_0.5",
    "brier",
    "log_loss",
    "threshold",
)
# Metrics that get a bootstrap confidence interval, from the out-of-fold predictions.
INTERVAL_METRICS = ("roc_auc", "ks", "pr_auc", "f1")


class CVError(ValueError):
    """Cross-validation cannot give a meaningful answer on this table (e.g. a fold lacks bads)."""


def ks_statistic(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov-Smirnov separation: the largest gap between the bad and good score CDFs."""
    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))


def best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The probability cut-off that maximises F1 on ``(y, p)``."""
    precision, recall, thresholds = precision_recall_curve(y, p)
    f1 = np.divide(
        2 * precision * recall,
        precision + recall,
        out=np.zeros_like(precision),
        where=(precision + recall) > 0,
    )
    return float(thresholds[np.argmax(f1[:-1])]) if len(thresholds) else 0.5


def threshold_table(y: np.ndarray, p: np.ndarray, thresholds=None) -> pd.DataFrame:
    """Trade-offs of flagging loans with PD >= t: share flagged, precision, recall, F1."""
    y, p = np.asarray(y), np.asarray(p)
    thresholds = np.round(np.arange(0.05, 0.96, 0.05), 2) if thresholds is None else thresholds
    rows = []
    for t in thresholds:
        hard = p >= t
        rows.append(
            {
                "threshold": float(t),
                "flagged_share": float(hard.mean()),
                "precision": float(precision_score(y, hard, zero_division=0)),
                "recall": float(recall_score(y, hard, zero_division=0)),
                "f1": float(f1_score(y, hard, zero_division=0)),
            }
        )
    return pd.DataFrame(rows)


def classification_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """Every comparison metric for true labels ``y`` and bad-probabilities ``p``."""
    auc = roc_auc_score(y, p)
    hard, half = p >= threshold, p >= 0.5
    return {
        "roc_auc": float(auc),
        "gini": float(2 * auc - 1),
        "ks": ks_statistic(y, p),
        "pr_auc": float(average_precision_score(y, p)),
        "f1": float(f1_score(y, hard, zero_division=0)),
        "precision": float(precision_score(y, hard, zero_division=0)),
        "recall": float(recall_score(y, hard, zero_division=0)),
        "f1_at_0.5": float(f1_score(y, half, zero_division=0)),
        "precision_at_0.5": float(precision_score(y, half, zero_division=0)),
        "recall_at_0.5": float(recall_score(y, half, zero_division=0)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "threshold": float(threshold),
    }


@dataclass
class FoldResult:
    """What one outer fold produced."""

    fold: int
    test_index: np.ndarray
    proba: np.ndarray
    threshold: float
    fit_seconds: float
    best_params: dict
    selection_report: pd.DataFrame | None
    metrics: dict[str, float]  # of the held-out fold (computed in the worker, in parallel)
    grown: dict = field(default_factory=dict)  # XGBoost's early-stopped trees and depth


@dataclass
class CVResult:
    """Cross-validated results of one model family."""

    family: str
    folds: list[FoldResult]
    y: np.ndarray
    oof: np.ndarray = field(init=False)
    fold_metrics: pd.DataFrame = field(init=False)
    confusion: np.ndarray = field(init=False)
    hard: np.ndarray = field(init=False)  # each row flagged at its own fold's threshold

    def __post_init__(self) -> None:
        self.oof = np.empty(len(self.y))
        hard = self.hard = np.empty(len(self.y), dtype=bool)
        rows = []
        for f in self.folds:
            self.oof[f.test_index] = f.proba
            hard[f.test_index] = f.proba >= f.threshold
            rows.append(
                {
                    "fold": f.fold,
                    **f.metrics,
                    "fit_seconds": f.fit_seconds,
                    **f.grown,
                }
            )
        self.fold_metrics = pd.DataFrame(rows).set_index("fold")
        # Summed over folds, each at the threshold its own training folds chose.
        self.confusion = confusion_matrix(self.y, hard, labels=[0, 1])

    def summary(self) -> dict[str, float]:
        """Mean and standard deviation of every metric across folds."""
        out: dict[str, float] = {}
        for name in (*METRICS, "fit_seconds"):
            out[f"{name}_mean"] = float(self.fold_metrics[name].mean())
            out[f"{name}_std"] = float(self.fold_metrics[name].std(ddof=1))
        return out

    def selection_report(self) -> pd.DataFrame | None:
        """Per-feature selection scores averaged over folds, with how often each was kept."""
        reports = [f.selection_report for f in self.folds if f.selection_report is not None]
        if not reports:
            return None
        both = pd.concat(reports)
        numeric = both.drop(columns=["kept"]).select_dtypes("number").columns
        agg = both.groupby("feature", sort=False)[list(numeric)].mean()
        agg["kept_in_folds"] = both.groupby("feature", sort=False)["kept"].sum()
        agg["dropped_by"] = both.groupby("feature", sort=False)["rule"].agg(
            lambda r: ",".join(sorted({x for x in r if x}))
        )
        return agg.reset_index().sort_values(["kept_in_folds"], ascending=False, kind="stable")


THRESHOLD_ROWS = 10_000


@dataclass
class FoldFailure:
    """A fold a family could not fit: the exception's type only (its text may hold data)."""

    fold: int
    error: str


def _fit_fold(
    family: str, estimator, X: pd.DataFrame, y: np.ndarray, fold: int, train, test
) -> tuple[str, FoldResult | FoldFailure]:
    try:
        return family, _fit_one_fold(estimator, X, y, fold, train, test)
    except Exception as exc:  # a family that breaks on a strange table is skipped, not fatal
        return family, FoldFailure(fold, type(exc).__name__)


def _fit_one_fold(estimator, X: pd.DataFrame, y: np.ndarray, fold: int, train, test) -> FoldResult:
    start = time.perf_counter()
    model = clone(estimator).fit(X.iloc[train], y[train])
    fit_seconds = time.perf_counter() - start
    # The cut-off is chosen on (a fixed sample of) the training folds only, then applied to
    # the held-out fold.
    sample = np.random.default_rng(fold).permutation(train)[:THRESHOLD_ROWS]
    threshold = best_f1_threshold(y[sample], model.predict_proba(X.iloc[sample])[:, 1])
    pipe = fitted_pipeline(model)
    selector = pipe.named_steps.get("select")
    clf = pipe.steps[-1][1]
    grown = {}
    if getattr(clf, "best_depth_", None) is not None:
        grown = {"trees": clf.best_n_estimators_, "depth": clf.best_depth_}
    proba = model.predict_proba(X.iloc[test])[:, 1]
    return FoldResult(
        fold=fold,
        test_index=np.asarray(test),
        proba=proba,
        threshold=threshold,
        fit_seconds=fit_seconds,
        best_params=dict(getattr(model, "best_params_", {})),
        selection_report=None if selector is None else selector.report_.assign(fold=fold),
        metrics=classification_metrics(y[test], proba, threshold),
        grown=grown,
    )


def cv_splits(
    y: np.ndarray, folds: int, seed: int, groups: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The outer folds: stratified, and with ``groups`` never splitting a group.

    Raises :class:`CVError` when a test fold would hold no bad or no good row, where AUC and
    KS mean nothing.
    """
    y = np.asarray(y)
    bads = int(y.sum())
    if min(bads, len(y) - bads) < folds:
        raise CVError(
            f"the target has {bads} bad and {len(y) - bads} good rows: too few for {folds} "
            f"folds (every test fold needs both); use fewer folds (cv.folds) or more data"
        )
    if groups is None:
        splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    else:
        splitter = GroupedStratifiedKFold(folds, shuffle=True, random_state=seed)
    splits = list(splitter.split(np.zeros(len(y)), y, groups))
    for i, (_, test) in enumerate(splits):
        if len(np.unique(y[test])) < 2:
            raise CVError(
                f"test fold {i + 1} of {folds} holds only one class "
                f"({len(test)} rows); use fewer folds (cv.folds)"
            )
    return splits


def cross_validate(
    estimators: dict[str, object],
    X: pd.DataFrame,
    y: pd.Series,
    folds: int,
    seed: int,
    n_jobs: int = 1,
    on_fold: Callable[[str], None] | None = None,
    groups: np.ndarray | None = None,
    failed: dict[str, str] | None = None,
    splits: list[tuple[np.ndarray, np.ndarray]] | None = None,
    own_splits: dict[str, list[tuple[np.ndarray, np.ndarray]]] | None = None,
) -> dict[str, CVResult]:
    """Stratified k-fold CV of each whole (possibly search-wrapped) pipeline.

    Each fold clones and fits the complete estimator, so nothing learned from a held-out fold
    reaches its own model. All families share the same folds and one worker pool, so no core
    idles while a slow family finishes. ``on_fold(family)`` is called as each fold ends.
    ``groups`` keeps rows of a group in one fold (see :func:`cv_splits`). A family that fails
    on any fold is left out of the result and named in ``failed`` (family -> what failed).
    ``splits``, if given, are the folds already made (:func:`cv_splits`). An estimator named
    in ``own_splits`` is cross-validated on those folds instead, in the same pool.
    """
    y_arr = np.asarray(y)
    own_splits = own_splits or {}
    splits = cv_splits(y_arr, folds, seed, groups) if splits is None else splits
    jobs = (
        delayed(_fit_fold)(family, estimator, X, y_arr, i, train, test)
        for family, estimator in estimators.items()
        for i, (train, test) in enumerate(own_splits.get(family, splits))
    )
    done: dict[str, list[FoldResult]] = {family: [] for family in estimators}
    failures: dict[str, list[FoldFailure]] = {}
    for family, result in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
        if isinstance(result, FoldFailure):
            failures.setdefault(family, []).append(result)
        else:
            done[family].append(result)
        if on_fold is not None:
            on_fold(family)
    if failed is not None:
        failed |= {
            family: ", ".join(
                f"{f.error} on fold {f.fold + 1}" for f in sorted(fs, key=lambda f: f.fold)
            )
            for family, fs in failures.items()
        }
    return {
        family: CVResult(family, sorted(results, key=lambda r: r.fold), y_arr)
        for family, results in done.items()
        if family not in failures
    }


def in_workers(n_jobs: int, *calls: tuple) -> Callable[[], list]:
    """Start each ``(fn, *args)`` of ``calls`` now in the cross-validation's worker pool (warm:
    its imports are done), so the caller's own work goes on beside them on another core.

    Returns a function that waits for their results, in order (and raises what one raised).
    """
    results = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(fn)(*args) for fn, *args in calls
    )
    return lambda: list(results)


# What a fold's fit imports (features, models, imbalanced-learn, XGBoost), by name: this
# module runs the folds, it does not build them.
FOLD_MODULES = ("delinq.pipeline.train.estimator",)


def _ready() -> None:
    for name in FOLD_MODULES:
        importlib.import_module(name)


def warm_workers(n_jobs: int) -> None:
    """Start the worker pool now: each worker imports what the folds need (3 s) while this
    process reads the data and opens the store, not after. The folds' own pool call then
    finds the same workers (joblib keeps one pool per ``n_jobs``)."""
    n = effective_n_jobs(n_jobs)
    if n == 1:
        return
    starting = Parallel(n_jobs=n, return_as="generator_unordered")(
        delayed(_ready)() for _ in range(n)
    )
    threading.Thread(target=_drain, args=(starting,), daemon=True).start()


def _drain(results: Iterator) -> None:
    """Read a warm-up's results in the background: nothing waits for them."""
    with contextlib.suppress(Exception):  # a pool shut down meanwhile (a failed run) is fine
        deque(results, 0)


def release_workers() -> None:
    """Let the worker processes of the cross-validation pool exit now, in the background.

    joblib keeps them for reuse and, at interpreter exit, waits while each shuts its own
    interpreter down (1.3 s after a Taiwan training). Released once the job needs no more of
    them, they exit while it goes on. A later pool simply starts new ones.
    """
    from joblib.externals.loky import reusable_executor

    executor = getattr(reusable_executor, "_executor", None)
    if executor is not None:
        executor.shutdown(wait=False)


def _bootstrap_weights(n: int, resamples: int, seed: int) -> Iterator[np.ndarray]:
    """How often each row is drawn, one resample with replacement at a time (seeded)."""
    rng = np.random.default_rng(seed)
    for _ in range(resamples):
        yield np.bincount(rng.integers(0, n, n), minlength=n)


class _Ranked:
    """Scores sorted once, riskiest first, grouped by distinct value (ties share a group).

    A resample with replacement is a count per row, so each metric of a resample is a weighted
    sum over these groups: O(rows), where re-sorting every resample cost seconds.
    """

    def __init__(self, y: np.ndarray, p: np.ndarray, hard: np.ndarray | None = None):
        order = np.argsort(-p, kind="stable")
        self.order, self.y = order, np.asarray(y)[order].astype(float)
        sorted_p = p[order]
        self.starts = np.flatnonzero(np.r_[True, sorted_p[1:] != sorted_p[:-1]])
        self.hard = None if hard is None else np.asarray(hard)[order].astype(float)

    def metrics(self, weights: np.ndarray) -> dict[str, float]:
        """AUC, KS, PR-AUC and (with hard labels) F1 of the rows weighted by ``weights``."""
        w = weights[self.order].astype(float)
        tp = np.add.reduceat(w * self.y, self.starts)
        fp = np.add.reduceat(w * (1 - self.y), self.starts)
        TP, FP = np.cumsum(tp), np.cumsum(fp)
        P, N = TP[-1], FP[-1]
        # Mann-Whitney: each bad outranks the goods below its group, half the goods tied with it.
        # A group no resampled row fell in flags nothing: precision 0 there (it adds tp = 0).
        precision = np.divide(TP, TP + FP, out=np.zeros_like(TP), where=(TP + FP) > 0)
        out = {
            "roc_auc": float((np.sum(tp * (N - FP)) + 0.5 * np.sum(tp * fp)) / (P * N)),
            "ks": float(np.max(TP / P - FP / N)),
            "pr_auc": float(np.sum(tp / P * precision)),
        }
        if self.hard is not None:
            hit = np.sum(w * self.y * self.hard)
            flagged, bads = np.sum(w * self.hard), np.sum(w * self.y)
            out["f1"] = float(2 * hit / (flagged + bads)) if flagged + bads else 0.0
        return out


def _one_class(weights: np.ndarray, y: np.ndarray) -> bool:
    bads = weights @ np.asarray(y)
    return bads == 0 or bads == weights.sum()


def bootstrap_intervals(
    results: dict[str, CVResult], resamples: int = 200, seed: int = 0, level: float = 0.95
) -> dict[str, dict[str, float]]:
    """Percentile bootstrap intervals of AUC, KS, PR-AUC and F1 of each family's out-of-fold
    predictions (all on the same rows: one draw of each resample serves every family).

    Rows are resampled with replacement ``resamples`` times (seeded); F1 uses each row's own
    fold threshold. Returns, per family, ``{metric}_ci_low`` and ``{metric}_ci_high``.
    """
    y = next(iter(results.values())).y
    ranked = {family: _Ranked(r.y, r.oof, r.hard) for family, r in results.items()}
    values = {family: {m: [] for m in INTERVAL_METRICS} for family in results}
    for weights in _bootstrap_weights(len(y), resamples, seed):
        if _one_class(weights, y):
            continue  # a resample with one class has no AUC
        for family, scores in ranked.items():
            for m, v in scores.metrics(weights).items():
                values[family][m].append(v)
    tail = (1 - level) / 2 * 100
    out = {}
    for family, metrics in values.items():
        out[family] = {}
        for m, v in metrics.items():
            low, high = np.percentile(v, [tail, 100 - tail])
            out[family][f"{m}_ci_low"], out[family][f"{m}_ci_high"] = float(low), float(high)
    return out


def paired_auc_test(
    y: np.ndarray, p_a: np.ndarray, p_b: np.ndarray, resamples: int = 200, seed: int = 0
) -> tuple[float, float]:
    """AUC of ``p_a`` minus AUC of ``p_b`` on the same rows, and its paired-bootstrap p-value.

    Both are scored on each resample of the same rows; the two-sided p-value is twice the
    smaller share of resamples on either side of zero (at least 1 / resamples).
    """
    y = np.asarray(y)
    a, b = _Ranked(y, p_a), _Ranked(y, p_b)
    diffs = np.array(
        [
            a.metrics(w)["roc_auc"] - b.metrics(w)["roc_auc"]
            for w in _bootstrap_weights(len(y), resamples, seed)
            if not _one_class(w, y)
        ]
    )
    observed = float(roc_auc_score(y, p_a) - roc_auc_score(y, p_b))
    p_value = 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0))
    return observed, float(min(1.0, max(p_value, 1 / len(diffs))))
