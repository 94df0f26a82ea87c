"""Delinquency features derived from a monthly payment history.

The transformer receives the history columns in a fixed order (status months newest to oldest,
then balances, then payments, then the credit limit) and returns only the derived features;
the raw columns pass through beside it (see :func:`delinq.pipeline.train.estimator.history_step`).
A history layout is anything with the fields of ``delinq.pipeline.config.HistoryConfig``
(:class:`HistoryLayout`); :func:`derive_history` applies the features to a raw table by name.
"""

from __future__ import annotations

import re
from typing import Protocol

import numba
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
STATUS_FEATURES = (
    "dpd_bucket",
    "worst_bucket_3m",
    "worst_bucket_all",
    "months_delinquent",
    "consecutive_delinquent",
    "months_since_delinquent",
    "roll_forward",
    "cure",
    "status_trend",
)
# Features more months late can only make riskier: the trees' default monotone constraints
# (models.monotone_history), so no loan's risk falls as it falls further behind.
RISK_RISES_WITH = (
    "dpd_bucket",
    "worst_bucket_3m",
    "worst_bucket_all",
    "months_delinquent",
    "consecutive_delinquent",
    "status_mean",
    "status_max",
)
BALANCE_FEATURES = ("balance_trend",)
LIMIT_FEATURES = ("util_latest", "util_mean", "util_max", "util_trend")
PAYMENT_FEATURES = (
    "pay_ratio_latest",
    "pay_ratio_mean",
    "pay_ratio_min",
    "pay_ratio_max",
    "repaid_share",
    "months_no_payment",
    "pay_change",
)
PAYMENT_LIMIT_FEATURES = ("pay_to_limit",)
# Month-by-month detail (``detail=True``): raw levels and spreads, and one value per month that
# the summaries above average away. Worth +0.002 CV AUC on Taiwan (docs/benchmarks.md).
STATUS_DETAIL = ("status_mean", "status_max")
BALANCE_DETAIL = ("balance_mean", "balance_std")
PAYMENT_DETAIL = ("payment_mean", "payment_std")


# Which summary family each detail feature refines, by name (the count follows the history).
DETAIL_FAMILIES = {
    "status": re.compile(r"status_(mean|max)"),
    "balance": re.compile(r"balance_(mean|std|change_\d+)"),
    "limit": re.compile(r"headroom_\d+"),
    "payment": re.compile(r"payment_(mean|std)|pay_ratio_\d+"),
}


def detail_names(n_balance: int, n_payment: int, has_limit: bool) -> list[str]:
    """Names of the month-by-month detail features for a history layout (month 0 = newest)."""
    names = list(STATUS_DETAIL)
    if n_balance:
        names += BALANCE_DETAIL
        names += [f"balance_change_{i}" for i in range(n_balance - 1)]  # balance i - balance i+1
        if has_limit:
            names += [f"headroom_{i}" for i in range(n_balance)]  # limit - balance i
    if n_payment:
        names += PAYMENT_DETAIL
        # paid i / statement i+1; month 0 is pay_ratio_latest already
        names += [f"pay_ratio_{i}" for i in range(1, n_payment - 1)]
    return names


def dpd_bucket(status: np.ndarray, unit: str = "months") -> np.ndarray:
    """Map repayment status to a days-past-due bucket index 0..4 (current .. 90+).

    ``unit="months"``: months late (Taiwan codes; -2, -1, 0 all mean not late).
    ``unit="days"``: days past due. Missing statuses count as current.
    """
    status = np.nan_to_num(np.asarray(status, dtype=float), nan=0.0)
    days = status * 30 if unit == "months" else status
    return np.digitize(days, [0.5, 30.5, 60.5, 90.5]).astype(np.int64)


