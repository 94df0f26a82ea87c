"""Cross-validation of a whole pipeline and the credit-risk metrics computed on it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
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


@dataclass
class CVResult:
    """Cross-validated results of one model family."""

    family: str
    folds: list[FoldResult]
    y: np.ndarray
    oof: np.ndarray = field(init=False)
    fold_metrics: pd.DataFrame = field(init=False)
    confusion: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.oof = np.empty(len(self.y))
        hard = np.empty(len(self.y), dtype=bool)
        rows = []
        for f in self.folds:
            self.oof[f.test_index] = f.proba
            hard[f.test_index] = f.proba >= f.threshold
            y_test = self.y[f.test_index]
            rows.append(
                {
                    "fold": f.fold,
                    **classification_metrics(y_test, f.proba, f.threshold),
                    "fit_seconds": f.fit_seconds,
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


def _fit_fold(
    family: str, estimator, X: pd.DataFrame, y: np.ndarray, fold: int, train, test
) -> tuple[str, FoldResult]:
    start = time.perf_counter()
    model = clone(estimator).fit(X.iloc[train], y[train])
    fit_seconds = time.perf_counter() - start
    # The cut-off is chosen on (a fixed sample of) the training folds only, then applied to
    # the held-out fold.
    sample = np.random.default_rng(fold).permutation(train)[:THRESHOLD_ROWS]
    threshold = best_f1_threshold(y[sample], model.predict_proba(X.iloc[sample])[:, 1])
    pipe = fitted_pipeline(model)
    selector = pipe.named_steps.get("select")
    return family, FoldResult(
        fold=fold,
        test_index=np.asarray(test),
        proba=model.predict_proba(X.iloc[test])[:, 1],
        threshold=threshold,
        fit_seconds=fit_seconds,
        best_params=dict(getattr(model, "best_params_", {})),
        selection_report=None if selector is None else selector.report_.assign(fold=fold),
    )


def cross_validate(
    estimators: dict[str, object],
    X: pd.DataFrame,
    y: pd.Series,
    folds: int,
    seed: int,
    n_jobs: int = 1,
    on_fold: Callable[[str], None] | None = None,
) -> dict[str, CVResult]:
    """Stratified k-fold CV of each whole (possibly search-wrapped) pipeline.

    Each fold clones and fits the complete estimator, so nothing learned from a held-out fold
    reaches its own model. All families share the same folds and one worker pool, so no core
    idles while a slow family finishes. ``on_fold(family)`` is called as each fold ends.
    """
    y_arr = np.asarray(y)
    splits = list(StratifiedKFold(folds, shuffle=True, random_state=seed).split(X, y_arr))
    jobs = (
        delayed(_fit_fold)(family, estimator, X, y_arr, i, train, test)
        for family, estimator in estimators.items()
        for i, (train, test) in enumerate(splits)
    )
    done: dict[str, list[FoldResult]] = {family: [] for family in estimators}
    for family, result in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
        done[family].append(result)
        if on_fold is not None:
            on_fold(family)
    return {
        family: CVResult(family, sorted(results, key=lambda r: r.fold), y_arr)
        for family, results in done.items()
    }
