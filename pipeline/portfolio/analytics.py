"""Portfolio analytics over a monthly payment history: aging, roll rates, bad rates.

Pure functions over DataFrames; the history columns come from the config (newest first).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from delinq.features.history import BUCKETS, dpd_bucket
from delinq.pipeline.config import HistoryConfig


def _month_labels(n: int) -> list[str]:
    return ["M0 (latest)"] + [f"M-{i}" for i in range(1, n)]


def buckets_by_month(frame: pd.DataFrame, history: HistoryConfig) -> pd.DataFrame:
    """DPD bucket index (0 current .. 4 90+) of every account in every month, newest first."""
    status = frame[history.status].to_numpy(dtype=float)
    return pd.DataFrame(
        dpd_bucket(status, history.status_unit),
        columns=_month_labels(len(history.status)),
        index=frame.index,
    )


def aging_table(frame: pd.DataFrame, history: HistoryConfig) -> pd.DataFrame:
    """Accounts, their share, and balance by DPD bucket for each month (oldest month first).

    Balance is the statement balance of that month where balances are declared.
    """
    buckets = buckets_by_month(frame, history)
    rows = []
    for i, month in enumerate(buckets.columns):
        balance = frame[history.balance[i]].to_numpy(dtype=float) if history.balance else None
        for b, name in enumerate(BUCKETS):
            mask = (buckets[month] == b).to_numpy()
            rows.append(
                {
                    "month": month,
                    "bucket": name,
                    "accounts": int(mask.sum()),
                    "share": float(mask.mean()),
                    "balance": float(np.nansum(balance[mask])) if balance is not None else np.nan,
                }
            )
    table = pd.DataFrame(rows)
    order = list(buckets.columns[::-1])
    table["month"] = pd.Categorical(table["month"], categories=order, ordered=True)
    return table.sort_values(["month", "bucket"], key=_bucket_key).reset_index(drop=True)


def _bucket_key(column: pd.Series) -> pd.Series:
    if column.name == "bucket":
        return column.map({b: i for i, b in enumerate(BUCKETS)})
    return column


def roll_rate_matrix(frame: pd.DataFrame, history: HistoryConfig) -> pd.DataFrame:
    """Month-over-month transition rates between buckets, pooled over every pair of months.

    Row = bucket last month, column = bucket this month; rows sum to 1. The diagonal is
    "stayed", right of it "rolled forward", left of it "cured" (or partly cured).
    """
    buckets = buckets_by_month(frame, history).to_numpy()
    counts = np.zeros((len(BUCKETS), len(BUCKETS)))
    for newer in range(buckets.shape[1] - 1):
        np.add.at(counts, (buckets[:, newer + 1], buckets[:, newer]), 1)
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.full_like(counts, np.nan), where=totals > 0)
    matrix = pd.DataFrame(rates, index=list(BUCKETS), columns=list(BUCKETS))
    matrix.index.name = "from"
    matrix.columns.name = "to"
    return matrix


def roll_rate_counts(frame: pd.DataFrame, history: HistoryConfig) -> pd.Series:
    """Accounts observed in each 'from' bucket across all month pairs (the matrix's weights)."""
    buckets = buckets_by_month(frame, history).to_numpy()[:, 1:]
    return pd.Series(
        np.bincount(buckets.ravel(), minlength=len(BUCKETS)), index=list(BUCKETS), name="accounts"
    )


def bad_rate_by(frame: pd.DataFrame, by: pd.Series, target: pd.Series) -> pd.DataFrame:
    """Accounts, bad accounts and bad rate for each value of ``by``."""
    grouped = pd.DataFrame({"group": by.to_numpy(), "bad": target.to_numpy()}).groupby(
        "group", observed=True, sort=True
    )["bad"]
    out = pd.DataFrame({"accounts": grouped.size(), "bads": grouped.sum()})
    out["bad_rate"] = out["bads"] / out["accounts"]
    out.index.name = by.name or "group"
    return out


def current_bucket(frame: pd.DataFrame, history: HistoryConfig) -> pd.Series:
    """The latest month's DPD bucket name of every account."""
    index = dpd_bucket(frame[history.status[0]].to_numpy(dtype=float), history.status_unit)
    return pd.Series(np.array(BUCKETS, dtype=object)[index], index=frame.index, name="dpd_bucket")
