"""Loan-book simulator in the Taiwan credit-card schema.

Each account has a latent risk. Its monthly repayment status follows a roll-rate (Markov) chain
whose worsening moves grow with that risk and with utilisation; balances and payments follow
from the status, and the target is whether the account is late again next month. Transition
rates and marginal distributions are set from the published figures of the UCI "default of
credit card clients" data (bad rate 22 %, status-code mix, limit / balance / payment quantiles).

Rows are generated in fixed-size chunks from per-chunk seeds, so a book is a pure function of
``(rows, seed)`` and any book is a prefix of a larger one with the same seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CHUNK_ROWS = 65_536
MONTHS = 6
STATUS_COLS = ["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]  # newest first
BILL_COLS = [f"BILL_AMT{i}" for i in range(1, MONTHS + 1)]
PAYMENT_COLS = [f"PAY_AMT{i}" for i in range(1, MONTHS + 1)]
TARGET = "default_next_month"
COLUMNS = [
    "ID",
    "LIMIT_BAL",
    "SEX",
    "EDUCATION",
    "MARRIAGE",
    "AGE",
    *STATUS_COLS,
    *BILL_COLS,
    *PAYMENT_COLS,
    TARGET,
]

# Repayment-status codes: -2 no consumption, -1 paid in full, 0 revolving, k = k months late.
STATES = np.arange(-2, 9)
# Base month-to-month transition rows (from -> to), read off the real data's PAY_3 -> PAY_2
# cross-tab and smoothed. Columns follow STATES. Rows sum to 1.
_BASE = {
    -2: {-2: 0.80, -1: 0.11, 0: 0.07, 1: 0.015, 2: 0.005},
    -1: {-2: 0.06, -1: 0.78, 0: 0.10, 1: 0.045, 2: 0.015},
    0: {-1: 0.05, 0: 0.86, 1: 0.055, 2: 0.035},
    1: {-1: 0.18, 0: 0.32, 1: 0.15, 2: 0.35},
    2: {-1: 0.10, 0: 0.24, 1: 0.05, 2: 0.55, 3: 0.06},
}
_LATE_ROW = {"cure_paid": 0.10, "cure_revolve": 0.15, "partial": 0.35, "stay": 0.25, "roll": 0.15}
# Log-odds of defaulting next month by current status (-2, -1, 0, 1, 2, 3+), set so that the
# bad rate by status matches the real data's (13 %, 17 %, 13 %, 34 %, 69 %, 76 %).
_DEFAULT_LOGIT = np.array([-1.75, -1.55, -2.1, -1.35, 0.1, 0.3])
BURN_IN = 2


def _transition_matrix() -> np.ndarray:
    """Base transition probabilities, shape (len(STATES), len(STATES))."""
    index = {s: i for i, s in enumerate(STATES)}
    matrix = np.zeros((len(STATES), len(STATES)))
    for state in STATES:
        row = matrix[index[state]]
        if state in _BASE:
            for to, p in _BASE[state].items():
                row[index[to]] = p
        else:  # three or more months late: cure, pay part (one bucket back), stay or roll on
            row[index[-1]] += _LATE_ROW["cure_paid"]
            row[index[0]] += _LATE_ROW["cure_revolve"]
            row[index[state - 1]] += _LATE_ROW["partial"]
            row[index[state]] += _LATE_ROW["stay"]
            row[index[min(state + 1, 8)]] += _LATE_ROW["roll"]
    return matrix / matrix.sum(axis=1, keepdims=True)


class _Chain:
    """The roll-rate chain, with moves to a worse state scaled by ``exp(stress)`` per account.

    Sampling goes in two draws: first whether the account worsens, with probability
    ``f W / (B + f W)`` (W, B: the base row's worse and not-worse mass, f: the account's
    factor), then which state, from the base row restricted to that group. That is exactly the
    rescaled row, without building an (accounts x states) matrix every month.
    """

    def __init__(self) -> None:
        base = _transition_matrix()
        worse = STATES[None, :] > STATES[:, None]
        self.worse_mass = (base * worse).sum(axis=1)
        # cdf[state, group] is the cumulative base row within group 0 (not worse) / 1 (worse).
        cdf = np.zeros((len(STATES), 2, len(STATES)))
        for group, mask in enumerate((~worse, worse)):
            part = base * mask
            total = part.sum(axis=1, keepdims=True)
            cdf[:, group] = np.cumsum(
                np.divide(part, total, out=np.zeros_like(part), where=total > 0), axis=1
            )
        cdf[:, :, -1] = 1.0  # guard against rounding at the top
        self.cdf = cdf

    def step(self, status: np.ndarray, factor: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        row = status + 2
        w = self.worse_mass[row] * factor
        worsens = rng.random(len(status)) * (1 - self.worse_mass[row] + w) < w
        cdf = self.cdf[row, worsens.astype(np.int64)]
        draw = rng.random(len(status))[:, None]
        return STATES[(cdf < draw).sum(axis=1).clip(max=len(STATES) - 1)]


@dataclass
class Accounts:
    """Accounts as the simulator draws them, before their months: one array per attribute."""

    risk: np.ndarray  # latent risk, standard normal
    limit: np.ndarray
    age: np.ndarray
    sex: np.ndarray
    education: np.ndarray
    marriage: np.ndarray
    utilisation: np.ndarray  # the share of the line the account gravitates to
    status: np.ndarray  # repayment status before the first simulated month
    bill: np.ndarray  # the statement before the first simulated month


def draw_accounts(rows: int, rng: np.random.Generator) -> Accounts:
    """``rows`` accounts: risk, line, demographics, utilisation and a starting state."""
    risk = rng.standard_normal(rows)
    limit = np.exp(np.log(150_000) + 0.7 * rng.standard_normal(rows) - 0.35 * risk)
    # Starter lines give the real data its long left tail of small limits.
    limit *= np.where(rng.random(rows) < 0.15, rng.uniform(0.1, 0.5, rows), 1.0)
    limit = (np.clip(limit, 10_000, 1_000_000) / 10_000).round() * 10_000
    age = np.clip(21 + rng.gamma(3.0, 4.6, rows) - 1.0 * risk, 21, 79).round()
    sex = np.where(rng.random(rows) < 0.604, 2, 1)
    education = rng.choice(
        [1, 2, 3, 4, 5, 6, 0], rows, p=[0.353, 0.468, 0.164, 0.004, 0.009, 0.0017, 0.0003]
    )
    education = np.where((risk > 1.2) & (education == 1) & (rng.random(rows) < 0.4), 3, education)
    marriage = rng.choice([1, 2, 3, 0], rows, p=[0.455, 0.532, 0.011, 0.002])
    # Utilisation the account gravitates to; the risky run their lines hotter.
    utilisation = 1 / (1 + np.exp(-(-0.1 + 0.8 * risk + 1.2 * rng.standard_normal(rows))))
    status = rng.choice(STATES[:5], rows, p=[0.16, 0.19, 0.54, 0.03, 0.08])
    bill = limit * utilisation * rng.lognormal(-0.5, 0.4, rows)
    return Accounts(risk, limit, age, sex, education, marriage, utilisation, status, bill)


def base_factor(accounts: Accounts) -> np.ndarray:
    """How much more often than the base chain each account moves to a worse state."""
    return np.exp(0.6 * accounts.risk + 1.0 * (accounts.utilisation - 0.45))


def next_month(
    status: np.ndarray,
    bill: np.ndarray,
    limit: np.ndarray,
    utilisation: np.ndarray,
    factor: np.ndarray,
    rng: np.random.Generator,
    chain: _Chain,
    spend_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One month of every account: its new repayment status, statement and payment.

    The status rolls on the chain (worse moves scaled by ``factor``); the payment follows
    from it and last month's statement; interest and fees accrue on late balances, and a
    few accounts carry a credit balance after a refund or overpayment.
    """
    new_status = chain.step(status, factor, rng)
    payment = _payment(new_status, bill, rng)
    spend = limit * utilisation * rng.lognormal(-1.8, 0.8, len(status)) * spend_scale
    bill = np.where(new_status > 0, bill * 1.02 + 0.01 * limit, bill - payment + spend)
    bill = np.where(new_status == -2, 0.0, bill)  # -2: the card was not used
    bill = np.where(new_status == -1, np.minimum(bill, spend), bill)
    bill = np.minimum(bill, limit * 1.1)
    bill = np.where(rng.random(len(status)) < 0.015, -rng.exponential(2_000, len(status)), bill)
    return new_status, bill, payment


