"""SHAP explanations of a fitted champion, in the words of the input data.

The model sees engineered columns (derived history features, missing indicators, one-hot
levels, after selection). Analysts know the input columns, so contributions are summed back:
a raw column collects its own value, its missing indicator and its one-hot levels; derived
history features collect into a few history groups (repayment status, utilisation, payments,
balance trend). SHAP values are additive, so the sums are the SHAP values of those inputs.

Per family:

- **xgboost**: exact path-dependent TreeSHAP by table lookup (:mod:`delinq.models.treeshap`), in
  log-odds; XGBoost's own TreeSHAP when the trees are too deep for tables.
- **random_forest**: ``shap.TreeExplainer`` (path-dependent, exact), in probability units.
- **logreg**: exact linear SHAP around the training mean, in log-odds.
- **svm**: ``shap.PermutationExplainer`` (antithetic permutations) over k-means centroids of
  the training rows, in log-odds (the SVM's decision function). Approximate: exact only for models
  without interactions of order three or more.

Backgrounds are k-means centroids and means, aggregates of many rows; no person's record is
stored with a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from delinq.features.history import (
    BALANCE_FEATURES,
    BUCKETS,
    DETAIL_FAMILIES,
    LIMIT_FEATURES,
    PAYMENT_FEATURES,
    PAYMENT_LIMIT_FEATURES,
    STATUS_FEATURES,
    derive_history,
)
from delinq.models.fitted import fitted_pipeline, model_space
from delinq.pipeline.config import HistoryConfig

if TYPE_CHECKING:  # the contract's type, for annotations: explaining never reads files
    from delinq.pipeline.registry.reference import ScoringReference

# Derived history feature -> the group a collector recognises.
HISTORY_GROUPS = (
    {f: "status_history" for f in STATUS_FEATURES}
    | {f: "balance_trend" for f in BALANCE_FEATURES}
    | {f: "utilisation" for f in LIMIT_FEATURES}
    | {f: "payment_history" for f in (*PAYMENT_FEATURES, *PAYMENT_LIMIT_FEATURES)}
)
_DETAIL_GROUPS = {
    "status": "status_history",
    "balance": "balance_trend",
    "limit": "utilisation",
    "payment": "payment_history",
}
GROUP_LABELS = {
    "status_history": "repayment status history",
    "balance_trend": "balance trend",
    "utilisation": "credit utilisation (balance / limit)",
    "payment_history": "payments against bills",
}
# The derived feature that stands for a group in plots coloured by value.
GROUP_DISPLAY = {
    "status_history": "months_delinquent",
    "balance_trend": "balance_trend",
    "utilisation": "util_latest",
    "payment_history": "pay_ratio_latest",
}
UNITS = {
    "xgboost": "log-odds",
    "logreg": "log-odds",
    "random_forest": "probability",
    "svm": "log-odds",  # ApproxKernelSVC.decision_function is the log-odds of its probability
}
_FAMILIES = {
    "XGBClassifier": "xgboost",
    "EarlyStoppingXGBClassifier": "xgboost",
    "LogisticRegression": "logreg",
    "RandomForestClassifier": "random_forest",
    "ArrayForest": "random_forest",
    "ApproxKernelSVC": "svm",
}
_TAIWAN_STATUS = {-2: "no balance to pay", -1: "paid in full", 0: "revolving, paid on time"}


def default_labels(history: HistoryConfig | None) -> dict[str, str]:
    """Readable labels for the history columns and groups, from the history layout alone."""
    labels = dict(GROUP_LABELS)
    if history is None:
        return labels

    def when(i: int) -> str:
        return "latest month" if i == 0 else f"{i} month{'s' * (i > 1)} before latest"

    for kind, cols in (
        ("repayment status", history.status),
        ("bill amount", history.balance),
        ("payment amount", history.payment),
    ):
        labels |= {col: f"{kind}, {when(i)}" for i, col in enumerate(cols)}
    if history.limit:
        labels[history.limit] = "credit limit"
    return labels


def input_of(model_column: str, categorical: list[str]) -> str:
    """The input a person knows behind one model column."""
    if model_column in HISTORY_GROUPS:
        return HISTORY_GROUPS[model_column]
    for family, name in DETAIL_FAMILIES.items():
        if name.fullmatch(model_column):
            return _DETAIL_GROUPS[family]
    if model_column.startswith("missingindicator_"):
        return model_column.removeprefix("missingindicator_")
    owners = [c for c in categorical if model_column.startswith(f"{c}_")]
    return max(owners, key=len) if owners else model_column


class ExplainError(ValueError):
    """A model that cannot be explained as given (unknown family, no background)."""


@dataclass
class Explanation:
    """SHAP values of some rows, summed per input (column or history group)."""

    values: np.ndarray  # (rows, inputs)
    base_value: float
    inputs: list[str]
    labels: list[str]
    units: str
    display: pd.DataFrame  # a numeric value per input for colouring plots (NaN: none)
    text: pd.DataFrame  # each input's value in words, for waterfalls

    def importance(self) -> pd.DataFrame:
        """Mean |SHAP| per input, largest first."""
        mean_abs = np.abs(self.values).mean(axis=0)
        return (
            pd.DataFrame({"input": self.inputs, "label": self.labels, "mean_abs_shap": mean_abs})
            .sort_values("mean_abs_shap", ascending=False, kind="stable")
            .reset_index(drop=True)
        )


class ModelExplainer:
    """Predictions and SHAP contributions of a fitted champion, per input.

    Parameters
    ----------
    model : fitted champion
        An ``OOFCalibratedClassifier`` around the training pipeline, or the pipeline itself.
    reference : ScoringReference
        The scoring reference saved with the model (history layout, id, explain background).
    labels : dict
        Extra readable labels per input, over the built-in ones.
    data : DataFrame, optional
        Rows to build a background from when the reference has none (older models).
    """

    def __init__(
        self,
        model,
        reference: ScoringReference,
        labels: dict[str, str] | None = None,
        data: pd.DataFrame | None = None,
        seed: int = 0,
    ):
        self.model = model
        self.prep, self.clf = model_space(model), fitted_pipeline(model).steps[-1][1]
        self.family = _FAMILIES.get(type(self.clf).__name__)
        if self.family is None:
            raise ExplainError(f"cannot explain a {type(self.clf).__name__}")
        self.history = reference.history
        categorical = reference.categorical
        self.categorical = categorical
        self.model_columns = [str(c) for c in self.prep.get_feature_names_out()]
        sources = [input_of(c, categorical) for c in self.model_columns]
        self.inputs = list(dict.fromkeys(sources))
        self.column_of = np.array([self.inputs.index(s) for s in sources])
        self.label_map = default_labels(self.history) | (labels or {})
        self.labels = [self.label_map.get(i, i) for i in self.inputs]
        # Reasons are what a person may contest: never a protected attribute, even one
        # the model was allowed to use.
        self.never_reasons = np.isin(self.inputs, reference.protected)
        self.units = UNITS[self.family]
        background = reference.explain.model_dump() if reference.explain else None
        if background is None and data is not None:
            background = background_stats(model, data, seed=seed)
        self._backend = self._make_backend(background, seed)

    # -- model space ---------------------------------------------------------------------

    def transform(self, frame: pd.DataFrame) -> np.ndarray:
        """The model columns of raw input rows."""
        return np.asarray(self.prep.transform(frame), dtype=float)

    def predict(self, Z: np.ndarray) -> np.ndarray:
        """Calibrated probability of default from model columns (as ``model.predict_proba``)."""
        raw = self.clf.predict_proba(Z)[:, 1]
        calibrate = getattr(self.model, "calibrate", None)
        return calibrate(raw) if calibrate is not None else raw

    def _make_backend(self, background: dict | None, seed: int):
        if self.family == "xgboost":
            from delinq.models.treeshap import TreeShap, UnsupportedModel

            booster = self.clf.get_booster()
            try:
                fast = TreeShap(booster)
            except UnsupportedModel:
                return _XGBoostOwn(booster)
            return _TableTreeShap(fast)
        if background is None and self.family in ("logreg", "svm"):
            raise ExplainError(
                f"this {self.family} model was saved without an explanation background "
                "(trained before explanations existed); retrain it, or pass data to build one"
            )
        if self.family == "logreg":
            return _Linear(self.clf, np.asarray(background["mean"]))
        if self.family == "random_forest":
            return _ShapTree(self.clf)
        return _Permutation(self.clf, np.asarray(background["centroids"]), seed)

    def contributions(self, Z: np.ndarray) -> np.ndarray:
        """SHAP values per input (rows, inputs) of model-column rows ``Z``."""
        return self._backend.values(Z, self.column_of, len(self.inputs))

    @property
    def method(self) -> str:
        """How the values are computed (for manifests and reports)."""
        return self._backend.method

    @property
    def base_value(self) -> float:
        """The expected model output the contributions start from."""
        return float(self._backend.base_value)

    # -- inputs --------------------------------------------------------------------------

    def explain(self, frame: pd.DataFrame) -> Explanation:
        """SHAP values of raw rows, per input, with display values for plots."""
        values = self.contributions(self.transform(frame))
        derived = self._derived(frame)
        text = pd.DataFrame(
            {key: self.describe(key, frame, derived) for key in self.inputs}, index=frame.index
        )
        return Explanation(
            values,
            self.base_value,
            self.inputs,
            self.labels,
            self.units,
            self.display(frame, derived),
            text,
        )

    def display(self, frame: pd.DataFrame, derived: pd.DataFrame | None = None) -> pd.DataFrame:
        """One number per input and row for colouring plots (NaN for categories)."""
        derived = self._derived(frame) if derived is None else derived
        out = {}
        for key in self.inputs:
            if key in GROUP_DISPLAY and derived is not None:
                out[key] = derived[GROUP_DISPLAY[key]].to_numpy()
            elif key in frame and key not in self.categorical:
                out[key] = pd.to_numeric(frame[key], errors="coerce").to_numpy(dtype=float)
            else:
                out[key] = np.full(len(frame), np.nan)
        return pd.DataFrame(out, index=frame.index)

    def _derived(self, frame: pd.DataFrame) -> pd.DataFrame | None:
        if self.history is None:
            return None
        return derive_history(frame, self.history)

    def describe(self, key: str, frame: pd.DataFrame, derived: pd.DataFrame | None) -> list[str]:
        """Readable value of input ``key`` for every row of ``frame``."""
        if key in GROUP_DISPLAY:
            return _describe_group(key, derived, len(self.history.status))
        values = frame[key]
        if self.history is not None and key in self.history.status:
            return [_describe_status(v, self.history.status_unit) for v in values]
        if key in self.categorical:
            return ["missing" if pd.isna(v) else str(v) for v in values]
        return _describe_numbers(values)

    def reasons_for_change(self, before: pd.DataFrame, after: pd.DataFrame, k: int) -> pd.DataFrame:
        """Why each account's risk rose between two nights: the ``k`` inputs whose SHAP
        contribution rose most, in words, e.g. "repayment status, latest month: not late →
        2 months late (+0.81 log-odds)". Rows of ``before`` and ``after`` are the same
        accounts in the same order; only rises are given, never a protected attribute."""
        old, new = self.explain(before), self.explain(after)
        change = np.where(self.never_reasons, -np.inf, new.values - old.values)
        k = min(k, change.shape[1])
        order = np.argsort(-change, axis=1, kind="stable")[:, :k]
        out = {}
        for j in range(k):
            texts = []
            for row, u in enumerate(order[:, j]):
                rise = change[row, u]
                if not rise > 0:
                    texts.append(None)
                    continue
                was, now = old.text.iat[row, u], new.text.iat[row, u]
                texts.append(f"{self.labels[u]}: {was} → {now} ({rise:+.2f} {self.units})")
            out[f"why_{j + 1}"] = pd.Series(texts, dtype=object)
        return pd.DataFrame(out)

    def reason_codes(
        self,
        values: np.ndarray,
        frame: pd.DataFrame,
        k: int,
        derived: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """The ``k`` inputs that push each row's risk up most: code and readable text.

        Rows with fewer than ``k`` risk-raising inputs get nulls in the remaining slots.
        ``derived`` are the rows' history features, if the caller already has them.
        """
        k = min(k, values.shape[1])
        if self.never_reasons.any():
            values = np.where(self.never_reasons, -np.inf, values)
        order = _top(values, k)
        raising = np.take_along_axis(values, order, axis=1) > 0
        if derived is None and set(GROUP_DISPLAY) & set(self.inputs):
            derived = self._derived(frame)
        codes = np.array([key.upper() for key in self.inputs], dtype=object)
        chosen = np.where(raising, order, -1)
        code = np.full(chosen.shape, None, dtype=object)
        text = np.full(chosen.shape, None, dtype=object)
        # Input by input, whichever slot it holds in each row: its words are made once for
        # all its rows. An input holds at most one slot of a row, so ``row`` has no repeats
        # (and comes sorted).
        for u in np.unique(chosen[chosen >= 0]):
            row, slot = np.nonzero(chosen == u)
            code[row, slot] = codes[u]
            text[row, slot] = self._texts(u, frame, derived, row)
        out = {}
        for j in range(k):
            out[f"reason_{j + 1}_code"] = pd.Series(code[:, j], dtype=object)
            out[f"reason_{j + 1}"] = pd.Series(text[:, j], dtype=object)
        return pd.DataFrame(out)

    def _texts(
        self, u: int, frame: pd.DataFrame, derived: pd.DataFrame | None, rows: np.ndarray
    ) -> np.ndarray:
        """ "label: value" of input ``u`` for ``rows``, each distinct value described once.

        Only the columns the words come from are taken (never the whole frame), and repeated
        values (months late, levels, round amounts) are formatted once, not once a row.
        """
        key = self.inputs[u]
        if key in GROUP_DISPLAY:
            source = derived[list(_GROUP_COLUMNS[key])].iloc[rows]
            first, inverse = _distinct_rows(source)
            distinct = source.iloc[first]
            words = self.describe(key, distinct, distinct)
        else:  # one column: its distinct values straight from the array
            inverse, levels = pd.factorize(frame[key].to_numpy()[rows], use_na_sentinel=False)
            words = self.describe(key, pd.DataFrame({key: levels}), None)
        texts = np.array([f"{self.labels[u]}: {v}" for v in words], dtype=object)
        return texts[inverse]


# The derived columns each history group's words are made of (:func:`_describe_group`).
_GROUP_COLUMNS = {
    "status_history": ("months_delinquent", "worst_bucket_all"),
    "utilisation": ("util_latest", "util_max"),
    "payment_history": ("pay_ratio_latest", "months_no_payment"),
    "balance_trend": ("balance_trend",),
}


def _top(values: np.ndarray, k: int) -> np.ndarray:
    """Each row's ``k`` largest columns, largest first, ties to the earlier column: the first
    ``k`` of a stable descending sort, by ``k`` passes of argmax instead of a whole sort.
    Once a row's positive values are used up, the slots left are not reasons whatever they
    hold (only positive values are); a missing value is never one."""
    left = np.where(np.isnan(values), -np.inf, values)
    out = np.empty((len(values), k), dtype=np.int64)
    rows = np.arange(len(values))
    for j in range(k):
        out[:, j] = left.argmax(axis=1)
        left[rows, out[:, j]] = -np.inf
    return out


def _distinct_rows(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the first row of each distinct row of ``table`` (missing values equal),
    and each row's index into them."""
    code = np.zeros(len(table), dtype=np.int64)
    for column in table.columns:
        found, levels = pd.factorize(table[column], use_na_sentinel=False)
        code = code * max(len(levels), 1) + found
    _, first, inverse = np.unique(code, return_index=True, return_inverse=True)
    return first, inverse.reshape(-1)


