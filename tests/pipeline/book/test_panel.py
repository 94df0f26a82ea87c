"""Monthly performance panels: checked reading, snapshots with exclusions, vintage curves."""

import numpy as np
import pandas as pd
import pytest

from delinq.pipeline.book.io import DataError
from delinq.pipeline.book.panel import panel_from_frame, read_panel, snapshots, vintage_curves
from delinq.pipeline.config import PanelBadConfig, PanelConfig

CFG = PanelConfig(
    balance="balance",
    payment="payment",
    static=["region"],
    history_months=3,
    bad=PanelBadConfig(dpd_at_least=90, within_months=3),
    min_months_on_book=3,
    observations=["2025-06"],
)
MONTHS = [f"2025-{m:02d}" for m in range(1, 13)]


def _rows(account: str, months: list[str], dpd: dict[str, int] | None = None) -> list[dict]:
    dpd = dpd or {}
    return [
        {"account_id": account, "month": m, "dpd": dpd.get(m, 0), "balance": 100.0 * i,
         "payment": 10.0, "region": "north" if account < "d" else "south"}
        for i, m in enumerate(months)
    ]  # fmt: skip


def _panel() -> pd.DataFrame:
    rows = (
        _rows("a", MONTHS, {"2025-08": 95})  # turns bad inside the window -> bad
        + _rows("b", MONTHS)  # observed to the end, never bad -> good
        + _rows("c", MONTHS[:7])  # gone in July, never bad -> immature
        + _rows("d", MONTHS[4:])  # opened in May: one month on book in June -> too young
        + _rows("e", MONTHS, {"2025-06": 120})  # bad at the observation month -> left out
        + _rows("f", MONTHS[:4])  # closed in April -> not on book in June
        + _rows("g", MONTHS[:4] + MONTHS[5:], {"2025-04": 30})  # no May row: a gap
    )
    return pd.DataFrame(rows)


def test_snapshot_labels_exclusions_and_history_by_hand():
    panel = panel_from_frame(_panel(), CFG, "panel.csv")
    assert panel.gaps == 1
    table, report = snapshots(panel, CFG)
    got = dict(zip(table["account_id"], table["bad"], strict=True))
    assert got == {"a": 1, "b": 0, "g": 0}
    counts = report.iloc[0].to_dict()
    assert (counts["not_on_book"], counts["too_young"], counts["already_bad"]) == (1, 1, 1)
    assert (counts["immature"], counts["kept"], counts["bads"]) == (1, 3, 1)
    g = table.set_index("account_id").loc["g"]
    # Newest first: June, May (the gap, carried from April), April.
    assert [g["status_0"], g["status_1"], g["status_2"]] == [0, 30, 30]
    assert g["snapshot_id"] == "g@2025-06" and g["region"] == "south"
    assert g["months_on_book"] == 5


def test_every_month_with_a_full_window_is_an_observation_by_default():
    cfg = CFG.model_copy(update={"observations": []})
    table, report = snapshots(panel_from_frame(_panel(), cfg, "p"), cfg)
    # 3 months of history and a 3-month window in 12 months: March to September.
    assert list(report["observation_month"]) == MONTHS[2:9]
    assert table.groupby("observation_month").size().sum() == report["kept"].sum()


def test_a_folder_of_monthly_files_reads_as_one_panel(tmp_path):
    frame = _panel()
    for month, part in frame.groupby("month"):
        part.to_csv(tmp_path / f"{month}.csv", index=False)
    panel = read_panel(tmp_path, CFG)
    assert len(panel.ids) == 7 and len(panel.months) == 12


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda f: pd.concat([f, f.iloc[[3]]]), "2 row(s) repeat an account's month"),
        (lambda f: f.assign(month=f["month"].where(f.index != 2, "March")), "are not months"),
        (lambda f: f.assign(dpd=f["dpd"].where(f.index != 5, -3)), "not a status in days"),
        (lambda f: f.drop(columns="balance"), "panel balance column 'balance' not found"),
    ],
)
def test_bad_panels_fail_with_one_line_naming_rows_not_accounts(change, message):
    with pytest.raises(DataError) as caught:
        panel_from_frame(change(_panel()).reset_index(drop=True), CFG, "panel.csv")
    text = str(caught.value)
    assert message in text and "'a'" not in text


