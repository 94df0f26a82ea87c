"""Matured outcomes derived from a monthly performance panel, for `delinq backtest --panel`.

A panel has one row per account and month with its days (or months) past due. An account
scored on night D is **bad** when it reaches the bad level (e.g. 90 days past due) in any month
of the performance window after D (the ``within_months`` months that follow D's month), and
**good** when it is observed through the whole window without reaching it. An account that
leaves the panel before the window ends without turning bad has not matured: it is left out
and counted, never called good.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from delinq.pipeline.book.io import DataError
from delinq.pipeline.config import PanelOutcomesConfig


@dataclass(frozen=True)
class PanelOutcomes:
    """0/1 outcomes by account id (text) and what was left out, counted."""

    bad: pd.Series
    immature: pd.Index  # ids that left the panel before the window ended, never bad
    window: tuple[str, str]  # first and last month of the performance window


def _positions(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask)[:6].tolist()


def outcomes_from_panel(
    panel: pd.DataFrame, cfg: PanelOutcomesConfig, as_of: str, source: str
) -> PanelOutcomes:
    """The outcomes of the performance window after ``as_of`` (YYYY-MM-DD) in ``panel``.

    Errors name the file, the column and row positions, never a value from a row.
    """
    for column, role in ((cfg.id, "id"), (cfg.month, "month"), (cfg.dpd, "days past due")):
        if column not in panel.columns:
            raise DataError(f"{source}: panel {role} column '{column}' not found (monitor.panel)")
    if panel.empty:
        raise DataError(f"{source}: the panel has no rows")
    months = pd.to_datetime(panel[cfg.month].astype(str), errors="coerce", format="ISO8601")
    bad_month = months.isna().to_numpy()
    if bad_month.any():
        raise DataError(
            f"{source}: {int(bad_month.sum())} row(s) of '{cfg.month}' are not dates "
            f"(row positions {_positions(bad_month)})"
        )
    month = months.dt.to_period("M")
    dpd = pd.to_numeric(panel[cfg.dpd], errors="coerce")
    wrong = dpd.isna() | (dpd < 0)
    if cfg.unit == "months":
        wrong |= dpd > 60  # five years late: a days count in a months column
    wrong = wrong.to_numpy()
    if wrong.any():
        raise DataError(
            f"{source}: {int(wrong.sum())} row(s) of '{cfg.dpd}' are not a non-negative "
            f"{cfg.unit}-past-due count (row positions {_positions(wrong)})"
        )
    ids = panel[cfg.id].astype(str)
    twice = pd.DataFrame({"id": ids, "m": month}).duplicated(keep=False).to_numpy()
    if twice.any():
        raise DataError(
            f"{source}: {int(twice.sum())} rows repeat an account and month "
            f"(row positions {_positions(twice)}); one row per account and month"
        )
    start = pd.Period(as_of, "M") + 1
    end = start + cfg.within_months - 1
    inside = ((month >= start) & (month <= end)).to_numpy()
    frame = pd.DataFrame(
        {"id": ids[inside], "m": month[inside], "bad": (dpd >= cfg.bad_at_least)[inside]}
    )
    per = frame.groupby("id", sort=True).agg(bad=("bad", "any"), last=("m", "max"))
    matured = per["bad"] | (per["last"] >= end)
    bad = per.loc[matured, "bad"].astype(np.int64).rename("bad")
    bad.index.name = "id"
    return PanelOutcomes(bad, per.index[~matured], (str(start), str(end)))
