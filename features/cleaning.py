"""Cleaning: outlier capping with bounds learned in ``fit``."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data


class OutlierCapper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clip each column to bounds learned from the training data.

    Parameters
    ----------
    method : {"quantile", "iqr", "none"}
        ``quantile`` caps at the ``lower`` / ``upper`` quantiles; ``iqr`` at
        ``Q1 - iqr_k * IQR`` and ``Q3 + iqr_k * IQR``; ``none`` passes values through.
    lower, upper : float
        Quantiles for ``method="quantile"``.
    iqr_k : float
        Width multiplier for ``method="iqr"``.
    """

    def __init__(
        self,
        method: str = "quantile",
        lower: float = 0.005,
        upper: float = 0.995,
        iqr_k: float = 3.0,
    ):
        self.method = method
        self.lower = lower
        self.upper = upper
        self.iqr_k = iqr_k

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing months / values are handled, not refused
        return tags

    def fit(self, X, y=None):
        """Learn per-column lower and upper bounds (missing values are ignored)."""
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64)
        if self.method not in ("quantile", "iqr", "none"):
            raise ValueError(f"method must be 'quantile', 'iqr' or 'none', got {self.method!r}")
        if not 0 <= self.lower < self.upper <= 1:
            raise ValueError("need 0 <= lower < upper <= 1")
        with np.errstate(all="ignore"), warnings.catch_warnings():
            # An all-missing column is handled below; numpy's warning about it is noise.
            warnings.filterwarnings("ignore", message="All-NaN slice")
            if self.method == "quantile":
                low, high = np.nanquantile(X, [self.lower, self.upper], axis=0)
            elif self.method == "iqr":
                q1, q3 = np.nanquantile(X, [0.25, 0.75], axis=0)
                low, high = q1 - self.iqr_k * (q3 - q1), q3 + self.iqr_k * (q3 - q1)
            else:
                low = np.full(X.shape[1], -np.inf)
                high = np.full(X.shape[1], np.inf)
        # An all-missing column has no bounds: leave it uncapped.
        self.lower_bound_ = np.where(np.isnan(low), -np.inf, low)
        self.upper_bound_ = np.where(np.isnan(high), np.inf, high)
        return self

    def transform(self, X):
        """Clip to the learned bounds; missing values stay missing."""
        check_is_fitted(self)
        X = validate_data(self, X, ensure_all_finite="allow-nan", dtype=np.float64, reset=False)
        return np.clip(X, self.lower_bound_, self.upper_bound_)


def coerce_types(X: pd.DataFrame, numeric: list[str], categorical: list[str]) -> pd.DataFrame:
    """Numeric columns to float64; categorical ones to object strings with NaN for missing.

    One representation whatever pandas version or reader produced the frame: pandas 3 reads
    text as the ``str`` dtype, pandas 2 as ``object``, Parquet as Arrow strings. Numeric codes
    of a categorical read as floats (a column of codes with one empty cell) keep the text of
    the integer, ``2.0`` -> ``"2"``, as a column without gaps reads them.
    """
    out = pd.DataFrame(index=X.index)
    for col in X.columns:
        if col in categorical:
            values = X[col]
            if pd.api.types.is_float_dtype(values):
                finite = values.dropna()
                if (finite == np.round(finite)).all():
                    values = values.astype("Int64")
            values = values.astype(object)
            notna = values.notna().to_numpy()
            text = np.where(notna, values.astype(str).to_numpy(), np.nan)
            # An explicit object Series: pandas 3 would otherwise infer its `str` dtype.
            out[col] = pd.Series(text, index=X.index, dtype=object)
        elif col in numeric:
            out[col] = pd.to_numeric(X[col], errors="coerce").astype("float64")
    return out
