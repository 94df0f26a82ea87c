"""A simulated monthly performance panel: one row per account and month (`make-book --panel`).

The wide book and the panel come from one generator: the same accounts
(:func:`~delinq.pipeline.book.simulate.draw_accounts`) and the same month
(:func:`~delinq.pipeline.book.simulate.next_month`: the roll-rate chain, payments, statements).
The wide book views six months of accounts that are all on the book; the panel adds what time
brings: accounts open in monthly cohorts, age, cure, charge off at six months late (180 days)
or close. Risk moves
with the season (a year-end peak) and, with ``shock_month``, a macro shock: from that month a
third of the accounts, chosen by nothing the panel records (a hidden sector exposure), run
two and a half times riskier, spending grows by a fifth and the lender cuts every limit by a
third. Out-of-time checks then have something to find: a lower AUC, and shifted limits.

Status is in months late (-2 no use, -1 paid in full, 0 revolving, k months late), the panel
config's ``status_unit: months``. A panel is a pure function of its arguments, generated
in fixed blocks of accounts from per-block seeds.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from delinq.pipeline.book.simulate import (
    _Chain,
    base_factor,
    draw_accounts,
    next_month,
    write_frames,
)
from delinq.pipeline.config import PanelConfig

BLOCK_ACCOUNTS = 32_768
BURN_IN = 6  # months simulated before the panel starts
CHARGE_OFF = 6  # months late: charged off, the account leaves the panel
CLOSE_RATE = 0.006  # accounts closing each month, current ones only
SEASON = 0.15  # risk swing over the year, highest in December
LIMIT_CUT = 1 / 3  # the shock's cut of every credit line
PANEL_COLUMNS = ["account_id", "month", "status", "balance", "payment", "limit", "origination"]


def panel_layout() -> PanelConfig:
    """The ``panel:`` settings that read a simulated panel (as configs/panel.yaml has them)."""
    return PanelConfig(
        id="account_id",
        month="month",
        status="status",
        status_unit="months",
        balance="balance",
        payment="payment",
        limit="limit",
        origination="origination",
        bad={"dpd_at_least": 3, "within_months": 12},
    )


def _block(
    first_id: int,
    accounts: int,
    months: pd.PeriodIndex,
    shock: int | None,
    rng: np.random.Generator,
    chain: _Chain,
) -> pd.DataFrame:
    n, m = accounts, len(months)
    # The wide book's accounts and months (simulate.draw_accounts, next_month): one generator.
    acc = draw_accounts(n, rng)
    limit, utilisation = acc.limit, acc.utilisation
    # Half the accounts are on the book when the panel starts (opened up to 3 years before);
    # the rest open month by month through it.
    opened = np.where(rng.random(n) < 0.5, -rng.integers(1, 37, n), rng.integers(0, m, n))
    hidden = rng.random(n) < 1 / 3  # the shock's exposure: nothing in the panel shows it
    status, bill = acc.status, acc.bill
    alive = np.ones(n, dtype=bool)
    # Origination months as text, looked up by offset: one Period per month, not per row.
    first_open = int(opened.min())
    opened_label = np.array([str(months[0] + k) for k in range(first_open, m)], dtype=object)
    rows = []
    # Six months before the panel are enough for the chain to forget its start.
    for t in range(max(int(opened.min()), -BURN_IN), m):
        active = alive & (opened <= t)
        if not active.any():
            continue
        season = 1 + SEASON * np.cos(2 * np.pi * ((months[0].month - 1 + t) % 12 - 11) / 12)
        factor = base_factor(acc) * season
        # The less linear part: running hot while already late compounds the risk.
        factor *= np.where((utilisation > 0.8) & (status > 0), 1.8, 1.0)
        if shock is not None and t >= shock:
            factor *= np.where(hidden, 2.5, 1.0)
        if shock is not None and t == shock:  # the lender cuts every line
            limit = np.maximum((limit * (1 - LIMIT_CUT) / 10_000).round() * 10_000, 10_000)
        spend_scale = 1.2 if shock is not None and t >= shock else 1.0
        new_status, bill, payment = next_month(
            status, bill, limit, utilisation, factor, rng, chain, spend_scale
        )
        new_status = np.where(opened == t, 0, new_status)  # a new account starts current
        status = np.where(active, new_status, status)
        if t >= 0:
            idx = np.flatnonzero(active)
            rows.append(
                pd.DataFrame(
                    {
                        "account_id": first_id + idx,
                        "month": str(months[t]),
                        "status": status[idx],
                        "balance": np.round(bill[idx]),
                        "payment": np.round(payment[idx]),
                        "limit": limit[idx],
                        "origination": opened_label[opened[idx] - first_open],
                    }
                )
            )
        charged_off = active & (status >= CHARGE_OFF)
        closed = active & (status <= 0) & (rng.random(n) < CLOSE_RATE)
        alive &= ~(charged_off | closed)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=PANEL_COLUMNS)


def iter_panel(
    accounts: int,
    months: int,
    start: str = "2023-01",
    seed: int = 0,
    shock_month: str | None = None,
) -> Iterator[pd.DataFrame]:
    """The panel block by block of accounts (account ids 1..accounts)."""
    if accounts < 1 or months < 2:
        raise ValueError("a panel needs at least 1 account and 2 months")
    span = pd.period_range(pd.Period(start, "M"), periods=months, freq="M")
    shock = None
    if shock_month is not None:
        shock = (pd.Period(shock_month, "M") - span[0]).n
        if not 0 <= shock < months:
            raise ValueError(f"--shock-month {shock_month} is outside {span[0]}..{span[-1]}")
    chain = _Chain()
    blocks = -(-accounts // BLOCK_ACCOUNTS)
    for i, seq in enumerate(np.random.SeedSequence(seed).spawn(blocks)):
        size = min(BLOCK_ACCOUNTS, accounts - i * BLOCK_ACCOUNTS)
        rng = np.random.default_rng(seq)
        yield _block(1 + i * BLOCK_ACCOUNTS, size, span, shock, rng, chain)


def simulate_panel(
    accounts: int,
    months: int,
    start: str = "2023-01",
    seed: int = 0,
    shock_month: str | None = None,
) -> pd.DataFrame:
    """The whole panel as one frame (small panels; :func:`write_panel` streams big ones)."""
    return pd.concat(iter_panel(accounts, months, start, seed, shock_month), ignore_index=True)


def write_panel(
    path: Path,
    accounts: int,
    months: int,
    start: str = "2023-01",
    seed: int = 0,
    shock_month: str | None = None,
    progress=None,
) -> Path:
    """Write the panel to a Parquet file block by block; it appears only when complete."""
    counted = None if progress is None else (lambda block: progress(block["account_id"].nunique()))
    return write_frames(path, iter_panel(accounts, months, start, seed, shock_month), counted)
