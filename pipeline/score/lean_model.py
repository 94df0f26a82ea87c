"""The fitted champion's model columns without pandas: the same numbers, a fraction of the time.

The training pipeline (:func:`delinq.pipeline.train.estimator.build_pipeline`) runs its steps
through pandas-output ``ColumnTransformer``s. That is right for training, but at scoring time their
bookkeeping costs more than the model. :class:`LeanModel` reads the fitted parameters of the
known steps (outlier caps, median imputation with missing indicators, scaling, one-hot
encoding, feature selection) and applies them to NumPy arrays:

- numeric steps are the same float64 arithmetic as scikit-learn's, so results are identical;
- categorical steps run scikit-learn's own fitted encoder, but only on the distinct
  combinations of levels in a batch (a handful), then spread to the rows by index.

:meth:`LeanModel.compile` returns ``None`` for a pipeline with a step it does not know, and
the scorer then uses the model itself; the scorer also checks the lean result against the
model's on its first batch (:meth:`LeanModel.agrees`).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from delinq.features.cleaning import OutlierCapper
from delinq.features.history import PaymentHistoryFeatures
from delinq.features.selection import FeatureSelector
from delinq.models.fitted import fitted_pipeline


class _Numeric:
    """Cap -> median impute with missing indicators -> scale, from the fitted steps.

    Output column ``k`` is either input column ``source[k]`` (capped, imputed, scaled) or the
    missing indicator of it (scaled), as the fitted steps lay them out.
    """

    def __init__(self, steps, n_inputs: int):
        self.lower = np.full(n_inputs, -np.inf)
        self.upper = np.full(n_inputs, np.inf)
        self.fill = np.full(n_inputs, np.nan)
        self.source = np.arange(n_inputs)
        self.indicator = np.zeros(n_inputs, dtype=bool)
        self.mean, self.scale = np.zeros(n_inputs), np.ones(n_inputs)
        for step in steps:
            if isinstance(step, OutlierCapper):
                self.lower, self.upper = step.lower_bound_, step.upper_bound_
            elif isinstance(step, SimpleImputer) and step.strategy in ("median", "mean"):
                if not _is_nan(step.missing_values) or np.isnan(step.statistics_).any():
                    raise _Unknown  # other markers, or all-missing columns that were dropped
                self.fill = step.statistics_
                indicate = step.indicator_.features_ if step.add_indicator else []
                self.source = np.concatenate([np.arange(n_inputs), indicate]).astype(int)
                self.indicator = np.arange(len(self.source)) >= n_inputs
                self.mean, self.scale = np.zeros(len(self.source)), np.ones(len(self.source))
            elif isinstance(step, StandardScaler):
                if step.with_mean:
                    self.mean = step.mean_
                if step.with_std:
                    self.scale = step.scale_
            else:
                raise _Unknown

    def __len__(self) -> int:
        return len(self.source)


# One pass over the rows for every numeric model column: per-column NumPy calls (clip, fill,
# subtract, divide) each walk the batch again. The arithmetic is scikit-learn's, in its order.
@numba.njit(cache=True, nogil=True)
def _numeric_columns(
    numeric, derived, upstream, indicator, lower, upper, fill, mean, scale, out, Z
):
    n_derived = derived.shape[1]
    for i in range(Z.shape[0]):  # row by row: Z is laid out by row
        for c in range(len(out)):
            u = upstream[c]
            x = derived[i, u] if u < n_derived else numeric[i, u - n_derived]
            if indicator[c]:
                v = 1.0 if np.isnan(x) else 0.0
            else:
                v = x
                if v < lower[c]:  # np.clip: NaN stays NaN
                    v = lower[c]
                if v > upper[c]:
                    v = upper[c]
                if np.isnan(v) and not np.isnan(fill[c]):
                    v = fill[c]
            Z[i, out[c]] = (v - mean[c]) / scale[c]


def _distinct(combo: np.ndarray, n_combos: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(combo, return_inverse=True)``, by counting when the combinations are few."""
    if n_combos > 4 * len(combo):
        return np.unique(combo, return_inverse=True)
    present = np.bincount(combo, minlength=n_combos) > 0  # one pass instead of a sort
    return np.flatnonzero(present), (np.cumsum(present) - 1)[combo]


class _Unknown(Exception):
    """A step the lean path does not reproduce."""


def _is_passthrough(transformer) -> bool:
    # A fitted ColumnTransformer holds "passthrough" as an identity FunctionTransformer.
    return transformer == "passthrough" or (
        isinstance(transformer, FunctionTransformer) and transformer.func is None
    )


def _is_nan(value) -> bool:
    return isinstance(value, float) and np.isnan(value)