class PaymentHistoryFeatures(TransformerMixin, BaseEstimator):
    """Days-past-due buckets, roll and cure flags, utilisation, payment ratios and trends.

    Parameters
    ----------
    n_status : int or None
        Number of repayment-status columns (newest first). ``None`` treats every column as
        status, which is what the sklearn estimator checks exercise.
    n_balance, n_payment : int
        Number of statement-balance and payment-amount columns that follow (0 or ``n_status``).
    has_limit : bool
        Whether the last column is the credit limit.
    status_unit : {"months", "days"}
        How the status columns count lateness.
    detail : bool
        Add the month-by-month detail features (:func:`detail_names`) after the summaries.
    """

    def __init__(
        self,
        n_status: int | None = None,
        n_balance: int = 0,
        n_payment: int = 0,
        has_limit: bool = False,
        status_unit: str = "months",
        detail: bool = True,
    ):
        self.n_status = n_status
        self.n_balance = n_balance
        self.n_payment = n_payment
        self.has_limit = has_limit
        self.status_unit = status_unit
        self.detail = detail

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # missing months / values are handled, not refused
        return tags

    def fit(self, X, y=None):
        """Check the layout of the history columns; nothing is learned from the data."""
        X = validate_data(self, X, ensure_all_finite="allow-nan", ensure_min_features=2)
        n_status = X.shape[1] if self.n_status is None else self.n_status
        expected = n_status + self.n_balance + self.n_payment + int(self.has_limit)
        if n_status < 2:
            raise ValueError(f"a history needs at least 2 status months, got {n_status}")
        if X.shape[1] != expected:
            raise ValueError(f"expected {expected} history columns, got {X.shape[1]}")
        for name in ("n_balance", "n_payment"):
            if getattr(self, name) not in (0, n_status):
                raise ValueError(f"{name} must be 0 or equal to the number of status months")
        if self.status_unit not in ("months", "days"):
            raise ValueError(f"status_unit must be 'months' or 'days', got {self.status_unit!r}")
        if self.n_payment and not self.n_balance:
            raise ValueError("payment features need balance columns (paid / previous statement)")
        self.n_status_ = n_status
        names = list(STATUS_FEATURES)
        if self.n_balance:
            names += BALANCE_FEATURES
            if self.has_limit:
                names += LIMIT_FEATURES
        if self.n_payment:
            names += PAYMENT_FEATURES
            if self.has_limit:
                names += PAYMENT_LIMIT_FEATURES
        if self.detail:
            names += detail_names(self.n_balance, self.n_payment, self.has_limit)
        self.feature_names_out_ = np.array(names, dtype=object)
        return self

    def transform(self, X):
        """Return the derived features as a float array; never NaN or inf."""
        check_is_fitted(self)
        X = validate_data(self, X, ensure_all_finite="allow-nan", reset=False)
        return self.derive(np.asarray(X, dtype=np.float64))

    def derive(self, X: np.ndarray, columns: np.ndarray | None = None) -> np.ndarray:
        """:meth:`transform` of float array ``X[:, columns]``, without input checks.

        The scorer's hot path: it has validated the rows itself, and passing ``columns``
        saves copying them out of a wider array.
        """
        columns = np.arange(X.shape[1]) if columns is None else np.asarray(columns)
        return _derive(
            X,
            columns.astype(np.int64),
            self.n_status_,
            self.n_balance,
            self.n_payment,
            self.has_limit,
            self.status_unit == "days",
            bool(self.detail),
            len(self.feature_names_out_),
        )

    def get_feature_names_out(self, input_features=None):
        """Names of the derived features."""
        check_is_fitted(self)
        return self.feature_names_out_.copy()


