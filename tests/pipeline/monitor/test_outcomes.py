"""Outcomes from a monthly performance panel: bad within the window, immature left out."""

import pandas as pd
import pytest

from delinq.pipeline.book.io import DataError
from delinq.pipeline.config import PanelOutcomesConfig
from delinq.pipeline.monitor.outcomes import outcomes_from_panel

CFG = PanelOutcomesConfig(within_months=3)  # 90+ days within the 3 months after the night


def _panel(rows: list[tuple[str, str, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["account_id", "month", "dpd"])


def test_bad_good_and_immature_by_hand():
    panel = _panel(
        [
            # a: 95 days late in the second month after the night -> bad
            ("a", "2026-03", 0), ("a", "2026-04", 30), ("a", "2026-05", 95),
            # b: observed through June, never 90 -> good
            ("b", "2026-04", 0), ("b", "2026-05", 60), ("b", "2026-06", 89),
            # c: left the panel in May without turning bad -> not matured
            ("c", "2026-04", 0), ("c", "2026-05", 0),
            # d: 120 days late before the window only, then cured through June -> good
            ("d", "2026-02", 120), ("d", "2026-06", 0),
            # e: 90 days late after the window only (July) -> good
            ("e", "2026-06", 0), ("e", "2026-07", 90),
        ]
    )  # fmt: skip
    found = outcomes_from_panel(panel, CFG, "2026-03-31", "panel.csv")
    assert found.bad.to_dict() == {"a": 1, "b": 0, "d": 0, "e": 0}
    assert list(found.immature) == ["c"] and found.window == ("2026-04", "2026-06")


def test_months_late_unit_and_full_dates():
    cfg = PanelOutcomesConfig(unit="months", bad_at_least=3, within_months=2)
    panel = _panel([("x", "2026-04-30", 3), ("x", "2026-05-31", 4), ("y", "2026-05-15", 2)])
    found = outcomes_from_panel(panel, cfg, "2026-03-31", "p")
    assert found.bad.to_dict() == {"x": 1, "y": 0}


@pytest.mark.parametrize(
    "rows, message",
    [
        ([("a", "2026-04", 0), ("a", "2026-04", 30)], "2 rows repeat an account and month"),
        ([("a", "April", 0)], "row(s) of 'month' are not dates (row positions [0])"),
        ([("a", "2026-04", -5)], "not a non-negative days-past-due count (row positions [0])"),
        ([], "the panel has no rows"),
    ],
)
def test_bad_panels_name_rows_never_values(rows, message):
    with pytest.raises(DataError) as caught:
        outcomes_from_panel(_panel(rows), CFG, "2026-03-31", "panel.csv")
    assert message in str(caught.value)
    assert "'a'" not in str(caught.value)  # an account id is a value from a row


def test_a_missing_column_is_named():
    with pytest.raises(DataError, match="panel days past due column 'dpd' not found"):
        outcomes_from_panel(
            _panel([("a", "2026-04", 0)]).drop(columns="dpd"), CFG, "2026-03-31", "p"
        )
