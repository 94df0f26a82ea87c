"""Candidate classifiers of the five families and their hyper-parameter search spaces."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from xgboost import XGBClassifier

from delinq.models.boosting import EarlyStoppingXGBClassifier
from delinq.models.forest import ArrayForest
from delinq.models.svm import ApproxKernelSVC

# Tree families read missing values natively and need no capping or scaling.
TREE_FAMILIES = ("random_forest", "xgboost")

# Defaults are tuned-by-hand starting points that already beat the plain baselines; the spaces
# are small on purpose: a 2-core machine searches them inside every outer fold.
DEFAULTS: dict[str, dict[str, Any]] = {
    # Newton steps on the Cholesky factor reach the optimum in ~5 passes where lbfgs took
    # ~80: the same model (AUC within 1e-4), 5x faster on Taiwan's 65 columns. It suits
    # rows >> columns, which one-hot text capped at preprocess.max_categories keeps.
    "logreg": {"C": 0.1, "max_iter": 2000, "solver": "newton-cholesky"},
    "svm": {"C": 0.1, "gamma": 0.02, "n_components": 150},
    # The bootstrap fraction and leaf size follow the rows (:func:`size_defaults`).
    "random_forest": {
        "n_estimators": 150,
        "max_features": "sqrt",
        "n_jobs": 1,
    },
    # Many shallow, strongly regularised trees: +0.004 CV AUC on Taiwan over depth-4 defaults.
    # The ~70 columns with history detail want more of it (30 % of columns, 70 % of rows a tree,
    # lambda 30): +0.0005, the same on three fold splits (docs/benchmarks.md).
    # The number of trees is chosen by early stopping on 15 % of the training fold, 1,000 at
    # most (models/boosting.py): +0.003 to +0.006 AUC on three of seven tables, within 0.001
    # on the rest (docs/benchmarks.md). The same split picks depth 3 or 6: card_approval wants
    # deep trees (+0.038 AUC), the simulated books shallow ones (-0.003 at depth 6).
    "xgboost": {
        "n_estimators": 1000,
        # 0.05, not 0.03: 40 % fewer trees for the same AUC on the suite (mean +0.0006, the
        # worst table -0.0012; docs/benchmarks.md).
        "learning_rate": 0.05,
        "max_depth": 3,
        "depth_candidates": (3, 6),
        "min_child_weight": 5,
        "subsample": 0.7,
        "colsample_bytree": 0.3,
        "reg_lambda": 30.0,
        "tree_method": "hist",
        # 64 value bins per column, not 256: each tree 30 % faster, and the suite held
        # (+0.001 AUC on average, the worst table -0.0006; docs/benchmarks.md).
        "max_bin": 64,
        "n_jobs": 1,
        "validation_fraction": 0.15,
    },
    # A logistic regression on monotone WoE bins (models/binning.py): the bins do the work, so
    # the penalty is light. Binning keys go to the WoE step, the rest to the regression.
    "scorecard": {
        "C": 1.0,
        "max_iter": 1000,
        "solver": "newton-cholesky",
        "max_bins": 20,
        "min_bin_share": 0.05,
        "min_iv": 0.02,
    },
}
SCORECARD_BINNING = ("max_bins", "min_bin_share", "min_iv")

# What a run without search (--quick) trades for speed. A forest of 100 trees instead of 150:
# each forest loses 0.0004-0.0025 CV AUC on the seven tables of the suite, no table's
# champion or lift over the reference changes, and a Taiwan run is about 3 s shorter
# (docs/benchmarks.md). With a search, the full run keeps the bigger forest.
QUICK_DEFAULTS: dict[str, dict[str, Any]] = {"random_forest": {"n_estimators": 100}}

# The plain reference every run cross-validates beside the families: the ten-line script a
# data scientist would write. Fixed, documented settings; raw inputs, native missing values,
# one-hot text; no features, capping or selection. A family that cannot beat it is no gain.
REFERENCE = "reference"
REFERENCE_PARAMS: dict[str, Any] = {
    "n_estimators": 400,
    "max_depth": 4,
    "learning_rate": 0.05,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "tree_method": "hist",
    "n_jobs": 1,
}

# Where the nested search looks: a list is a set of choices, ("int" | "float" | "log", low,
# high) a range ("log": drawn on a log scale). Wide on purpose: the defaults are always scored
# too, so a wide space can only add candidates that win on their inner folds.
SEARCH_SPACES: dict[str, dict[str, list | tuple]] = {
    "logreg": {"C": ("log", 1e-3, 10.0)},
    "scorecard": {"C": ("log", 1e-2, 10.0)},
    "svm": {"C": ("log", 0.01, 3.0), "gamma": ("log", 0.002, 0.1)},
    "random_forest": {
        "min_samples_leaf": ("int", 1, 50),
        "max_features": ["sqrt", 0.2, 0.35, 0.5],
        "max_depth": [None, 8, 12, 20],
    },
    "xgboost": {
        "max_depth": ("int", 2, 8),
        "learning_rate": ("log", 0.01, 0.15),
        "n_estimators": ("int", 300, 1500),  # a cap: early stopping picks the count
        "min_child_weight": ("log", 0.5, 20.0),
        "subsample": ("float", 0.5, 1.0),
        "colsample_bytree": ("float", 0.2, 0.9),
        "reg_lambda": ("log", 0.5, 50.0),
        "reg_alpha": ("log", 1e-3, 10.0),
        "gamma": ("float", 0.0, 2.0),
    },
}


# A forest tree sees this many bootstrap rows, at least 20 % and at most all of them: on Taiwan
# (24,000 training rows) 20 %, 5x faster than full samples for the same AUC within 0.0003; on
# a 1,000-row table all rows, where 20 % cost 0.03 AUC against a plain forest.
FOREST_ROWS_PER_TREE = 4_800
# Leaves of 1 row per 240 bootstrap rows: 20 on Taiwan, 3 on German.
FOREST_ROWS_PER_LEAF = 240


# XGBoost's lambda and min_child_weight are in units of the loss's hessian, whose total over a
# training set is n * p * (1 - p): 4,100 on Taiwan (24,000 rows, 22 % bad), where 30 and 5
# were tuned; 330 on card_approval (1.7 % bad), where the same values shrink every leaf ten
# times harder and cost 0.03 AUC. They scale with that total, Taiwan's values at most.
XGB_HESSIAN_ANCHOR = 4_100


def size_defaults(family: str, n_rows: int | None, bad_rate: float = 0.5) -> dict[str, Any]:
    """Defaults that follow the training rows and bad rate (none when the size is unknown)."""
    if not n_rows:
        return {}
    if family == "random_forest":
        fraction = min(1.0, max(0.2, FOREST_ROWS_PER_TREE / n_rows))
        leaf = int(np.clip(round(fraction * n_rows / FOREST_ROWS_PER_LEAF), 1, 20))
        return {"max_samples": None if fraction == 1.0 else fraction, "min_samples_leaf": leaf}
    if family == "xgboost":
        share = n_rows * bad_rate * (1 - bad_rate) / XGB_HESSIAN_ANCHOR
        base = DEFAULTS["xgboost"]
        return {
            "reg_lambda": float(np.clip(base["reg_lambda"] * share, 1.0, base["reg_lambda"])),
            "min_child_weight": float(
                np.clip(base["min_child_weight"] * share, 1.0, base["min_child_weight"])
            ),
        }
    return {}


def make_classifier(
    family: str,
    params: dict[str, Any] | None = None,
    *,
    class_weight: bool = False,
    positive_weight: float = 1.0,
    seed: int = 0,
    n_rows: int | None = None,
    quick: bool = False,
):
    """Return an unfitted classifier of ``family`` with defaults overridden by ``params``.

    ``class_weight`` re-weights the classes in the loss; for XGBoost that is
    ``scale_pos_weight = positive_weight`` (negatives / positives). ``n_rows``, the number of
    rows it will be fitted on, and the bad rate implied by ``positive_weight`` set the
    size-dependent defaults (:func:`size_defaults`). ``quick`` (no search) takes
    :data:`QUICK_DEFAULTS`.
    """
    bad_rate = 1 / (1 + positive_weight)
    kwargs = {
        **DEFAULTS[family],
        **(QUICK_DEFAULTS.get(family, {}) if quick else {}),
        **size_defaults(family, n_rows, bad_rate),
        **(params or {}),
    }
    if "max_depth" in (params or {}) and "depth_candidates" not in params:
        kwargs["depth_candidates"] = None  # a depth set by hand is the depth used
    if family in ("logreg", "scorecard"):
        kwargs = {k: v for k, v in kwargs.items() if k not in SCORECARD_BINNING}
        return LogisticRegression(class_weight="balanced" if class_weight else None, **kwargs)
    if family == "svm":
        return ApproxKernelSVC(
            class_weight="balanced" if class_weight else None, random_state=seed, **kwargs
        )
    if family == "random_forest":
        return ArrayForest(
            class_weight="balanced_subsample" if class_weight else None,
            random_state=seed,
            **kwargs,
        )
    if family == "xgboost":
        return EarlyStoppingXGBClassifier(
            scale_pos_weight=positive_weight if class_weight else 1.0,
            random_state=seed,
            eval_metric="logloss",
            **kwargs,
        )
    raise ValueError(f"unknown model family {family!r}")


def reference_classifier(seed: int = 0) -> XGBClassifier:
    """The plain reference XGBoost (:data:`REFERENCE_PARAMS`)."""
    return XGBClassifier(random_state=seed, eval_metric="logloss", **REFERENCE_PARAMS)


RANGE_KINDS = ("int", "float", "log")


def search_space(family: str, override: dict[str, list] | None = None) -> dict[str, list | tuple]:
    """Where the search looks for ``family`` (classifier parameter names).

    An ``override`` from the config writes a range as a list ``[kind, low, high]``; it comes
    back as the tuple the search reads as a range, every other list as a set of choices.
    """
    if override is None:
        space = dict(SEARCH_SPACES[family])
    else:
        space = {
            name: tuple(dim) if dim and dim[0] in RANGE_KINDS else list(dim)
            for name, dim in override.items()
        }
    if family == "xgboost" and "max_depth" in space:
        # A trial's depth is the depth it is scored at; the defaults keep their depth choice.
        space.setdefault("depth_candidates", [None])
    return space