# One pass per row (numba): the features are short loops over a handful of months, which
# NumPy would otherwise run as dozens of whole-array passes. Scoring derives them for every
# account every night, so this is on the hot path.
@numba.njit(cache=True, nogil=True)
def _derive(X, columns, n, n_balance, n_payment, has_limit, days, detail, n_out):
    rows = X.shape[0]
    out = np.zeros((rows, n_out))
    bucket = np.zeros(n, dtype=np.int64)
    util = np.zeros(max(n_balance, 1))
    t_mean = (n - 1) / 2.0
    t_square = 0.0
    for i in range(n):
        t_square += (i - t_mean) ** 2
    limit_col = n + n_balance + n_payment
    for r in range(rows):
        # --- repayment status: DPD buckets (missing counts as current)
        for i in range(n):
            s = X[r, columns[i]]
            s = 0.0 if np.isnan(s) else s
            d = s if days else s * 30.0
            bucket[i] = (d >= 0.5) + (d >= 30.5) + (d >= 60.5) + (d >= 90.5)
        worst3 = worst = late = 0
        consecutive = n
        since = n + 1
        mean_bucket = 0.0
        for i in range(n):
            b = bucket[i]
            worst = max(worst, b)
            if i < 3:
                worst3 = max(worst3, b)
            if b >= 1:
                late += 1
                since = min(since, i)
            elif consecutive == n:
                consecutive = i  # leading run of late months, counted from the newest
            mean_bucket += b
        mean_bucket /= n
        slope = 0.0  # least-squares slope over time; positive means getting worse lately
        for i in range(n):
            slope += (bucket[i] - mean_bucket) * -(i - t_mean)
        out[r, 0] = bucket[0]
        out[r, 1] = worst3
        out[r, 2] = worst
        out[r, 3] = late
        out[r, 4] = consecutive
        out[r, 5] = since
        out[r, 6] = bucket[0] > bucket[1]  # roll forward
        out[r, 7] = bucket[0] == 0 and bucket[1] >= 1  # cure
        out[r, 8] = slope / t_square
        k = 9
        limit = 0.0
        if has_limit:
            limit = X[r, columns[limit_col]]
            limit = 0.0 if np.isnan(limit) else limit
        # --- balances: trend and utilisation (balance / limit)
        if n_balance:
            scale = 0.0
            for i in range(n_balance):
                scale += abs(_zero_nan(X[r, columns[n + i]]))
            scale = max(scale / n_balance, 1.0)
            out[r, k] = (
                _zero_nan(X[r, columns[n]]) - _zero_nan(X[r, columns[n + n_balance - 1]])
            ) / scale
            k += 1
            if has_limit:
                total, top = 0.0, -np.inf
                for i in range(n_balance):
                    u = _ratio(_zero_nan(X[r, columns[n + i]]), limit, 0.0)
                    util[i] = min(max(u, -1.0), 3.0)
                    total += util[i]
                    top = max(top, util[i])
                out[r, k] = util[0]
                out[r, k + 1] = total / n_balance
                out[r, k + 2] = top
                out[r, k + 3] = util[0] - util[n_balance - 1]
                k += 4
        # --- payments: payment i settles statement i+1 (the previous month's)
        if n_payment:
            first = n + n_balance
            r_sum, r_min, r_max, latest = 0.0, np.inf, -np.inf, 1.0
            paid_sum = owed_sum = usual = 0.0
            skipped = 0
            for i in range(n_payment - 1):
                paid = _zero_nan(X[r, columns[first + i]])
                owed = _zero_nan(X[r, columns[n + i + 1]])
                ratio = min(max(_ratio(paid, owed, 1.0), 0.0), 2.0)
                if i == 0:
                    latest = ratio
                r_sum += ratio
                r_min, r_max = min(r_min, ratio), max(r_max, ratio)
                paid_sum += paid
                owed_sum += max(owed, 0.0)
                skipped += paid <= 0 and owed > 0  # owed something, paid nothing
                usual += _zero_nan(X[r, columns[first + i + 1]])
            usual /= n_payment - 1
            now = _zero_nan(X[r, columns[first]])
            change = np.log1p(max(now, 0.0)) - np.log1p(max(usual, 0.0))
            repaid = min(max(_ratio(paid_sum, owed_sum, 1.0), 0.0), 3.0)
            out[r, k] = latest
            out[r, k + 1] = r_sum / (n_payment - 1)
            out[r, k + 2] = r_min
            out[r, k + 3] = r_max
            out[r, k + 4] = repaid
            out[r, k + 5] = skipped
            out[r, k + 6] = change
            k += 7
            if has_limit:
                out[r, k] = min(max(_ratio(now, limit, 0.0), 0.0), 2.0)
                k += 1
        if detail:
            _detail(X, columns, r, n, n_balance, n_payment, has_limit, limit, out, k)
        for j in range(n_out):
            if not np.isfinite(out[r, j]):
                out[r, j] = 0.0
    return out


