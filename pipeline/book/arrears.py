"""Days past due (账龄) from a repayment schedule and payments: the source of the status field.

Input: a schedule (account, due date, amount due) and payments (account, date, amount). Output:
per account and as-of date, the days past due, the overdue amount and the DPD bucket, either at
one date (:func:`arrears_at_date`) or at every month end, as a monthly performance panel that
``delinq snapshots`` reads with the default ``panel:`` settings (:func:`arrears_panel`).

The rules, stated once:

- Payments go to the oldest amount due first. So at any date the unpaid part of the schedule is
  its tail: with C(k) the amount due up to and including instalment k and P the amount paid so
  far (payments dated on or before the as-of date), instalment k is unpaid when C(k) > P.
- A partial payment leaves the rest of its instalment unpaid. An overpayment is kept as credit
  for the next instalments (``overpayment: carry``), or counts only up to what is due by the
  next due date and the rest is returned (``refund``).
- A negative payment reverses an earlier one, on its own date: instalments it had paid are
  unpaid again, and late since their own due dates. Reversing more than was paid is an error.
- An instalment is overdue once more than ``grace_days`` have passed since its due date; days
  past due are then counted from the due date of the oldest unpaid instalment, in calendar days
  or working days (pipeline/book/workdays.py), per product. The overdue amount is what is
  unpaid of the overdue instalments; at most ``tolerance`` of it counts as paid.
- Amounts are handled in whole cents, so sums are exact.

Everything runs on sorted NumPy arrays from Arrow columns: a binary search per as-of date,
within its account's rows, finds the payments made so far and the oldest unpaid instalment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from delinq.features.history import BUCKETS, dpd_bucket
from delinq.pipeline.book.columns import (
    Columns,
    codes_in,
    distinct_texts,
    ids_of,
    numbers,
    read_columns,
    row_positions,
)
from delinq.pipeline.book.io import DataError
from delinq.pipeline.book.simulate import write_frames
from delinq.pipeline.book.workdays import CALENDAR, WORKING, day_numbers
from delinq.pipeline.config import ArrearsConfig

OUTPUT_COLUMNS = (
    "account_id", "as_of", "month", "day_count", "dpd", "bucket", "overdue_amount",
    "due_to_date", "paid_to_date", "balance", "payment",
)  # fmt: skip


@dataclass
class Ledger:
    """Schedule and payments of every account as sorted arrays (amounts in cents).

    Rows of account ``a`` are ``due_at[a]:due_at[a+1]`` in the schedule arrays and
    ``paid_at[a]:paid_at[a+1]`` in the payment arrays.
    """

    ids: pa.Array  # account ids as text, sorted
    working: np.ndarray  # per account: counted in working days
    due_at: np.ndarray
    due_day: np.ndarray  # days since 1970-01-01
    due_position: np.ndarray  # due day on the account's day count
    cum_due: np.ndarray  # due up to and including each instalment
    paid_at: np.ndarray
    paid_day: np.ndarray
    cum_paid: np.ndarray  # paid up to and including each payment, after the overpayment rule
    refunded: int  # cents returned under ``overpayment: refund``
    cfg: ArrearsConfig  # the rules it was built with (grace, tolerance, ...)


def _days(values: pa.ChunkedArray, source: str, column: str) -> np.ndarray:
    """Days since 1970-01-01 of a date column (dates, timestamps or ISO texts)."""
    if pa.types.is_timestamp(values.type):
        values = pc.cast(pc.floor_temporal(values, unit="day"), pa.date32(), safe=False)
    if pa.types.is_date(values.type):
        days = values.cast(pa.date32())
        bad = days.is_null().to_numpy(zero_copy_only=False)
        out = days.cast(pa.int32()).fill_null(0).to_numpy(zero_copy_only=False)
    else:
        text = pd.Series(values.cast(pa.string()).to_numpy(zero_copy_only=False), dtype=object)
        parsed = pd.to_datetime(text, errors="coerce", format="ISO8601")
        bad = parsed.isna().to_numpy()
        out = parsed.to_numpy(dtype="datetime64[D]").astype(np.int64, copy=False)
    if bad.any():
        raise DataError(
            f"{source}: {int(bad.sum())} row(s) of '{column}' are not dates (YYYY-MM-DD; row "
            f"positions {row_positions(bad)})"
        )
    return np.asarray(out, dtype=np.int32)


def _cents(values: pa.ChunkedArray, source: str, column: str) -> np.ndarray:
    """Amounts as whole cents (an empty or non-numeric amount is an error)."""
    money = numbers(values)
    bad = ~np.isfinite(money)
    if bad.any():
        raise DataError(
            f"{source}: {int(bad.sum())} row(s) of '{column}' are not amounts (row positions "
            f"{row_positions(bad)})"
        )
    return np.rint(money * 100).astype(np.int64)


def _offsets(codes: np.ndarray, n: int) -> np.ndarray:
    """Start of each account's rows in ``codes`` sorted by account (length ``n + 1``)."""
    return np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=n))]).astype(np.int64)