def _describe_status(value, unit: str) -> str:
    if pd.isna(value):
        return "missing"
    v = int(value)
    if unit == "days":
        return "current" if v <= 0 else f"{v} days past due"
    if v <= 0:
        return _TAIWAN_STATUS.get(v, "not late")
    return f"{v} month{'s' * (v > 1)} late"


def _describe_numbers(values) -> list[str]:
    """Amounts and counts as whole numbers with thousands separators, small fractions to
    three significant digits, "missing" for a missing value."""
    v = pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    out = np.full(len(v), "missing", dtype=object)
    known = ~np.isnan(v)
    whole = known & ((np.abs(v) >= 100) | (v == np.trunc(v)))
    out[whole] = [f"{x:,.0f}" for x in v[whole].tolist()]
    out[known & ~whole] = [f"{x:.3g}" for x in v[known & ~whole].tolist()]
    return out.tolist()


def _describe_group(key: str, derived: pd.DataFrame, n_months: int) -> list[str]:
    d = derived
    if key == "status_history":
        return [
            f"late in {late:.0f} of {n_months} months, worst {BUCKETS[int(worst)]}"
            + (" days past due" if worst > 0 else "")
            for late, worst in zip(d["months_delinquent"], d["worst_bucket_all"], strict=True)
        ]
    if key == "utilisation":
        return [
            f"{latest:.0%} of the limit now, at most {top:.0%}"
            for latest, top in zip(d["util_latest"], d["util_max"], strict=True)
        ]
    if key == "payment_history":
        return [
            f"last payment covered {ratio:.0%} of the bill; unpaid in {skip:.0f} of {n_months - 1}"
            for ratio, skip in zip(d["pay_ratio_latest"], d["months_no_payment"], strict=True)
        ]
    return [f"{t:+.0%} of the average balance over the history" for t in d["balance_trend"]]