class LeanModel:
    """Model columns and probabilities of a fitted champion from NumPy inputs."""

    def __init__(self, model, numeric: list[str], categorical: list[str]):
        self.model = model
        pipe = fitted_pipeline(model)
        steps = [
            (name, step) for name, step in pipe.steps[:-1] if not hasattr(step, "fit_resample")
        ]
        self.clf = pipe.steps[-1][1]
        self.calibrate = getattr(model, "calibrate", None)
        self.numeric, self.categorical = numeric, categorical
        self.history = None  # (transformer, input positions) of the derived history features
        names = [*numeric, *categorical]
        self.select = None
        for name, step in steps:
            if name == "features":
                names = self._features(step, names)
            elif name == "preprocess":
                self._preprocess(step, names)
            elif name == "select" and isinstance(step, FeatureSelector):
                self.select = step.get_support(indices=True)
            else:
                raise _Unknown
        if not hasattr(self, "num_steps"):
            raise _Unknown  # no preprocessing step: not a pipeline built by build_pipeline
        n_num = len(self.num_steps) if self.num_steps is not None else 0
        self.keep = self.select if self.select is not None else np.arange(n_num + self.n_cat)
        kept = np.flatnonzero(self.keep < n_num)  # model columns from the numeric steps
        self.encoded_at = np.flatnonzero(self.keep >= n_num)  # and from the categorical ones
        self.numeric_args = None  # the numeric steps' parameters, per kept column
        if len(kept):
            steps, k = self.num_steps, self.keep[kept]
            j = steps.source[k]
            self.numeric_args = (
                np.asarray(self.num_columns, dtype=np.int64)[j],  # upstream: derived, then raw
                steps.indicator[k],
                steps.lower[j],
                steps.upper[j],
                steps.fill[j],
                steps.mean[k],
                steps.scale[k],
                kept,
            )

    @classmethod
    def compile(cls, model, numeric: list[str], categorical: list[str]) -> LeanModel | None:
        """The lean form of ``model``, or ``None`` when one of its steps is not known here."""
        try:
            return cls(model, numeric, categorical)
        except (_Unknown, AttributeError, KeyError, ValueError):
            return None

    def _features(self, step, names: list[str]) -> list[str]:
        if not isinstance(step, ColumnTransformer) or step.remainder != "drop":
            raise _Unknown
        out = []
        for name, transformer, columns in step.transformers_:
            if name == "history" and isinstance(transformer, PaymentHistoryFeatures):
                self.history = (transformer, [self.numeric.index(c) for c in columns])
                out += list(transformer.get_feature_names_out())
            elif name == "raw" and _is_passthrough(transformer):
                if list(columns) != [*self.numeric, *self.categorical]:
                    raise _Unknown
                out += list(columns)
            elif transformer != "drop":
                raise _Unknown
        return out

    def _preprocess(self, step, names: list[str]) -> None:
        if not isinstance(step, ColumnTransformer) or step.remainder != "drop":
            raise _Unknown
        self.num_columns, self.num_steps = [], None
        self.cat_columns, self.cat_pipe, self.n_cat = [], None, 0
        for name, transformer, columns in step.transformers_:
            if name == "num":
                self.num_columns = [names.index(c) for c in columns]
                steps = [] if _is_passthrough(transformer) else [s for _, s in transformer.steps]
                self.num_steps = _Numeric(steps, len(columns))  # no steps: as read, NaN kept
            elif name == "cat":
                self.cat_columns = list(columns)
                self.cat_pipe = transformer
                self.n_cat = len(transformer.get_feature_names_out())
            elif transformer != "drop":
                raise _Unknown

    def derive(self, numeric: np.ndarray) -> np.ndarray | None:
        """Derived payment-history features of the rows (``None`` without a history)."""
        if self.history is None:
            return None
        transformer, positions = self.history
        return transformer.derive(numeric, positions)

    def transform(
        self, numeric: np.ndarray, categorical: pd.DataFrame, derived: np.ndarray | None
    ) -> np.ndarray:
        """Model columns from the numeric inputs, the categorical ones and derived features.

        Only the columns the feature selection kept are computed.
        """
        n_num = len(self.num_steps) if self.num_steps is not None else 0
        Z = np.empty((len(numeric), len(self.keep)))
        if derived is None:
            derived = np.empty((len(numeric), 0))
        if self.numeric_args is not None:
            _numeric_columns(numeric, derived, *self.numeric_args, Z)
        if len(self.encoded_at):
            encoded = self._encode(categorical[self.cat_columns])
            for out in self.encoded_at:
                Z[:, out] = encoded[:, self.keep[out] - n_num]
        return Z

    def _encode(self, frame: pd.DataFrame) -> np.ndarray:
        """The fitted categorical steps on each distinct combination of levels, spread by row."""
        codes = [pd.factorize(frame[c], use_na_sentinel=False) for c in frame.columns]
        n_combos = math.prod(len(levels) for _, levels in codes)  # exact: Python integers
        if n_combos > 2**62:  # the combination numbers would overflow 64 bits
            return np.asarray(self.cat_pipe.transform(frame), dtype=np.float64)
        combo = np.zeros(len(frame), dtype=np.int64)
        for c, levels in codes:
            combo = combo * len(levels) + c
        distinct, inverse = _distinct(combo, n_combos)
        uniques = {}
        for col, (_, levels) in zip(reversed(frame.columns), reversed(codes), strict=True):
            uniques[col] = np.asarray(levels, dtype=object)[distinct % len(levels)]
            distinct = distinct // len(levels)
        small = pd.DataFrame({c: pd.Series(uniques[c], dtype=object) for c in frame.columns})
        encoded = np.asarray(self.cat_pipe.transform(small), dtype=np.float64)
        return encoded[inverse]

    def predict(self, Z: np.ndarray) -> np.ndarray:
        """Calibrated probability of default (as ``model.predict_proba(frame)[:, 1]``)."""
        raw = self.clf.predict_proba(Z)[:, 1]
        return self.calibrate(raw) if self.calibrate is not None else raw

    def agrees(self, frame: pd.DataFrame, p: np.ndarray) -> bool:
        """Whether the lean probabilities ``p`` of ``frame`` equal the model's own."""
        return bool(np.allclose(self.model.predict_proba(frame)[:, 1], p, rtol=0, atol=1e-9))