def test_a_window_longer_than_the_panel_is_explained():
    cfg = CFG.model_copy(update={"observations": [], "history_months": 6})
    cfg = cfg.model_copy(update={"bad": PanelBadConfig(within_months=9)})
    with pytest.raises(DataError, match="need at least 15"):
        snapshots(panel_from_frame(_panel(), cfg, "p"), cfg)


def test_vintage_curves_are_cumulative_shares_by_months_on_book():
    rows = []
    for i in range(4):  # January cohort: one account in four 30+ at month on book 2
        rows += _rows(f"j{i}", MONTHS[:6], {"2025-03": 45} if i == 0 else {})
    for i in range(2):  # March cohort: one in two 30+ at month on book 0, cured after
        rows += _rows(f"m{i}", MONTHS[2:6], {"2025-03": 31} if i == 0 else {})
    panel = panel_from_frame(pd.DataFrame(rows), CFG, "p")
    curves = vintage_curves(panel, (30,)).set_index(["cohort", "months_on_book"])
    jan = curves.loc["2025-01", "ever_share"]
    assert list(jan) == [0.0, 0.0, 0.25, 0.25, 0.25, 0.25]  # ever: stays after the cure
    mar = curves.loc["2025-03", "ever_share"]
    assert list(mar) == [0.5, 0.5, 0.5, 0.5] and len(mar) == 4  # four months observed
    assert (curves["accounts"].loc["2025-01"] == 4).all()
    assert np.isfinite(curves["ever_share"]).all()


def test_roll_forward_cure_rates_and_the_recommended_bad_by_hand():
    from delinq.pipeline.book.panel import cure_rates, recommend_bad, roll_forward

    late = {
        "x": [0, 1, 2, 3, 4, 5, 6, 6, 6, 6, 6, 6],  # rolls all the way, never back
        "y": [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],  # one month late, then current
    }
    rows = [
        {"account_id": a, "month": m, "dpd": s, "balance": 0.0, "payment": 0.0, "region": "n"}
        for a, statuses in late.items()
        for m, s in zip(MONTHS, statuses, strict=True)
    ]
    cfg = CFG.model_copy(update={"status_unit": "months"})
    panel = panel_from_frame(pd.DataFrame(rows), cfg, "p")
    cures = cure_rates(panel, "months", within=3)
    assert cures.loc["1-30", "accounts"] == 2 and cures.loc["1-30", "cure_rate"] == 0.5
    assert cures.loc["31-60", "cure_rate"] == 0.0 and cures.loc["90+", "accounts"] == 1
    assert "reaching 31-60" in recommend_bad(cures)
    rolls = roll_forward(panel, "months", horizons=(3,))
    assert rolls.loc["1-30", "to_90_within_3"] == 0.5  # x reaches 90+ three months later
    assert rolls.loc["1-30", "account_months_3"] == 2


def test_analyze_panel_writes_vintage_and_the_bad_definition(tmp_path):
    from typer.testing import CliRunner

    from delinq.pipeline.cli import app

    _panel().to_csv(tmp_path / "panel.csv", index=False)
    out = tmp_path / "analysis"
    run = CliRunner().invoke(
        app, ["analyze", "--panel", str(tmp_path / "panel.csv"), "-o", str(out)]
    )
    assert run.exit_code == 0, run.output
    assert "Recommended:" in run.output and "1 gap month(s)" in run.output
    for name in ("vintage.csv", "vintage.png", "cure_rates.csv", "roll_forward.csv"):
        assert (out / name).exists(), name
    assert (out / "bad_definition.txt").read_text().startswith(("bad = ", "no bucket"))