def _chunk(rows: int, first_id: int, rng: np.random.Generator, chain: _Chain) -> pd.DataFrame:
    """One chunk of ``rows`` accounts with ids starting at ``first_id``: the wide view of the
    accounts' months (:func:`next_month`, the panel simulator's months too), the latest six
    as history and the default next month drawn from them."""
    acc = draw_accounts(rows, rng)
    factor = base_factor(acc)
    # Oldest month first; burn-in months let the chain and balances forget their start.
    status, bill = acc.status, acc.bill
    statuses, bills, payments = [], [], []
    for _ in range(BURN_IN + MONTHS):
        status, bill, payment = next_month(
            status, bill, acc.limit, acc.utilisation, factor, rng, chain
        )
        statuses.append(status)
        bills.append(np.round(bill))
        payments.append(np.round(payment))
    statuses, bills, payments = statuses[BURN_IN:], bills[BURN_IN:], payments[BURN_IN:]
    target = _default_next_month(statuses, bills, payments, acc.limit, acc.risk, rng)

    frame = {
        "ID": np.arange(first_id, first_id + rows, dtype=np.int64),
        "LIMIT_BAL": acc.limit,
        "SEX": acc.sex,
        "EDUCATION": acc.education,
        "MARRIAGE": acc.marriage,
        "AGE": acc.age.astype(np.int64),
    }
    # Lists were built oldest -> newest; the schema wants newest first.
    frame |= dict(zip(STATUS_COLS, [s.astype(np.int64) for s in statuses[::-1]], strict=True))
    frame |= dict(zip(BILL_COLS, bills[::-1], strict=True))
    frame |= dict(zip(PAYMENT_COLS, payments[::-1], strict=True))
    frame[TARGET] = target
    return pd.DataFrame(frame, columns=COLUMNS)