def _within(values: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` restarted at each account (``start``: offsets)."""
    total = np.cumsum(values)
    before = np.concatenate([[0], total])[start[:-1]]
    return total - np.repeat(before, np.diff(start))


def _search(values, lo, hi, target, side: str) -> np.ndarray:
    """For each query, the first position in ``values[lo:hi]`` (sorted there) whose value is
    greater than ``target`` (side "right") or at least ``target`` ("left"); ``hi`` if none.

    A binary search run for every query at once: as many passes as the longest account has
    rows halves, so a few dozen at most.
    """
    lo, hi = lo.astype(np.int64), hi.astype(np.int64)
    last = max(len(values) - 1, 0)
    while True:
        active = lo < hi
        if not active.any():
            return lo
        mid = (lo + hi) // 2
        value = values[np.minimum(mid, last)]
        right = (value <= target) if side == "right" else (value < target)
        lo = np.where(active & right, mid + 1, lo)
        hi = np.where(active & ~right, mid, hi)


def _sum_before(running: np.ndarray, position: np.ndarray, start: np.ndarray) -> np.ndarray:
    """The running sum just before ``position`` within an account starting at ``start``."""
    return np.where(position > start, np.concatenate([[0], running])[position], 0)


def _working_accounts(schedule: Columns, codes, n: int, cfg: ArrearsConfig, source: str):
    """Per account, whether its days are working days (its product's day count)."""
    if cfg.product is None:
        return np.full(n, cfg.day_count == WORKING)
    product = schedule(cfg.product).fill_null("")
    names = distinct_texts(product)
    count_of = {**dict.fromkeys(names.to_pylist(), cfg.day_count), **cfg.day_count_by_product}
    counted = np.array([count_of[v] == WORKING for v in names.to_pylist()])
    per_row = counted[codes_in(product, names)]
    del product
    count = np.bincount(codes, weights=per_row, minlength=n)
    rows = np.bincount(codes, minlength=n)
    mixed = (count > 0) & (count < rows)
    if mixed.any():
        raise DataError(
            f"{source}: {int(mixed.sum())} account(s) have products with different day counts "
            f"in '{cfg.product}' (account positions {row_positions(mixed)}): one day count per "
            "account"
        )
    return count > 0


def ledger(
    schedule: Columns | pa.Table,
    payments: Columns | pa.Table,
    cfg: ArrearsConfig,
    sources=("schedule", "payments"),
) -> Ledger:
    """Check a schedule and its payments and lay them out as a :class:`Ledger`.

    Columns are read one at a time and turned into compact arrays at once, so a file's text
    columns are never all in memory together. Errors (one line, with row positions and
    counts, never a value): a missing or unparseable id, date or amount; a negative amount
    due; a payment for an account the schedule does not have; a payment before the account's
    first due date where ``payments_before_first_due: error``; a reversal of more than was paid.
    """
    s_src, p_src = sources
    schedule = Columns(table=schedule) if isinstance(schedule, pa.Table) else schedule
    payments = Columns(table=payments) if isinstance(payments, pa.Table) else payments
    if schedule.num_rows == 0:
        raise DataError(f"{s_src}: the schedule has no rows")
    ids = ids_of(schedule, cfg.id, s_src)
    uniques = distinct_texts(ids)
    n = len(uniques)
    s_code = codes_in(ids, uniques)
    del ids
    due_day = _days(schedule(cfg.due_date), s_src, cfg.due_date)
    due = _cents(schedule(cfg.amount_due), s_src, cfg.amount_due)
    if (due < 0).any():
        raise DataError(
            f"{s_src}: {int((due < 0).sum())} row(s) have a negative '{cfg.amount_due}' (row "
            f"positions {row_positions(due < 0)}): an amount due is never below zero"
        )
    working = _working_accounts(schedule, s_code, n, cfg, s_src)
    order = np.lexsort((due_day, s_code))
    s_code, due_day, due = s_code[order], due_day[order], due[order]
    del order
    due_at = _offsets(s_code, n)
    cum_due = _within(due, due_at)
    del due
    position = due_day.copy()
    rows_working = working[s_code]
    del s_code
    if rows_working.any():
        position[rows_working] = day_numbers(due_day[rows_working], WORKING)
    del rows_working

    p_code = codes_in(ids_of(payments, cfg.id, p_src), uniques)
    if (p_code < 0).any():
        raise DataError(
            f"{p_src}: {int((p_code < 0).sum())} payment row(s) are for accounts the schedule "
            f"does not have (row positions {row_positions(p_code < 0)}); nothing was published"
        )
    paid_day = _days(payments(cfg.payment_date), p_src, cfg.payment_date)
    if cfg.payments_before_first_due == "error":
        early = paid_day < due_day[due_at[:-1]][p_code]
        if early.any():
            raise DataError(
                f"{p_src}: {int(early.sum())} payment(s) are dated before their account's first "
                f"due date (row positions {row_positions(early)}); "
                "arrears.payments_before_first_due is 'error'"
            )
    paid = _cents(payments(cfg.amount), p_src, cfg.amount)
    row = np.arange(len(paid_day), dtype=np.int32)
    order = np.lexsort((row, paid_day, p_code))  # same-day payments keep their file order
    p_code, paid_day, paid = p_code[order], paid_day[order], paid[order]
    paid_at = _offsets(p_code, n)
    cum_paid = _within(paid, paid_at)
    del paid
    refunded = 0
    if cfg.overpayment == "refund" and len(cum_paid):
        # What counts is capped at what is due up to the next due date: x_i = min(x_{i-1} +
        # paid_i, cap_i), which unrolls to the running sum plus min(0, running min of cap - sum).
        nxt = _search(due_day, due_at[p_code], due_at[p_code + 1], paid_day, "left")
        cap = cum_due[np.minimum(nxt, due_at[p_code + 1] - 1)]
        slack = pd.Series(cap - cum_paid).groupby(p_code).cummin().to_numpy()
        counted = cum_paid + np.minimum(slack, 0)
        refunded = int((cum_paid - counted)[paid_at[1:][np.diff(paid_at) > 0] - 1].sum())
        cum_paid = counted
    negative = cum_paid < 0
    if negative.any():
        raise DataError(
            f"{p_src}: {int(negative.sum())} payment(s) leave their account with more reversed "
            f"than paid (row positions {sorted(order[negative][:6].tolist())}): a negative "
            "amount reverses an earlier payment"
        )
    return Ledger(uniques, working, due_at, due_day, position, cum_due, paid_at, paid_day,
                  cum_paid, refunded, cfg)  # fmt: skip


def arrears(book: Ledger, account: np.ndarray, day: np.ndarray) -> dict:
    """Days past due, bucket and amounts of each (account position, as-of day) query.

    Returns arrays keyed by the output columns (amounts in currency units).
    """
    account = np.asarray(account, dtype=np.int64)
    day = np.asarray(day, dtype=np.int64)
    working = book.working[account]
    position = day.copy()
    if working.any():
        position[working] = day_numbers(day[working], WORKING)
    lo, hi = book.paid_at[account], book.paid_at[account + 1]
    paid = _sum_before(book.cum_paid, _search(book.paid_day, lo, hi, day, "right"), lo)
    lo, hi = book.due_at[account], book.due_at[account + 1]
    cfg = book.cfg
    tolerance = int(round(cfg.tolerance * 100))
    # Instalments more than grace_days past their due date, and the oldest one not paid.
    late = _search(book.due_position, lo, hi, position - cfg.grace_days, "left")
    oldest = _search(book.cum_due, lo, hi, paid + tolerance, "right")
    owed = _sum_before(book.cum_due, late, lo)
    overdue = np.maximum(owed - paid, 0)
    is_late = oldest < late
    dpd = np.where(is_late, position - book.due_position[np.minimum(oldest, hi - 1)], 0)
    overdue = np.where(is_late, overdue, 0)
    due_to_date = _sum_before(book.cum_due, _search(book.due_day, lo, hi, day, "right"), lo)
    total = book.cum_due[hi - 1]
    return {
        "working": working,
        "dpd": dpd.astype(np.int64),
        "bucket": dpd_bucket(dpd, unit="days"),  # index into BUCKETS
        "overdue_amount": overdue / 100,
        "due_to_date": due_to_date / 100,
        "paid_to_date": paid / 100,
        "balance": (total - paid) / 100,
    }


def _coded(codes: np.ndarray, names) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes, type=pa.int32()), pa.array(names))


def _table(book: Ledger, account: np.ndarray, day: np.ndarray, values: dict) -> pa.Table:
    """The output columns, texts dictionary-encoded (a few distinct values over many rows)."""
    month = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    first, low = int(month.min()), int(account.min())
    names = np.arange(first, int(month.max()) + 1).astype("datetime64[M]").astype(str)
    ids = book.ids.slice(low, int(account.max()) - low + 1)  # this part's accounts only
    columns = {
        "account_id": pa.DictionaryArray.from_arrays(pa.array(account - low, pa.int32()), ids),
        "as_of": pa.array(day.astype("datetime64[D]"), type=pa.date32()),
        "month": _coded(month - first, names),
        "day_count": _coded(values.pop("working").astype(np.int32), [CALENDAR, WORKING]),
        "bucket": _coded(values.pop("bucket"), list(BUCKETS)),
        **{k: pa.array(v) for k, v in values.items()},
    }
    return pa.table({k: columns[k] for k in OUTPUT_COLUMNS if k in columns})


def _as_of_day(text: str) -> int:
    try:
        return int(np.datetime64(pd.Timestamp(text).date(), "D").astype(np.int64))
    except (ValueError, TypeError):
        raise DataError(f"as-of date {text!r} is not a date (YYYY-MM-DD)") from None


def _last_month(book: Ledger, until: str | None) -> int:
    """``until`` (YYYY-MM) as months since 1970-01; default the last month with any activity."""
    if until is None:
        last_day = max(int(book.due_day.max()), int(book.paid_day.max(initial=0)))
        return int(np.datetime64(last_day, "D").astype("datetime64[M]").astype(np.int64))
    try:
        return int(np.datetime64(str(pd.Period(until, freq="M")), "M").astype(np.int64))
    except (ValueError, TypeError):
        raise DataError(f"--until {until!r} is not a month (YYYY-MM)") from None


def _month_ends(book: Ledger, accounts: np.ndarray, end: int) -> pa.Table:
    """The panel rows of ``accounts``: each month end from its first activity to ``end``."""
    first = book.due_day[book.due_at[accounts]].astype(np.int64)
    lo, hi = book.paid_at[accounts], book.paid_at[accounts + 1]
    paid_first = book.paid_day[np.minimum(lo, max(len(book.paid_day) - 1, 0))]
    first = np.where(hi > lo, np.minimum(first, paid_first), first)
    month = first.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    months = np.maximum(end - month + 1, 0)
    account = np.repeat(accounts, months)
    step = np.arange(len(account)) - np.repeat(np.cumsum(months) - months, months)
    # The month's last day: the first day of the next month, less one.
    next_month = (np.repeat(month, months) + step + 1).astype("datetime64[M]")
    day = next_month.astype("datetime64[D]").astype(np.int64) - 1
    values = arrears(book, account, day)
    paid = values["paid_to_date"]
    before = np.concatenate([[0.0], paid[:-1]])
    values["payment"] = np.round(np.where(step == 0, paid, paid - before), 2)
    return _table(book, account, day, values)


def _wide(book: Ledger, accounts: np.ndarray, day: int, months: int) -> pa.Table:
    """One row per account at ``day``: its arrears, then the last ``months`` days past due,
    balances and payments as columns, newest first (``dpd_0`` at ``day``, ``dpd_1`` at the
    month end before it, ...): the layout of a nightly book."""
    month = int(np.datetime64(day, "D").astype("datetime64[M]").astype(np.int64))
    firsts = np.arange(month, month - months, -1).astype("datetime64[M]").astype("datetime64[D]")
    # The as-of day, then each earlier month end (a month's first day, less one); one more
    # date than months, as a month's payments are the difference of two.
    days = np.concatenate([[day], firsts.astype(np.int64) - 1])
    k, n = len(days), len(accounts)
    values = arrears(book, np.repeat(accounts, k), np.tile(days, n))
    grid = {name: np.asarray(v).reshape(n, k) for name, v in values.items()}
    table = _table(book, accounts, np.full(n, day), {name: g[:, 0] for name, g in grid.items()})
    paid = grid["paid_to_date"]
    history = {
        "dpd": grid["dpd"],
        "balance": grid["balance"],
        "payment": np.round(paid[:, :-1] - paid[:, 1:], 2),
    }
    for name, columns in history.items():
        for i in range(months):
            table = table.append_column(f"{name}_{i}", pa.array(columns[:, i]))
    return table


def iter_arrears(
    book: Ledger,
    as_of: str | None = None,
    until: str | None = None,
    part: int = 100_000,
    wide: int = 0,
):
    """The output in parts of ``part`` accounts: at ``as_of`` (YYYY-MM-DD) one row per
    account (with ``wide`` months of history as columns, newest first: the nightly book's
    layout), else the monthly panel (one row per account and month end, from the month of its
    first due date or first payment to ``until``, YYYY-MM). ``payment`` is what counted as
    paid in the month."""
    day = _as_of_day(as_of) if as_of else None
    end = None if as_of else _last_month(book, until)
    n = len(book.ids)
    for low in range(0, n, part):
        accounts = np.arange(low, min(n, low + part))
        if day is None:
            yield _month_ends(book, accounts, end)
        elif wide:
            yield _wide(book, accounts, day, wide)
        else:
            days = np.full(len(accounts), day)
            yield _table(book, accounts, days, arrears(book, accounts, days))


def arrears_at_date(book: Ledger, as_of: str) -> pa.Table:
    """One row per account: its arrears at the end of day ``as_of`` (YYYY-MM-DD)."""
    return pa.concat_tables(iter_arrears(book, as_of=as_of))


def arrears_panel(book: Ledger, until: str | None = None) -> pa.Table:
    """The monthly panel of :func:`iter_arrears`, as one table."""
    return pa.concat_tables(iter_arrears(book, until=until))


def write_arrears(
    cfg: ArrearsConfig,
    schedule_path: Path,
    payments_path: Path,
    out: Path,
    as_of: str | None = None,
    until: str | None = None,
    sep: str | None = None,
    wide: int = 0,
) -> tuple[dict[str, int], Ledger]:
    """Read the schedule and payments, compute arrears (at ``as_of``, with ``wide`` months of
    history as columns if asked, else the monthly panel) and write them to ``out`` (Parquet,
    or CSV by its suffix) part by part, published atomically: a fault on the way leaves
    nothing at ``out``. Returns rows per DPD bucket."""
    if Path(out).suffix.lower() not in {".parquet", ".csv"}:
        raise DataError(f"{out}: the output must end in .parquet or .csv")
    s_cols = [cfg.id, cfg.due_date, cfg.amount_due] + ([cfg.product] if cfg.product else [])
    p_cols = [cfg.id, cfg.payment_date, cfg.amount]
    texts = [cfg.id, cfg.product]  # read as dictionaries: each distinct text held once
    schedule = read_columns(schedule_path, sep, s_cols, texts, "schedule", "arrears:")
    payments = read_columns(payments_path, sep, p_cols, texts, "payments", "arrears:")
    book = ledger(schedule, payments, cfg, (str(schedule_path), str(payments_path)))
    del schedule, payments
    counts = np.zeros(len(BUCKETS), dtype=np.int64)

    def count(table: pa.Table) -> None:
        bucket = table.column("bucket").combine_chunks().indices.to_numpy()
        counts[:] += np.bincount(bucket, minlength=len(BUCKETS))

    write_frames(out, iter_arrears(book, as_of, until, wide=wide), count)
    return dict(zip(BUCKETS, counts.tolist(), strict=True)), book