def _simulated(tmp_path, accounts: int = 1_500):
    from delinq.pipeline.book.simulate_panel import write_panel
    from delinq.pipeline.config import load_config, with_overrides
    from tests.conftest import REPO

    write_panel(tmp_path / "panel.parquet", accounts, 18, "2024-01", 3, None)
    cfg = load_config(REPO / "configs" / "panel.yaml")
    return with_overrides(cfg, panel={"bad": {"dpd_at_least": 3, "within_months": 3}})


def test_a_long_panel_read_in_groups_of_accounts_gives_the_same_snapshots_and_views(tmp_path):
    from delinq.pipeline.book.panel import panel_parts
    from delinq.pipeline.portfolio.vintage import snapshots_with_views

    cfg = _simulated(tmp_path)
    frame = pd.read_parquet(tmp_path / "panel.parquet")
    rows = len(frame)
    parts = list(panel_parts(tmp_path / "panel.parquet", cfg.panel, rows_per_part=rows // 5))
    assert len(parts) == 6 and sum(len(p.ids) for p in parts) == frame["account_id"].nunique()
    assert not set(parts[0].ids) & set(parts[1].ids)  # an account lives in one part
    assert all(p.months.equals(parts[0].months) for p in parts)  # the whole panel's months
    found = {}
    for name, per_part in (("whole", rows), ("parts", rows // 5)):
        out = tmp_path / name / "snap.parquet"
        report, files = snapshots_with_views(cfg, tmp_path / "panel.parquet", out, per_part)
        table = pd.read_parquet(out).sort_values("snapshot_id", ignore_index=True)
        views = {f.name: pd.read_csv(f) for f in files if f.suffix == ".csv"}
        found[name] = table, report, views
        assert files[-1].suffix == ".yaml" and not list(out.parent.glob(".panel-parts-*"))
    (table, report, views), (table2, report2, views2) = found["whole"], found["parts"]
    assert len(table) > 1_000 and table["bad"].nunique() == 2
    pd.testing.assert_frame_equal(table, table2)
    pd.testing.assert_frame_equal(report, report2)
    assert views.keys() == views2.keys() and "vintage.csv" in views and "cure_rates.csv" in views
    for name in views:
        pd.testing.assert_frame_equal(views[name], views2[name], obj=name)


def test_an_error_in_a_later_part_names_the_row_in_the_whole_panel(tmp_path, monkeypatch):
    from delinq.pipeline.book import panel as panel_module
    from delinq.pipeline.book.panel import panel_parts

    monkeypatch.setattr(panel_module, "SPLIT_ROWS", 1_000)  # the split reads several batches

    cfg = _simulated(tmp_path, accounts=300)
    frame = pd.read_parquet(tmp_path / "panel.parquet")
    last = len(frame) - 1
    frame.loc[last, "status"] = 99  # outside months late: the unit is wrong
    frame.to_parquet(tmp_path / "bad.parquet")
    with pytest.raises(DataError, match=rf"row positions \[{last}\]"):
        list(panel_parts(tmp_path / "bad.parquet", cfg.panel, rows_per_part=len(frame) // 4))
    frame.loc[last, "status"] = 0
    months = frame["month"].astype(object)
    months[[5, last - 1, last]] = "not a month"  # in the first and the last batch
    frame.assign(month=months).to_parquet(tmp_path / "months.parquet")
    with pytest.raises(DataError, match=rf"3 row\(s\) .*row positions \[5, {last - 1}, {last}\]"):
        list(panel_parts(tmp_path / "months.parquet", cfg.panel, rows_per_part=len(frame) // 4))
    twice = pd.concat([frame.iloc[:10], frame.iloc[[3]]], ignore_index=True)  # row 10 = row 3
    twice["status"] = 0
    twice.to_parquet(tmp_path / "twice.parquet")
    with pytest.raises(DataError, match=r"repeat an account's month \(row positions \[3, 10\]"):
        list(panel_parts(tmp_path / "twice.parquet", cfg.panel, rows_per_part=4))