def _default_next_month(
    statuses: list[np.ndarray],
    bills: list[np.ndarray],
    payments: list[np.ndarray],
    limit: np.ndarray,
    risk: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw next month's default from the payment history, the line and the latent risk.

    The terms follow the real data's single-input AUCs (docs/benchmarks.md): the number of late
    months, the level of payments and the size of the line count; a dip in the latest payment
    barely does. Interactions a linear model cannot draw make it less than linear, as real
    books are: utilisation weighs on late accounts far more than on current ones, payments
    tell most about revolvers, and a maxed-out line is a warning only while still current.
    """
    latest, before = statuses[-1], statuses[-2]
    late = latest >= 1
    utilisation = np.clip(bills[-1] / limit, 0, 1.2)
    months_late = np.sum([s >= 1 for s in statuses], axis=0)
    pay_level = np.log1p(np.mean(payments, axis=0)) - 7.5  # about the real median's log
    line = np.log(limit) - 11.7
    logit = (
        _DEFAULT_LOGIT[np.clip(latest, -2, 3) + 2]
        + 0.45 * risk
        + 0.3 * (utilisation - 0.4)
        + 0.1 * (latest > before)
        + 0.15 * months_late
        - 0.15 * pay_level
        - 0.25 * line
        - 0.6 * (latest == 0) * pay_level
        + 1.3 * late * (utilisation - 0.5)
        + 0.5 * (utilisation > 0.9) * (latest <= 0)
        - 0.25
    )
    return (rng.random(len(latest)) < 1 / (1 + np.exp(-logit))).astype(np.int64)


def _payment(status: np.ndarray, prev_bill: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Amount paid this month given this month's status and last month's statement."""
    owed = np.maximum(prev_bill, 0.0)
    minimum = owed * rng.uniform(0.02, 0.12, len(status))
    partial = np.where(
        rng.random(len(status)) < 0.35, owed * rng.uniform(0.01, 0.08, len(status)), 0
    )
    paid = np.select(
        [status == -2, status == -1, status == 0],
        [
            owed * (rng.random(len(status)) < 0.3),
            owed * rng.uniform(0.5, 1.0, len(status)),
            minimum,
        ],
        default=partial,
    )
    return np.maximum(paid, 0.0)


def iter_book(rows: int, seed: int = 0) -> Iterator[pd.DataFrame]:
    """Yield the book in chunks of at most ``CHUNK_ROWS`` rows (ids 1..rows)."""
    if rows < 1:
        raise ValueError(f"rows must be at least 1, got {rows}")
    chain = _Chain()
    n_chunks = -(-rows // CHUNK_ROWS)
    for i, seq in enumerate(np.random.SeedSequence(seed).spawn(n_chunks)):
        chunk = _chunk(CHUNK_ROWS, 1 + i * CHUNK_ROWS, np.random.default_rng(seq), chain)
        yield chunk.iloc[: rows - i * CHUNK_ROWS] if i == n_chunks - 1 else chunk


def simulate_book(rows: int, seed: int = 0) -> pd.DataFrame:
    """Return a simulated loan book of ``rows`` accounts as one DataFrame."""
    return pd.concat(iter_book(rows, seed), ignore_index=True)


def write_book(path: Path, rows: int, seed: int = 0, progress=None) -> Path:
    """Write a simulated book to ``path`` (``.parquet`` or ``.csv``) chunk by chunk.

    The file appears only when complete: chunks go to a temporary sibling that is renamed at the
    end, so an interrupted run never leaves a half-written book behind.
    """
    counted = None if progress is None else (lambda chunk: progress(len(chunk)))
    return write_frames(path, iter_book(rows, seed), counted)


def write_frames(path: Path, frames: Iterable, on_frame=None) -> Path:
    """Write ``frames`` (DataFrames or Arrow tables) one after another to ``path``
    (``.parquet`` or ``.csv``), through a temporary sibling renamed at the end: the file
    appears only when complete. ``on_frame(frame)`` is called after each is written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in {".parquet", ".csv"}:
        raise ValueError(f"{path}: output must end in .parquet or .csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    writer = None
    try:
        for i, frame in enumerate(frames):
            if suffix == ".csv":
                text = frame.to_pandas() if isinstance(frame, pa.Table) else frame
                text.to_csv(tmp, mode="w" if i == 0 else "a", header=i == 0, index=False)
            else:
                table = (
                    frame
                    if isinstance(frame, pa.Table)
                    else pa.Table.from_pandas(frame, preserve_index=False)
                )
                writer = writer or pq.ParquetWriter(tmp, table.schema, compression="zstd")
                writer.write_table(table)
            if on_frame is not None:
                on_frame(frame)
        if writer is not None:
            writer.close()
            writer = None
        tmp.replace(path)
    finally:
        if writer is not None:
            writer.close()
        tmp.unlink(missing_ok=True)
    return path
