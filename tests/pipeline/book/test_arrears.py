"""Days past due from schedules and payments, against cases worked out by hand.

Working-day cases count the working days after the due date up to and including the as-of
date, from the State Council's holiday notices for 2024-2026 (holidays and make-up days
(调休) listed beside each case).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from delinq.pipeline.book.arrears import (
    arrears_at_date,
    arrears_panel,
    ledger,
    write_arrears,
)
from delinq.pipeline.book.io import DataError
from delinq.pipeline.config import ArrearsConfig

ONE = [("2024-03-15", 1000)]  # one instalment of 1000
THREE = [("2024-01-15", 500), ("2024-02-15", 500), ("2024-03-15", 500)]

# (case, day count, schedule [(due date, amount)], payments [(date, amount)], as-of,
#  expected days past due, expected overdue amount, config changes)
CASES = [
    # --- calendar days: month ends, leap days, year ends
    ("due yesterday", "calendar", [("2024-01-31", 1000)], [], "2024-02-01", 1, 1000, {}),
    ("due today is not late", "calendar", [("2024-01-31", 1000)], [], "2024-01-31", 0, 0, {}),
    ("through leap February", "calendar", [("2024-01-31", 1000)], [], "2024-02-29", 29, 1000, {}),
    ("due on leap day", "calendar", [("2024-02-29", 1000)], [], "2024-03-01", 1, 1000, {}),
    ("leap day to next Feb 28", "calendar", [("2024-02-29", 1000)], [], "2025-02-28", 365, 1000, {}),  # noqa: E501
    ("through plain February", "calendar", [("2023-01-31", 1000)], [], "2023-03-01", 29, 1000, {}),
    ("30-day month end", "calendar", [("2024-03-31", 1000)], [], "2024-04-30", 30, 1000, {}),
    ("one more day: 31", "calendar", [("2024-03-31", 1000)], [], "2024-05-01", 31, 1000, {}),
    ("year end", "calendar", [("2024-12-31", 1000)], [], "2025-01-01", 1, 1000, {}),
    ("90 days: still 61-90", "calendar", [("2024-01-15", 1000)], [], "2024-04-14", 90, 1000, {}),
    ("91 days: 90+", "calendar", [("2024-01-15", 1000)], [], "2024-04-15", 91, 1000, {}),
    ("Feb 28 to Mar 31, 2023", "calendar", [("2023-02-28", 1000)], [], "2023-03-31", 31, 1000, {}),
    ("Feb 29 to Mar 31, 2024", "calendar", [("2024-02-29", 1000)], [], "2024-03-31", 31, 1000, {}),
    ("Apr 30 to May 31", "calendar", [("2024-04-30", 1000)], [], "2024-05-31", 31, 1000, {}),
    ("Spring Festival counts", "calendar", [("2025-01-27", 1000)], [], "2025-02-05", 9, 1000, {}),
    ("National Day counts", "calendar", [("2024-09-30", 1000)], [], "2024-10-08", 8, 1000, {}),
    ("Jan 31 to Mar 15", "calendar", [("2024-01-31", 1000)], [], "2024-03-15", 44, 1000, {}),
    # --- payments
    ("paid on the due date", "calendar", ONE, [("2024-03-15", 1000)], "2024-04-30", 0, 0, {}),
    ("paid late: before", "calendar", ONE, [("2024-03-20", 1000)], "2024-03-19", 4, 1000, {}),
    ("paid late: after", "calendar", ONE, [("2024-03-20", 1000)], "2024-03-20", 0, 0, {}),
    ("payment after as-of", "calendar", ONE, [("2024-04-20", 1000)], "2024-04-19", 35, 1000, {}),
    ("partial payment", "calendar", ONE, [("2024-03-10", 400)], "2024-03-25", 10, 600, {}),
    ("partial across two", "calendar", [("2024-01-15", 500), ("2024-02-15", 500)],
     [("2024-02-01", 700)], "2024-03-01", 15, 300, {}),
    ("three missed", "calendar", THREE, [], "2024-03-20", 65, 1500, {}),
    ("oldest paid first", "calendar", THREE, [("2024-03-01", 500)], "2024-03-20", 34, 1000, {}),
    ("next one not yet due", "calendar", THREE, [("2024-01-15", 500)], "2024-02-15", 0, 0, {}),
    ("overpayment carried", "calendar", [("2024-01-15", 500), ("2024-02-15", 500)],
     [("2024-01-10", 1000)], "2024-02-20", 0, 0, {}),
    ("carried over three", "calendar", THREE, [("2024-01-15", 1200)], "2024-03-20", 5, 300, {}),
    ("overpayment refunded", "calendar", [("2024-01-15", 500), ("2024-02-15", 500)],
     [("2024-01-10", 1000)], "2024-02-20", 5, 500, {"overpayment": "refund"}),
    ("refund then paid", "calendar", [("2024-01-15", 500), ("2024-02-15", 500)],
     [("2024-01-10", 1000), ("2024-02-10", 500)], "2024-02-20", 0, 0, {"overpayment": "refund"}),
    ("refund before anything due", "calendar", [("2024-01-15", 500)], [("2024-01-01", 800)],
     "2024-01-20", 0, 0, {"overpayment": "refund"}),
    ("reversal reopens", "calendar", [("2024-01-15", 500)],
     [("2024-01-14", 500), ("2024-02-03", -500)], "2024-02-03", 19, 500, {}),
    ("before the reversal", "calendar", [("2024-01-15", 500)],
     [("2024-01-14", 500), ("2024-02-03", -500)], "2024-02-02", 0, 0, {}),
    ("partial reversal", "calendar", [("2024-01-15", 500), ("2024-02-15", 500)],
     [("2024-01-15", 1000), ("2024-03-01", -300)], "2024-03-01", 15, 300, {}),
    ("within grace", "calendar", ONE, [], "2024-03-18", 0, 0, {"grace_days": 3}),
    ("past grace: from due", "calendar", ONE, [], "2024-03-19", 4, 1000, {"grace_days": 3}),
    ("under tolerance", "calendar", ONE, [("2024-03-15", 999.5)], "2024-03-25", 0, 0,
     {"tolerance": 1.0}),
    ("no tolerance", "calendar", ONE, [("2024-03-15", 999.5)], "2024-03-25", 10, 0.5, {}),
    ("tolerance over two", "calendar", [("2024-01-15", 500), ("2024-02-15", 500)],
     [("2024-02-15", 999.5)], "2024-02-20", 0, 0, {"tolerance": 1.0}),
    ("paid before first due", "calendar", [("2024-01-15", 1000)], [("2024-01-01", 1000)],
     "2024-02-01", 0, 0, {}),
    ("not yet due", "calendar", [("2024-05-15", 1000)], [], "2024-04-30", 0, 0, {}),
    ("zero instalment", "calendar", [("2024-01-15", 0), ("2024-02-15", 500)], [],
     "2024-02-01", 0, 0, {}),
    # --- working days (2025 Spring Festival: off Jan 28-Feb 4; worked Sun Jan 26, Sat Feb 8)
    ("SF25: one working day", "working", [("2025-01-27", 1000)], [], "2025-02-05", 1, 1000, {}),
    ("SF25: make-up Sunday", "working", [("2025-01-24", 1000)], [], "2025-02-05", 3, 1000, {}),
    # after Jan 24: Jan 26 (make-up), Jan 27, Feb 5, 6, 7 and 8 (make-up): six working days
    ("SF25: make-up Saturday", "working", [("2025-01-24", 1000)], [], "2025-02-08", 6, 1000, {}),
    ("SF25: plain Sunday", "working", [("2025-01-24", 1000)], [], "2025-02-09", 6, 1000, {}),
    ("SF25: on the make-up day", "working", [("2025-01-24", 1000)], [], "2025-01-26", 1, 1000, {}),
    ("SF25: partial", "working", [("2025-01-27", 1000)], [("2025-01-27", 600)], "2025-02-07",
     3, 400, {}),
    # 2024 Spring Festival: off Feb 10-17; worked Sun Feb 4 and Sun Feb 18; Feb 9 a working day
    ("SF24: eve worked", "working", [("2024-02-08", 1000)], [], "2024-02-19", 3, 1000, {}),
    ("SF24: make-up Feb 18", "working", [("2024-02-08", 1000)], [], "2024-02-18", 2, 1000, {}),
    ("SF24: make-up Feb 4", "working", [("2024-02-02", 1000)], [], "2024-02-05", 2, 1000, {}),
    ("Jan 31 to Mar 15 worked", "working", [("2024-01-31", 1000)], [], "2024-03-15", 29, 1000, {}),  # noqa: E501
    # 2026 Spring Festival: off Feb 15-23; worked Sat Feb 14 and Sat Feb 28
    ("SF26: make-up Feb 14", "working", [("2026-02-13", 1000)], [], "2026-02-24", 2, 1000, {}),
    ("SF26: make-up Feb 28", "working", [("2026-02-13", 1000)], [], "2026-02-28", 6, 1000, {}),
    # New Year 2026: off Jan 1-3; worked Sun Jan 4
    ("NY26", "working", [("2025-12-31", 1000)], [], "2026-01-05", 2, 1000, {}),
    # National Day 2024: off Oct 1-7; worked Sun Sep 29 and Sat Oct 12
    ("ND24: make-up Sep 29", "working", [("2024-09-27", 1000)], [], "2024-10-08", 3, 1000, {}),
    ("ND24: make-up Oct 12", "working", [("2024-09-27", 1000)], [], "2024-10-12", 7, 1000, {}),
    ("ND24: plain Sunday", "working", [("2024-09-27", 1000)], [], "2024-10-13", 7, 1000, {}),
    ("ND24: due on a holiday", "working", [("2024-10-01", 1000)], [], "2024-10-08", 1, 1000, {}),
    # National Day 2025: off Oct 1-8; worked Sun Sep 28 and Sat Oct 11
    ("ND25: both make-up days", "working", [("2025-09-26", 1000)], [], "2025-10-11", 6, 1000, {}),
    ("ND25: no working day yet", "working", [("2025-09-30", 1000)], [], "2025-10-08", 0, 0, {}),
    ("ND25: first working day", "working", [("2025-09-30", 1000)], [], "2025-10-09", 1, 1000, {}),
    ("ND25: within grace", "working", [("2025-09-30", 1000)], [], "2025-10-10", 0, 0,
     {"grace_days": 3}),
    ("ND25: past grace", "working", [("2025-09-30", 1000)], [], "2025-10-13", 4, 1000,
     {"grace_days": 3}),
    # ordinary weeks, leap day, a month with Dragon Boat (Mon Jun 10 2024 off)
    ("due Saturday", "working", [("2024-03-16", 1000)], [], "2024-03-18", 1, 1000, {}),
    ("one week", "working", ONE, [], "2024-03-22", 5, 1000, {}),
    ("over leap day", "working", [("2024-02-28", 1000)], [], "2024-03-01", 2, 1000, {}),
    ("June 2024", "working", [("2024-05-31", 1000)], [], "2024-06-30", 19, 1000, {}),
    # Labour Day 2024: off May 1-5; worked Sun Apr 28 and Sat May 11
    ("LD24: after", "working", [("2024-04-30", 1000)], [], "2024-05-06", 1, 1000, {}),
    ("LD24: make-up Apr 28", "working", [("2024-04-26", 1000)], [], "2024-04-29", 2, 1000, {}),
    ("LD24: make-up May 11", "working", [("2024-05-10", 1000)], [], "2024-05-13", 2, 1000, {}),
    # oldest unpaid due Feb 15 2024: Feb 16-17 off, Sun Feb 18 worked, then 23 weekdays
    ("worked: oldest first", "working", THREE, [("2024-03-01", 500)], "2024-03-20", 24, 1000, {}),
]  # fmt: skip


def _tables(schedule, payments, product=None):
    s = {
        "account_id": ["A"] * len(schedule),
        "due_date": [dt.date.fromisoformat(d) for d, _ in schedule],
        "amount_due": [float(a) for _, a in schedule],
    }
    if product is not None:
        s["product"] = [product] * len(schedule)
    p = {
        "account_id": ["A"] * len(payments),
        "payment_date": [dt.date.fromisoformat(d) for d, _ in payments],
        "amount": [float(a) for _, a in payments],
    }
    types = {"account_id": pa.string(), "payment_date": pa.date32(), "amount": pa.float64()}
    return pa.table(s), pa.table(p, schema=pa.schema(types))


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hand_computed_days_past_due(case):
    _, count, schedule, payments, as_of, dpd, overdue, changes = case
    cfg = ArrearsConfig(day_count=count, **changes)
    row = arrears_at_date(ledger(*_tables(schedule, payments), cfg), as_of).to_pylist()[0]
    assert (row["dpd"], row["overdue_amount"]) == (dpd, pytest.approx(overdue))
    bucket = (
        "current"
        if dpd == 0
        else "1-30"
        if dpd <= 30
        else "31-60"
        if dpd <= 60
        else ("61-90" if dpd <= 90 else "90+")
    )
    assert row["bucket"] == bucket and row["day_count"] == count


def test_there_are_at_least_fifty_cases_in_both_day_counts():
    counts = {"calendar": 0, "working": 0}
    for case in CASES:
        counts[case[1]] += 1
    assert sum(counts.values()) >= 50 and min(counts.values()) >= 20


def test_day_count_follows_the_product():
    s1, p1 = _tables([("2024-09-27", 1000)], [], product="card")
    s2, _ = _tables([("2024-09-27", 1000)], [], product="loan")
    s2 = s2.set_column(0, "account_id", pa.array(["B"]))
    cfg = ArrearsConfig(product="product", day_count_by_product={"loan": "working"})
    rows = arrears_at_date(ledger(pa.concat_tables([s1, s2]), p1, cfg), "2024-10-08").to_pylist()
    assert [(r["account_id"], r["day_count"], r["dpd"]) for r in rows] == [
        ("A", "calendar", 11),
        ("B", "working", 3),
    ]


def test_monthly_panel_rows_and_payments():
    schedule, payments = _tables(THREE, [("2024-01-15", 500), ("2024-03-01", 300)])
    table = arrears_panel(ledger(schedule, payments, ArrearsConfig()), until="2024-04")
    frame = table.to_pandas()
    assert frame["month"].astype(str).tolist() == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert frame["as_of"].astype(str).tolist() == [
        "2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30",
    ]  # fmt: skip
    # Jan paid; Feb's instalment 14 days late at Feb 29; Mar 1 pays 300 of it: still the oldest.
    assert frame["dpd"].tolist() == [0, 14, 45, 75]
    assert frame["overdue_amount"].tolist() == [0, 500, 700, 700]
    assert frame["payment"].tolist() == [500, 0, 300, 0]
    assert frame["balance"].tolist() == [1000, 1000, 700, 700]


def test_a_panel_of_arrears_is_what_snapshots_read(tmp_path):
    from delinq.pipeline.book.panel import read_panel
    from delinq.pipeline.config import PanelConfig

    schedule, payments = _tables(THREE, [("2024-01-15", 500)])
    pq.write_table(schedule, tmp_path / "schedule.parquet")
    pq.write_table(payments, tmp_path / "payments.parquet")
    out = tmp_path / "panel.parquet"
    write_arrears(
        ArrearsConfig(), tmp_path / "schedule.parquet", tmp_path / "payments.parquet", out
    )
    panel = read_panel(out, PanelConfig(balance="balance", payment="payment"))
    assert panel.status.tolist() == [[0, 14, 45]]
    assert panel.measures["payment"].tolist() == [[500, 0, 0]]


@pytest.mark.parametrize(
    ("schedule", "payments", "changes", "message"),
    [
        ([("2024-01-15", -5)], [], {}, "negative 'amount_due'"),
        ([("2024-01-15", 100)], [("2024-01-01", 100)], {"payments_before_first_due": "error"},
         "before their account's first due date"),
        ([("2024-01-15", 100)], [("2024-01-10", 100), ("2024-01-12", -150)], {},
         "more reversed than paid"),
        ([("2026-12-31", 100)], [], {"day_count": "working"}, None),  # next: 2027 as-of
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_error(schedule, payments, changes, message):
    cfg = ArrearsConfig(**changes)
    if message is None:
        book = ledger(*_tables(schedule, payments), cfg)
        with pytest.raises(DataError, match=r"covers 2004-2026.*2027.*upgrade chinesecalendar"):
            arrears_at_date(book, "2027-01-04")
        return
    with pytest.raises(DataError, match=message):
        ledger(*_tables(schedule, payments), cfg)


def test_a_payment_for_an_unknown_account_stops_and_publishes_nothing(tmp_path):
    schedule, payments = _tables(ONE, [("2024-03-15", 10)])
    payments = payments.set_column(0, "account_id", pa.array(["SECRET-42"]))
    pq.write_table(schedule, tmp_path / "s.parquet")
    pq.write_table(payments, tmp_path / "p.parquet")
    out = tmp_path / "out.parquet"
    with pytest.raises(DataError, match="accounts the schedule does not have") as err:
        write_arrears(ArrearsConfig(), tmp_path / "s.parquet", tmp_path / "p.parquet", out)
    assert "SECRET" not in str(err.value)
    assert {p.name for p in tmp_path.iterdir()} == {"s.parquet", "p.parquet"}


def test_unparseable_dates_name_the_column_not_the_value(tmp_path):
    (tmp_path / "s.csv").write_text("account_id,due_date,amount_due\nA,2024-02-30,100\n")
    (tmp_path / "p.csv").write_text("account_id,payment_date,amount\nA,2024-01-01,100\n")
    with pytest.raises(DataError, match=r"1 row\(s\) of 'due_date' are not dates") as err:
        write_arrears(ArrearsConfig(), tmp_path / "s.csv", tmp_path / "p.csv", tmp_path / "o.csv")
    assert "2024-02-30" not in str(err.value)


def _reference(due, paid, as_of):
    """Day by day: each payment settles the oldest open instalment first (calendar days)."""
    open_ = [[d, a] for d, a in sorted(due)]
    for day, amount in sorted(paid):
        if day > as_of:
            continue
        for item in open_:
            take = min(item[1], amount)
            item[1] -= take
            amount -= take
        # an overpayment beyond the whole schedule is credit nobody can use here
    late = [(d, a) for d, a in open_ if a > 0 and d < as_of]
    return (as_of - late[0][0], sum(a for _, a in late)) if late else (0, 0)


@settings(max_examples=60, deadline=None)
@given(
    due=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 500)), min_size=1, max_size=6),
    paid=st.lists(st.tuples(st.integers(0, 260), st.integers(1, 700)), max_size=6),
    as_of=st.integers(0, 300),
)
def test_matches_a_day_by_day_allocation(due, paid, as_of):
    base = np.datetime64("2024-01-01")
    schedule, payments = _tables(
        [(str(base + d), a) for d, a in due], [(str(base + d), a) for d, a in paid]
    )
    row = arrears_at_date(ledger(schedule, payments, ArrearsConfig()), str(base + as_of))
    row = row.to_pylist()[0]
    assert (row["dpd"], row["overdue_amount"]) == _reference(due, paid, as_of)


def test_simulated_ledger_to_arrears_to_snapshots_on_the_command_line(tmp_path):
    from typer.testing import CliRunner

    from delinq.pipeline.cli import app
    from tests.conftest import REPO

    runner = CliRunner()
    made = runner.invoke(
        app,
        [
            "make-book",
            "--ledger",
            "--accounts",
            "400",
            "--months",
            "12",
            "--start",
            "2024-01",
            "--seed",
            "3",
            "-o",
            str(tmp_path),
        ],
    )
    assert made.exit_code == 0, made.output
    config = REPO / "configs" / "arrears.yaml"
    args = [
        "arrears",
        "-c",
        str(config),
        "--schedule",
        str(tmp_path / "schedule.parquet"),
        "--payments",
        str(tmp_path / "payments.parquet"),
    ]
    first = runner.invoke(app, [*args, "-o", str(tmp_path / "a.parquet")])
    again = runner.invoke(app, [*args, "-o", str(tmp_path / "b.parquet")])
    assert first.exit_code == 0 and again.exit_code == 0, first.output
    a, b = pq.read_table(tmp_path / "a.parquet"), pq.read_table(tmp_path / "b.parquet")
    assert a.equals(b)  # a re-run gives the same panel
    frame = a.to_pandas()
    assert set(frame["day_count"].astype(str)) == {"calendar", "working"}
    assert frame.groupby("account_id", observed=True).size().min() >= 12
    late = frame.loc[frame["dpd"] > 0]
    assert 0 < len(late) < len(frame) / 2 and "31-60" in first.output

    snap_cfg = tmp_path / "panel.yaml"
    snap_cfg.write_text(
        "panel: {balance: balance, payment: payment, min_months_on_book: 3,\n"
        "        bad: {dpd_at_least: 30, within_months: 3}}\n"
    )
    cut = runner.invoke(
        app,
        [
            "snapshots",
            "-c",
            str(snap_cfg),
            "--panel",
            str(tmp_path / "a.parquet"),
            "-o",
            str(tmp_path / "s.parquet"),
        ],
    )
    assert cut.exit_code == 0, cut.output
    snaps = pq.read_table(tmp_path / "s.parquet").to_pandas()
    assert len(snaps) > 400 and 0 < snaps["bad"].mean() < 0.5


def test_the_wide_book_is_the_panel_laid_out_by_account():
    from delinq.pipeline.book.arrears import iter_arrears
    from delinq.pipeline.book.simulate_ledger import simulate_ledger

    schedule, payments = simulate_ledger(300, months=12, start="2024-01", seed=2)
    cfg = ArrearsConfig(product="product", day_count_by_product={"loan": "working"})
    book = ledger(pa.Table.from_pandas(schedule), pa.Table.from_pandas(payments), cfg)
    panel = arrears_panel(book, until="2024-09").to_pandas()
    wide = pa.concat_tables(iter_arrears(book, as_of="2024-09-30", wide=4)).to_pandas()
    panel["account_id"] = panel["account_id"].astype(str)
    by_month = panel.pivot(
        index="account_id", columns="month", values=["dpd", "balance", "payment"]
    )
    wide = wide.set_index(wide["account_id"].astype(str))
    months = ["2024-09", "2024-08", "2024-07", "2024-06"]
    for i, month in enumerate(months):
        for name in ("dpd", "balance", "payment"):
            # Accounts whose panel starts after this month have no panel row: nothing due yet.
            expected = by_month[(name, month)].reindex(wide.index)
            have = expected.notna()
            assert np.allclose(wide.loc[have, f"{name}_{i}"], expected[have]), (name, month)
    assert (wide["dpd"] == wide["dpd_0"]).all() and wide["dpd"].gt(0).any()
