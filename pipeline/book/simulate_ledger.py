"""A simulated repayment ledger: instalment schedules and the payments made against them.

Input for ``delinq arrears`` (days past due from transactions). Each account borrows once,
repays in monthly instalments on a fixed day of the month, and behaves as one of four kinds
of payer: on time (a few days early at most), sometimes late by days or weeks, sometimes
short (a part of the instalment), or one who stops paying at some month. A few payments
bounce: reversed a few days later, then paid again. Half the accounts are loans whose days
past due are counted in working days (``arrears.day_count_by_product``), half are cards.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

PRODUCTS = ("card", "loan")
KINDS = np.array([0.78, 0.12, 0.06, 0.04])  # on time, late, short, stops paying


def simulate_ledger(
    accounts: int, months: int = 12, start: str = "2024-01", seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(schedule, payments) of ``accounts`` accounts with ``months`` instalments each,
    the first due in ``start`` (YYYY-MM) or up to three months later."""
    rng = np.random.default_rng(seed)
    first = np.datetime64(str(pd.Period(start, freq="M")), "M") + rng.integers(0, 4, accounts)
    day = rng.integers(1, 29, accounts)  # due day of month, valid in every month
    amount = np.round(rng.lognormal(7.0, 0.6, accounts), 2)
    kind = rng.choice(len(KINDS), size=accounts, p=KINDS)
    product = rng.integers(0, 2, accounts)

    account = np.repeat(np.arange(accounts), months)
    k = np.tile(np.arange(months), accounts)
    due = (first[account] + k).astype("datetime64[D]") + (day[account] - 1)
    ids = np.char.add("L", np.char.zfill(np.arange(accounts).astype(str), 8))
    schedule = pd.DataFrame(
        {
            "account_id": ids[account],
            "due_date": due,
            "amount_due": amount[account],
            "product": np.array(PRODUCTS)[product[account]],
        }
    )

    kinds = kind[account]
    offset = -rng.integers(0, 4, len(account))  # days before the due date
    late = (kinds == 1) & (rng.random(len(account)) < 0.35)
    offset = np.where(late, rng.integers(1, 45, len(account)), offset)
    short = (kinds == 2) & (rng.random(len(account)) < 0.5)
    share = np.where(short, rng.uniform(0.3, 0.9, len(account)), 1.0)
    stop = rng.integers(1, months, accounts)[account]
    pays = ~((kinds == 3) & (k >= stop))
    paid = np.round(amount[account] * share, 2)
    payments = pd.DataFrame(
        {
            "account_id": ids[account][pays],
            "payment_date": (due + offset)[pays],
            "amount": paid[pays],
        }
    )
    bounced = payments.sample(frac=0.005, random_state=seed)
    reversal = bounced.assign(
        payment_date=bounced["payment_date"] + np.timedelta64(3, "D"), amount=-bounced["amount"]
    )
    repaid = bounced.assign(payment_date=bounced["payment_date"] + np.timedelta64(10, "D"))
    payments = pd.concat([payments, reversal, repaid], ignore_index=True)
    return schedule, payments


def write_ledger(
    folder: Path, accounts: int, months: int = 12, start: str = "2024-01", seed: int = 0
) -> tuple[Path, Path]:
    """Write ``schedule.parquet`` and ``payments.parquet`` of a simulated ledger into
    ``folder``, each atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    frames = simulate_ledger(accounts, months, start, seed)
    for name, frame in zip(("schedule", "payments"), frames, strict=True):
        path = folder / f"{name}.parquet"
        staged = folder / f".{name}.parquet.tmp"
        table = pa.Table.from_pandas(frame, preserve_index=False)
        pq.write_table(table, staged, compression="zstd")
        os.replace(staged, path)
        written.append(path)
    return written[0], written[1]
