"""Aging table and roll-rate matrix on hand-computed histories."""

import numpy as np
import pandas as pd
import pytest

from delinq.pipeline.config import HistoryConfig
from delinq.pipeline.portfolio.analytics import (
    aging_table,
    bad_rate_by,
    current_bucket,
    roll_rate_counts,
    roll_rate_matrix,
)

HISTORY = HistoryConfig(status=["S0", "S1", "S2"], balance=["B0", "B1", "B2"])


def _frame():
    # newest first. Account 1: current, current, current; 2: 1 late now after 0, 0;
    # 3: 2 -> 1 -> current (cured); 4: 4 months late, was 3, was 2 (rolling)
    return pd.DataFrame(
        {
            "S0": [0, 1, 0, 4],
            "S1": [-1, 0, 1, 3],
            "S2": [-2, 0, 2, 2],
            "B0": [100.0, 200.0, 300.0, 400.0],
            "B1": [10.0, 20.0, 30.0, 40.0],
            "B2": [1.0, 2.0, 3.0, 4.0],
        }
    )


def test_roll_rate_matrix_by_hand():
    m = roll_rate_matrix(_frame(), HISTORY)
    # pairs (older -> newer): acc1 cur->cur x2; acc2 cur->cur, cur->1-30;
    # acc3 31-60 -> 1-30, 1-30 -> cur; acc4 31-60 -> 61-90, 61-90 -> 90+
    assert m.loc["current", "current"] == pytest.approx(3 / 4)
    assert m.loc["current", "1-30"] == pytest.approx(1 / 4)
    assert m.loc["1-30", "current"] == pytest.approx(1.0)
    assert m.loc["31-60", "1-30"] == pytest.approx(0.5)
    assert m.loc["31-60", "61-90"] == pytest.approx(0.5)
    assert m.loc["61-90", "90+"] == pytest.approx(1.0)
    assert np.isnan(m.loc["90+"]).all()  # nobody started a month in 90+
    rows = m.dropna().sum(axis=1)
    assert np.allclose(rows, 1.0)
    assert roll_rate_counts(_frame(), HISTORY).tolist() == [4, 1, 2, 1, 0]


def test_aging_table_by_hand():
    aging = aging_table(_frame(), HISTORY).set_index(["month", "bucket"])
    latest = aging.loc["M0 (latest)"]
    assert latest.loc["current", "accounts"] == 2
    assert latest.loc["current", "balance"] == pytest.approx(400.0)
    assert latest.loc["1-30", "accounts"] == 1 and latest.loc["90+", "accounts"] == 1
    oldest = aging.loc["M-2"]
    assert oldest.loc["31-60", "accounts"] == 2
    assert oldest.loc["31-60", "balance"] == pytest.approx(7.0)
    assert aging.groupby(level="month", observed=True)["share"].sum().round(9).eq(1).all()
    # oldest month first, buckets in order
    assert list(aging.index.get_level_values("month").unique()) == ["M-2", "M-1", "M0 (latest)"]


def test_bad_rate_by_bucket():
    frame = _frame()
    y = pd.Series([0, 1, 0, 1])
    table = bad_rate_by(frame, current_bucket(frame, HISTORY), y)
    assert table.loc["current", "accounts"] == 2 and table.loc["current", "bad_rate"] == 0
    assert table.loc["90+", "bad_rate"] == 1.0


def test_days_past_due_histories():
    days = HistoryConfig(status=["D0", "D1"], status_unit="days")
    frame = pd.DataFrame({"D0": [0, 15, 45, 75, 120], "D1": [0, 0, 15, 45, 75]})
    assert current_bucket(frame, days).tolist() == ["current", "1-30", "31-60", "61-90", "90+"]
    m = roll_rate_matrix(frame, days)
    assert m.loc["61-90", "90+"] == 1.0
