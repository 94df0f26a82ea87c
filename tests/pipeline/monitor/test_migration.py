"""Night-over-night migration and the watchlist, on two small hand-made nights."""

import pandas as pd

from delinq.pipeline.config import MonitorConfig
from delinq.pipeline.monitor.migration import GONE, NEW, compare_nights

GRADES = list("ABCDEFG")


def _night(rows):
    return pd.DataFrame(rows, columns=["id", "pd", "grade", "dpd_bucket", "action"])


def test_migration_flows_actions_and_watchlist():
    previous = _night(
        [
            ("1", 0.02, "A", "current", "none"),
            ("2", 0.10, "C", "current", "none"),
            ("3", 0.30, "E", "1-30", "email_reminder"),
            ("4", 0.05, "B", "current", "none"),  # gone tonight
        ]
    )
    current = _night(
        [
            ("1", 0.03, "A", "current", "none"),  # small rise: not watched
            ("2", 0.22, "E", "31-60", "call"),  # +0.12 and two grades down: watched
            ("3", 0.20, "D", "current", "none"),  # better
            ("5", 0.40, "F", "1-30", "call"),  # new
        ]
    )
    result = compare_nights(previous, current, GRADES, MonitorConfig())
    assert result.grades.loc["C", "E"] == 1 and result.grades.loc["E", "D"] == 1
    assert result.grades.loc["B", GONE] == 1 and result.grades.loc[NEW, "F"] == 1
    assert result.buckets.loc["current", "31-60"] == 1
    assert result.new_actions["accounts"].to_dict() == {"call": 2}
    assert result.watchlist["id"].tolist() == ["2"]
    row = result.watchlist.iloc[0]
    assert row["grades_down"] == 2 and abs(row["pd_rise"] - 0.12) < 1e-12
    summary = result.summary()
    assert summary["downgraded"] == 1 and summary["upgraded"] == 1
    assert (summary["new_accounts"], summary["gone_accounts"], summary["watchlist"]) == (1, 1, 1)
    assert result.shares().loc["C", "E"] == 1.0


def test_a_doubled_pd_is_watched_even_when_small():
    previous = _night([("1", 0.01, "A", "current", "none")])
    current = _night([("1", 0.025, "A", "current", "none")])
    assert len(compare_nights(previous, current, GRADES, MonitorConfig()).watchlist) == 1
    strict = MonitorConfig(pd_ratio=3.0)
    assert compare_nights(previous, current, GRADES, strict).watchlist.empty


def test_ids_are_matched_by_text_across_nights():
    import pyarrow as pa

    from delinq.pipeline.monitor.migration import match_ids

    before = pa.chunked_array([["a", "b"], ["c", "10"]])
    after = pa.chunked_array([["c", "x", "a", "1", "0", "10"]])
    assert match_ids(before, after).tolist() == [2, -1, 0, -1, -1, 3]
    assert match_ids(pa.chunked_array([], pa.string()), after).tolist() == [-1] * 6