@numba.njit(inline="always")
def _mean_std(X, columns, r, first, count):
    total = square = 0.0
    for i in range(count):
        v = _zero_nan(X[r, columns[first + i]])
        total += v
        square += v * v
    mean = total / count
    return mean, np.sqrt(max(square / count - mean * mean, 0.0))


@numba.njit(inline="always")
def _detail(X, columns, r, n, n_balance, n_payment, has_limit, limit, out, k):
    # Written in the order of detail_names(); missing values count as 0, like the summaries.
    mean, top = 0.0, -np.inf
    for i in range(n):
        s = _zero_nan(X[r, columns[i]])
        mean += s
        top = max(top, s)
    out[r, k] = mean / n
    out[r, k + 1] = top
    k += 2
    if n_balance:
        out[r, k], out[r, k + 1] = _mean_std(X, columns, r, n, n_balance)
        k += 2
        for i in range(n_balance - 1):
            out[r, k] = _zero_nan(X[r, columns[n + i]]) - _zero_nan(X[r, columns[n + i + 1]])
            k += 1
        if has_limit:
            for i in range(n_balance):
                out[r, k] = limit - _zero_nan(X[r, columns[n + i]])
                k += 1
    if n_payment:
        first = n + n_balance
        out[r, k], out[r, k + 1] = _mean_std(X, columns, r, first, n_payment)
        k += 2
        for i in range(1, n_payment - 1):
            paid = _zero_nan(X[r, columns[first + i]])
            owed = _zero_nan(X[r, columns[n + i + 1]])
            out[r, k] = min(max(_ratio(paid, owed, 1.0), 0.0), 2.0)
            k += 1


@numba.njit(inline="always")
def _zero_nan(v):
    return 0.0 if np.isnan(v) else v


@numba.njit(inline="always")
def _ratio(num, den, default):
    return num / den if den > 0 else default


class HistoryLayout(Protocol):
    """Where a table keeps its monthly history (``HistoryConfig`` is one)."""

    status: list[str]
    status_unit: str
    balance: list[str]
    payment: list[str]
    limit: str | None
    detail: bool

    def columns(self) -> list[str]: ...


def history_transformer(history: HistoryLayout) -> PaymentHistoryFeatures:
    """The (unfitted) history-feature transformer for a layout."""
    return PaymentHistoryFeatures(
        n_status=len(history.status),
        n_balance=len(history.balance),
        n_payment=len(history.payment),
        has_limit=history.limit is not None,
        status_unit=history.status_unit,
        detail=history.detail,
    )


def history_feature_names(history: HistoryLayout) -> list[str]:
    """Names of the derived history features (they depend on the layout, not on data)."""
    layout = np.zeros((2, len(history.columns())))
    return list(history_transformer(history).fit(layout).get_feature_names_out())


def derive_history(frame: pd.DataFrame, history: HistoryLayout) -> pd.DataFrame:
    """The derived payment-history features of every row of a raw loan table, by name."""
    derive = history_transformer(history)
    values = derive.fit_transform(frame[history.columns()].to_numpy(dtype=float))
    return pd.DataFrame(values, columns=derive.get_feature_names_out(), index=frame.index)