def background_stats(model, X: pd.DataFrame, n_centroids: int = 20, seed: int = 0) -> dict:
    """Aggregates of the training rows in model space: the linear and SVM backgrounds.

    Only a mean and k-means centroids (each an average of many rows) are kept.
    """
    from sklearn.cluster import KMeans

    sample = X.sample(min(len(X), 5_000), random_state=seed) if len(X) > 5_000 else X
    Z = np.asarray(model_space(model).transform(sample), dtype=float)
    # Tree families keep missing values in their model space (they read them natively);
    # k-means does not, so a gap counts as its column's mean here.
    means = np.nan_to_num(np.nanmean(Z, axis=0)) if np.isnan(Z).any() else Z.mean(axis=0)
    Z = np.where(np.isnan(Z), means, Z)
    k = min(n_centroids, len(Z))
    centroids = KMeans(k, n_init=3, random_state=seed).fit(Z).cluster_centers_
    return {"mean": means.tolist(), "centroids": centroids.tolist()}


def _sum_columns(values: np.ndarray, column_of: np.ndarray, n_out: int) -> np.ndarray:
    out = np.zeros((values.shape[0], n_out))
    for c in range(values.shape[1]):
        out[:, column_of[c]] += values[:, c]
    return out


class _TableTreeShap:
    method = "exact path-dependent TreeSHAP (lookup tables)"

    def __init__(self, fast):
        self.fast, self.base_value = fast, fast.expected_value

    def values(self, Z, column_of, n_out):
        return self.fast.shap_values(Z, column_of, n_out)


