"""Candidate classifiers of the four families and their hyper-parameter search spaces."""

from __future__ import annotations

from typing import Any

from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from xgboost import XGBClassifier

from delinq.models.svm import ApproxKernelSVC

# Defaults are tuned-by-hand starting points that already beat the plain baselines; the spaces
# are small on purpose: a 2-core machine searches them inside every outer fold.
DEFAULTS: dict[str, dict[str, Any]] = {
    "logreg": {"C": 0.1, "max_iter": 2000},
    "svm": {"C": 0.1, "gamma": 0.02, "n_components": 150},
    # Bootstrap samples of 20 % of the rows: 5x faster than full ones, the same AUC on Taiwan
    # within 0.0003 (0.3 cost 1.5x the time for +0.0002).
    "random_forest": {
        "n_estimators": 150,
        "max_samples": 0.2,
        "min_samples_leaf": 20,
        "max_features": "sqrt",
        "n_jobs": 1,
    },
    # Many shallow, strongly regularised trees: +0.004 CV AUC on Taiwan over depth-4 defaults.
    # The ~70 columns with history detail want more of it (30 % of columns, 70 % of rows a tree,
    # lambda 30): +0.0005, the same on three fold splits (docs/benchmarks.md).
    "xgboost": {
        "n_estimators": 500,
        "learning_rate": 0.03,
        "max_depth": 3,
        "min_child_weight": 5,
        "subsample": 0.7,
        "colsample_bytree": 0.3,
        "reg_lambda": 30.0,
        "tree_method": "hist",
        "n_jobs": 1,
    },
}

SEARCH_SPACES: dict[str, dict[str, list]] = {
    "logreg": {"C": [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]},
    "svm": {"C": [0.01, 0.03, 0.1, 0.3, 1.0], "gamma": [0.005, 0.01, 0.02, 0.05]},
    "random_forest": {
        "min_samples_leaf": [3, 5, 10, 20, 40],
        "max_features": ["sqrt", 0.2, 0.35],
        "max_depth": [None, 12, 20],
    },
    "xgboost": {
        "max_depth": [2, 3, 4],
        "learning_rate": [0.015, 0.03, 0.05],
        "n_estimators": [300, 500, 800],
        "min_child_weight": [5, 10, 20],
        "subsample": [0.7, 0.8, 0.9],
        "colsample_bytree": [0.3, 0.5, 0.7],
        "reg_lambda": [1.0, 10.0, 30.0],
    },
}


def make_classifier(
    family: str,
    params: dict[str, Any] | None = None,
    *,
    class_weight: bool = False,
    positive_weight: float = 1.0,
    seed: int = 0,
):
    """Return an unfitted classifier of ``family`` with defaults overridden by ``params``.

    ``class_weight`` re-weights the classes in the loss; for XGBoost that is
    ``scale_pos_weight = positive_weight`` (negatives / positives).
    """
    kwargs = {**DEFAULTS[family], **(params or {})}
    if family == "logreg":
        return LogisticRegression(class_weight="balanced" if class_weight else None, **kwargs)
    if family == "svm":
        return ApproxKernelSVC(
            class_weight="balanced" if class_weight else None, random_state=seed, **kwargs
        )
    if family == "random_forest":
        return RandomForestClassifier(
            class_weight="balanced_subsample" if class_weight else None,
            random_state=seed,
            **kwargs,
        )
    if family == "xgboost":
        return XGBClassifier(
            scale_pos_weight=positive_weight if class_weight else 1.0,
            random_state=seed,
            eval_metric="logloss",
            **kwargs,
        )
    raise ValueError(f"unknown model family {family!r}")


def search_space(family: str, override: dict[str, list] | None = None) -> dict[str, list]:
    """The hyper-parameter grid to sample for ``family`` (classifier parameter names)."""
    return dict(override) if override is not None else dict(SEARCH_SPACES[family])
