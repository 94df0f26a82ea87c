"""Feature selection by chi-square, Pearson correlation and tree importance, with a report."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.feature_selection import SelectorMixin
from sklearn.utils.validation import check_is_fitted, validate_data

MAX_BINS = 10
IMPORTANCE_ROWS = 10_000


def _median_filled(X: np.ndarray) -> np.ndarray:
    """``X`` with each missing value replaced by its column's median (0 for an empty column)."""
    if not np.isnan(X).any():
        return X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: median NaN -> 0
        medians = np.nan_to_num(np.nanmedian(X, axis=0))
    return np.where(np.isnan(X), medians, X)


def chi2_binned(
    X: np.ndarray, y: np.ndarray, max_bins: int = MAX_BINS
) -> tuple[np.ndarray, np.ndarray]:
    """Chi-square test of independence between each column (in quantile bins) and ``y``.

    Binning makes the test valid for continuous and negative values, unlike sklearn's
    ``chi2``, which treats features as counts. A column with at most ``max_bins`` distinct
    values is tested level by level: quantile edges would put a rare flag's ones in the same
    bin as its zeros. A constant column gets statistic 0, p-value 1.
    """
    classes, y = np.unique(y, return_inverse=True)
    stat, p = np.zeros(X.shape[1]), np.ones(X.shape[1])
    ordered = np.sort(X, axis=0)  # one sort for the levels and the quantiles of every column
    for j in range(X.shape[1]):
        col, sorted_col = X[:, j], ordered[:, j]
        levels = sorted_col[np.r_[True, sorted_col[1:] != sorted_col[:-1]]]
        if len(levels) > max_bins:
            edges = np.unique(np.quantile(sorted_col, np.linspace(0, 1, max_bins + 1)[1:-1]))
            bins = np.searchsorted(edges, col, side="right")
        else:
            bins = np.searchsorted(levels, col)
        table = np.bincount(bins * len(classes) + y, minlength=(bins.max() + 1) * len(classes))
        table = table.reshape(-1, len(classes)).astype(float)
        table = table[table.sum(axis=1) > 0]
        if table.shape[0] < 2 or len(classes) < 2:
            continue
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
        stat[j] = ((table - expected) ** 2 / expected).sum()
        p[j] = stats.chi2.sf(stat[j], (table.shape[0] - 1) * (len(classes) - 1))
    return stat, p


def _abs_corr_with(X: np.ndarray, v: np.ndarray) -> np.ndarray:
    xc = X - X.mean(axis=0)
    vc = v - v.mean()
    den = np.sqrt((xc**2).sum(axis=0) * (vc**2).sum())
    return np.abs(np.divide(xc.T @ vc, den, out=np.zeros(X.shape[1]), where=den > 0))


