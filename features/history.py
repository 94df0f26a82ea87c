"""Delinquency features derived from a monthly payment history.

The transformer receives the history columns in a fixed order (status months newest to oldest,
then balances, then payments, then the credit limit) and returns only the derived features;
the raw columns pass through beside it (see :func:`features.build.history_step`).
"""

from __future__ import annotations

import numpy as np
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


def dpd_bucket(status: np.ndarray, unit: str = "months") -> np.ndarray:
    """Map repayment status to a days-past-due bucket index 0..4 (current .. 90+).

    ``unit="months"``: months late (Taiwan codes; -2, -1, 0 all mean not late).
    ``unit="days"``: days past due. Missing statuses count as current.
    """
    status = np.nan_to_num(np.asarray(status, dtype=float), nan=0.0)
    days = status * 30 if unit == "months" else status
    return np.digitize(days, [0.5, 30.5, 60.5, 90.5]).astype(np.int64)


def _safe_ratio(num: np.ndarray, den: np.ndarray, default: float) -> np.ndarray:
    out = np.full(np.broadcast(num, den).shape, default, dtype=float)
    np.divide(num, den, out=out, where=den > 0)
    return out


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
    """

    def __init__(
        self,
        n_status: int | None = None,
        n_balance: int = 0,
        n_payment: int = 0,
        has_limit: bool = False,
        status_unit: str = "months",
    ):
        self.n_status = n_status
        self.n_balance = n_balance
        self.n_payment = n_payment
        self.has_limit = has_limit
        self.status_unit = status_unit

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
        self.feature_names_out_ = np.array(names, dtype=object)
        return self

    def transform(self, X):
        """Return the derived features as a float array; never NaN or inf."""
        check_is_fitted(self)
        X = validate_data(self, X, ensure_all_finite="allow-nan", reset=False)
        X = np.asarray(X, dtype=float)
        n = self.n_status_
        status, rest = X[:, :n], X[:, n:]
        balance, rest = rest[:, : self.n_balance], rest[:, self.n_balance :]
        payment, rest = rest[:, : self.n_payment], rest[:, self.n_payment :]
        cols = self._status_features(dpd_bucket(status, self.status_unit))
        if self.n_balance:
            balance = np.nan_to_num(balance, nan=0.0)
            cols += self._balance_features(balance, rest[:, 0] if self.has_limit else None)
        if self.n_payment:
            limit = np.nan_to_num(rest[:, 0], nan=0.0) if self.has_limit else None
            cols += self._payment_features(np.nan_to_num(payment, nan=0.0), balance, limit)
        out = np.column_stack(cols).astype(float)
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)

    def get_feature_names_out(self, input_features=None):
        """Names of the derived features."""
        check_is_fitted(self)
        return self.feature_names_out_.copy()

    @staticmethod
    def _status_features(bucket: np.ndarray) -> list[np.ndarray]:
        n = bucket.shape[1]
        late = bucket >= 1
        months = np.arange(n)
        # Leading run of late months, counted from the newest.
        consecutive = np.where(late.all(axis=1), n, np.argmin(late, axis=1))
        since = np.where(late.any(axis=1), np.argmax(late, axis=1), n + 1)
        # Least-squares slope of the bucket over time; positive means getting worse lately.
        t = -(months - months.mean())
        slope = ((bucket - bucket.mean(axis=1, keepdims=True)) * t).sum(axis=1) / (t**2).sum()
        return [
            bucket[:, 0],
            bucket[:, : min(3, n)].max(axis=1),
            bucket.max(axis=1),
            late.sum(axis=1),
            consecutive,
            since,
            (bucket[:, 0] > bucket[:, 1]).astype(float),
            ((bucket[:, 0] == 0) & (bucket[:, 1] >= 1)).astype(float),
            slope,
        ]

    @staticmethod
    def _balance_features(balance: np.ndarray, limit: np.ndarray | None) -> list[np.ndarray]:
        scale = np.maximum(np.abs(balance).mean(axis=1), 1.0)
        cols = [(balance[:, 0] - balance[:, -1]) / scale]
        if limit is not None:
            limit = np.nan_to_num(limit, nan=0.0)
            util = np.clip(_safe_ratio(balance, limit[:, None], 0.0), -1.0, 3.0)
            cols += [util[:, 0], util.mean(axis=1), util.max(axis=1), util[:, 0] - util[:, -1]]
        return cols

    @staticmethod
    def _payment_features(
        payment: np.ndarray, balance: np.ndarray, limit: np.ndarray | None
    ) -> list[np.ndarray]:
        # Payment i settles statement i+1 (the previous month's); nothing owed counts as paid.
        paid, owed = payment[:, :-1], balance[:, 1:]
        ratio = np.clip(_safe_ratio(paid, owed, 1.0), 0.0, 2.0)
        repaid = np.clip(_safe_ratio(paid.sum(axis=1), np.maximum(owed, 0).sum(axis=1), 1.0), 0, 3)
        skipped = ((paid <= 0) & (owed > 0)).sum(axis=1)  # owed something, paid nothing
        usual = payment[:, 1:].mean(axis=1)
        change = np.log1p(np.maximum(payment[:, 0], 0)) - np.log1p(np.maximum(usual, 0))
        cols = [
            ratio[:, 0],
            ratio.mean(axis=1),
            ratio.min(axis=1),
            ratio.max(axis=1),
            repaid,
            skipped,
            change,
        ]
        if limit is not None:
            cols.append(np.clip(_safe_ratio(payment[:, 0], limit, 0.0), 0.0, 2.0))
        return cols