class _XGBoostOwn:
    method = "exact path-dependent TreeSHAP (XGBoost)"

    def __init__(self, booster):
        import xgboost

        self.booster, self._dmatrix = booster, xgboost.DMatrix
        probe = booster.predict(
            self._dmatrix(np.zeros((1, booster.num_features()))), pred_contribs=True
        )
        self.base_value = float(probe[0, -1])

    def values(self, Z, column_of, n_out):
        phi = self.booster.predict(self._dmatrix(Z), pred_contribs=True)[:, :-1]
        return _sum_columns(phi, column_of, n_out)


class _Linear:
    method = "exact linear SHAP (independent inputs, training mean)"

    def __init__(self, clf, mean: np.ndarray):
        self.coef, self.mean = clf.coef_[0], mean
        self.base_value = float(clf.intercept_[0] + self.coef @ mean)

    def values(self, Z, column_of, n_out):
        return _sum_columns((Z - self.mean) * self.coef, column_of, n_out)


class _ShapTree:
    method = "exact path-dependent TreeSHAP (shap.TreeExplainer)"

    def __init__(self, clf):
        import shap

        self.explainer = shap.TreeExplainer(clf)
        self.base_value = float(np.ravel(self.explainer.expected_value)[-1])

    def values(self, Z, column_of, n_out):
        phi = self.explainer.shap_values(Z, check_additivity=False)
        phi = phi[..., 1] if phi.ndim == 3 else phi
        return _sum_columns(phi, column_of, n_out)


class _Permutation:
    method = "approximate: 2 antithetic permutations over k-means centroids"

    def __init__(self, clf, centroids: np.ndarray, seed: int):
        import shap

        masker = shap.maskers.Independent(centroids, max_samples=len(centroids))
        self.explainer = shap.PermutationExplainer(clf.decision_function, masker, seed=seed)
        self.base_value = float(np.mean(clf.decision_function(centroids)))
        self.n_features = centroids.shape[1]

    def values(self, Z, column_of, n_out):
        # Two antithetic permutations per row: a fixed, seeded cost of 4p + 2 evaluations.
        result = self.explainer(Z, max_evals=4 * self.n_features + 2, silent=True)
        return _sum_columns(result.values, column_of, n_out)