class FeatureSelector(SelectorMixin, BaseEstimator):
    """Keep features that pass chi-square, Pearson and tree-importance rules, in that order.

    Parameters
    ----------
    chi2 : bool
        Score features by a binned chi-square test; drop those whose p-value exceeds
        ``chi2_max_p`` (``None``: score and report only).
    pearson : bool
        Drop features with ``|corr(x, y)| < min_target_corr``, then, of each pair correlated
        above ``max_inter_corr``, the one less correlated with the target.
    tree_importance : bool
        Drop features whose extra-trees importance is below ``min_importance_share`` of the
        average importance.
    random_state : int
        Seed of the extra-trees model.

    Attributes
    ----------
    report_ : pandas.DataFrame
        One row per input feature: scores, ``kept`` and the ``rule`` that dropped it.
    """

    def __init__(
        self,
        chi2: bool = True,
        chi2_max_p: float = 0.05,
        pearson: bool = True,
        min_target_corr: float = 0.0,
        max_inter_corr: float = 0.99,
        tree_importance: bool = True,
        min_importance_share: float = 0.02,
        random_state: int = 0,
    ):
        self.chi2 = chi2
        self.chi2_max_p = chi2_max_p
        self.pearson = pearson
        self.min_target_corr = min_target_corr
        self.max_inter_corr = max_inter_corr
        self.tree_importance = tree_importance
        self.min_importance_share = min_importance_share
        self.random_state = random_state

    def fit(self, X, y):
        """Score every feature against the class labels ``y`` and decide what to keep."""
        X, y = validate_data(self, X, y, dtype=np.float64, ensure_all_finite="allow-nan")
        X = _median_filled(X)  # scored on a filled copy; transform passes missing values on
        classes, y_codes = np.unique(y, return_inverse=True)
        # Pearson against each class indicator (just the positive class when binary).
        indicators = np.eye(len(classes))[y_codes][:, 1:] if len(classes) > 1 else None
        n = X.shape[1]
        names = getattr(self, "feature_names_in_", np.array([f"x{i}" for i in range(n)]))
        report = pd.DataFrame({"feature": names}, index=range(n))
        keep = np.ones(n, dtype=bool)
        rule = np.array([""] * n, dtype=object)

        def drop(mask: np.ndarray, why: str, score: np.ndarray) -> None:
            mask = mask & keep
            if mask.sum() == keep.sum():  # never drop everything: keep the best of this rule
                mask[np.flatnonzero(keep)[np.argmax(score[keep])]] = False
            keep[mask] = False
            rule[mask] = why

        if self.chi2:
            report["chi2"], report["chi2_p"] = chi2_binned(X, y_codes)
            if self.chi2_max_p is not None:  # None: scored and reported, nothing dropped
                p_values = report["chi2_p"].to_numpy()
                drop(p_values > self.chi2_max_p, "chi2", report["chi2"].to_numpy())
        if self.pearson:
            target_corr = np.zeros(n)
            if indicators is not None:
                target_corr = np.max([_abs_corr_with(X, c) for c in indicators.T], axis=0)
            report["target_corr"] = target_corr
            drop(target_corr < self.min_target_corr, "target_corr", target_corr)
            self._drop_correlated(X, target_corr, keep, rule, report)
        if self.tree_importance:
            importance = np.zeros(n)
            importance[keep] = self._importances(X[:, keep], y_codes)
            report["importance"] = importance
            floor = self.min_importance_share / max(keep.sum(), 1)
            drop(importance < floor, "importance", importance)
        report["kept"] = keep
        report["rule"] = rule
        self.support_ = keep
        self.report_ = report
        return self

    def _drop_correlated(self, X, target_corr, keep, rule, report) -> None:
        # Greedy: walk features from most to least target-correlated and drop any that
        # duplicates (|r| above the limit) one already kept.
        order = [j for j in np.argsort(-target_corr, kind="stable") if keep[j]]
        if len(order) < 2:
            return
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.abs(np.nan_to_num(np.corrcoef(X[:, order], rowvar=False)))
        partner = np.array([""] * X.shape[1], dtype=object)
        chosen: list[int] = []
        for pos, j in enumerate(order):
            dup = [c for c in chosen if corr[pos, c] > self.max_inter_corr]
            if dup:
                keep[j] = False
                rule[j] = "inter_corr"
                partner[j] = report.at[order[dup[0]], "feature"]
            else:
                chosen.append(pos)
        report["corr_partner"] = partner

    def _importances(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(self.random_state)
        if len(np.unique(y)) < 2:
            return np.ones(X.shape[1]) / X.shape[1]
        if len(y) > IMPORTANCE_ROWS:  # importances settle long before 10k rows
            rows = rng.choice(len(y), IMPORTANCE_ROWS, replace=False)
            X, y = X[rows], y[rows]
        model = ExtraTreesClassifier(
            n_estimators=50, max_depth=8, min_samples_leaf=10, random_state=self.random_state
        )
        return model.fit(X, y).feature_importances_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # tree families read missing values natively
        return tags

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_
