"""Monthly performance panels: one row per account and month, read into account x month arrays.

From a panel this module builds the two things a scorecard developer starts from:

- **snapshots** (:func:`snapshots`): the training table, one row per account and observation
  month. Its history columns are the account's last ``history_months`` months, newest first,
  laid out as the wide table today's features read (:func:`history_config`), so features come
  from the same code as for every other table; its label is the configured bad definition
  over the months after the observation month. Already-bad, too-young, absent and not yet
  matured accounts are left out and counted.
- **vintage curves** (:func:`vintage_curves`): per origination cohort, the share of its
  accounts ever 30+ / 60+ / 90+ past due by months on book.

Rules, stated once:

- a month missing between an account's first and last rows (a gap) is counted, and filled
  from the month before it (status, balance, payment carried forward);
- months before an account's first row are not late, with no balance or payment;
- an account is matured for a window when it turned bad inside it, or has a row in the
  window's last month; otherwise (closed or gone before the end, never bad) it is immature.

The panel lives in dense float32 arrays (accounts x months), four bytes a cell: a million
accounts over 36 months take 144 MB per measure.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from delinq.pipeline.book.io import DataError, read_table
from delinq.pipeline.config import Config, HistoryConfig, PanelConfig

# The range a status may take in its unit; outside it the unit is probably wrong.
STATUS_RANGE = {"months": (-2, 36), "days": (0, 3660)}
SNAPSHOT_ID, ACCOUNT, OBSERVED, TARGET = "snapshot_id", "account_id", "observation_month", "bad"


@dataclass
class Panel:
    """A validated panel as account x month arrays (NaN: no row that month)."""

    ids: np.ndarray  # account ids as text, sorted
    months: pd.PeriodIndex  # every month from the first to the last, consecutive
    status: np.ndarray
    measures: dict[str, np.ndarray]  # "balance", "payment", "limit" as configured
    first: np.ndarray  # each account's first month (origination), as a month index
    row_at: np.ndarray  # (account, month) -> row of `static`, -1 where none
    static: pd.DataFrame
    gaps: int  # account-months filled by the gap rule


def _positions(mask) -> list[int]:
    return np.flatnonzero(np.asarray(mask))[:6].tolist()


def _months(values: pd.Series, source: str, column: str) -> pd.PeriodIndex:
    text = values.astype(str).str.strip()
    compact = text.str.fullmatch(r"\d{6}")
    parsed = pd.to_datetime(text.where(~compact), errors="coerce", format="ISO8601")
    parsed[compact] = pd.to_datetime(text[compact], format="%Y%m", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        raise DataError(
            f"{source}: {int(bad.sum())} row(s) of '{column}' are not months (YYYY-MM, "
            f"YYYY-MM-DD or YYYYMM; row positions {_positions(bad)})"
        )
    return pd.PeriodIndex(parsed, freq="M")


def _read(path: Path, sep: str | None) -> pd.DataFrame:
    """One file, or a folder of monthly files (CSV or Parquet), in name order."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in {".csv", ".parquet"})
        if not files:
            raise DataError(f"{path}: no .csv or .parquet files in the folder")
        return pd.concat([read_table(f, sep) for f in files], ignore_index=True)
    return read_table(path, sep)


def read_panel(path: Path, cfg: PanelConfig, sep: str | None = None) -> Panel:
    """Read and check a panel. Errors name the file, column, row positions and months, never
    an account or any other value from a row."""
    frame = _read(path, sep)
    return panel_from_frame(frame, cfg, str(path))


def panel_from_frame(frame: pd.DataFrame, cfg: PanelConfig, source: str) -> Panel:
    """:func:`read_panel` on a frame already in memory."""
    measures = {"balance": cfg.balance, "payment": cfg.payment, "limit": cfg.limit}
    needed = {"id": cfg.id, "month": cfg.month, "status": cfg.status}
    needed |= {k: v for k, v in measures.items() if v} | {f"static {c}": c for c in cfg.static}
    for role, column in needed.items():
        if column not in frame.columns:
            raise DataError(f"{source}: panel {role} column '{column}' not found (panel:)")
    month = _months(frame[cfg.month], source, cfg.month)
    status = pd.to_numeric(frame[cfg.status], errors="coerce").to_numpy(dtype=float)
    low, high = STATUS_RANGE[cfg.status_unit]
    wrong = np.isnan(status) | (status < low) | (status > high)
    if wrong.any():
        raise DataError(
            f"{source}: {int(wrong.sum())} row(s) of '{cfg.status}' are not a status in "
            f"{cfg.status_unit} past due ({low} to {high}; row positions {_positions(wrong)})"
        )
    ids = frame[cfg.id].astype(str).to_numpy()
    codes, uniques = pd.factorize(ids, sort=True)
    start = month.min()
    col = (month - start).map(lambda d: d.n).to_numpy(dtype=np.int64)
    n_acc, n_mon = len(uniques), int(col.max()) + 1
    flat = codes.astype(np.int64) * n_mon + col
    order = np.argsort(flat, kind="stable")
    repeat = np.zeros(len(flat), dtype=bool)
    repeat[order[1:]] = flat[order[1:]] == flat[order[:-1]]
    if repeat.any():
        months = sorted({str(m) for m in month[repeat]})[:3]
        raise DataError(
            f"{source}: {int(repeat.sum())} row(s) repeat an account's month (row positions "
            f"{_positions(repeat)}; months {', '.join(months)}): one row per account and month"
        )
    row_at = np.full((n_acc, n_mon), -1, dtype=np.int64)
    row_at[codes, col] = np.arange(len(frame))
    arrays = {"status": status}
    for name, column in measures.items():
        if column:
            arrays[name] = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float)
    dense = {}
    for name, values in arrays.items():
        grid = np.full((n_acc, n_mon), np.nan, dtype=np.float32)
        grid[codes, col] = values
        dense[name] = grid
    present = row_at >= 0
    first = present.argmax(axis=1)
    last = n_mon - 1 - present[:, ::-1].argmax(axis=1)
    span = np.arange(n_mon)[None, :]
    inside = (span >= first[:, None]) & (span <= last[:, None])
    gap = inside & ~present
    for grid in dense.values():  # carry the month before forward into each gap
        for m in range(1, n_mon):
            fill = gap[:, m]
            grid[fill, m] = grid[fill, m - 1]
    if cfg.origination:
        opened = _months(frame[cfg.origination], source, cfg.origination)
        opened_at = pd.Series((opened - start).map(lambda d: d.n), dtype="int64")
        first = opened_at.groupby(codes).min().reindex(range(n_acc)).to_numpy(dtype=np.int64)
    return Panel(
        ids=np.asarray(uniques, dtype=object),
        months=pd.period_range(start, periods=n_mon, freq="M"),
        status=dense.pop("status"),
        measures=dense,
        first=first,
        row_at=row_at,
        static=frame[cfg.static].reset_index(drop=True),
        gaps=int(gap.sum()),
    )


def history_config(cfg: PanelConfig) -> HistoryConfig:
    """The wide history layout of the snapshot columns (for the training config)."""
    h = range(cfg.history_months)
    return HistoryConfig(
        status=[f"status_{i}" for i in h],
        status_unit=cfg.status_unit,
        balance=[f"balance_{i}" for i in h] if cfg.balance else [],
        payment=[f"payment_{i}" for i in h] if cfg.payment else [],
        limit="limit" if cfg.limit else None,
    )


def _observation_months(panel: Panel, cfg: PanelConfig) -> list[int]:
    h, w, n = cfg.history_months, cfg.bad.within_months, len(panel.months)
    if cfg.observations:
        wanted = [pd.Period(m, "M") for m in cfg.observations]
        at = [(m - panel.months[0]).n for m in wanted]
        outside = [str(m) for m, t in zip(wanted, at, strict=True) if not 0 <= t < n]
        if outside:
            raise DataError(f"panel.observations outside the panel's months: {outside}")
        return at
    months = list(range(h - 1, n - w))
    if not months:
        raise DataError(
            f"the panel spans {n} months; {h} months of history and a {w}-month performance "
            f"window need at least {h + w} (panel.history_months, panel.bad.within_months)"
        )
    return months


def snapshots(panel: Panel, cfg: PanelConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training table (one row per kept account and observation month) and, per
    observation month, how many accounts were kept and why the others were left out."""
    h, w = cfg.history_months, cfg.bad.within_months
    level, n = cfg.bad.dpd_at_least, len(panel.months)
    # Before its first month an account is not late, with nothing billed or paid.
    status = np.where(np.arange(n)[None, :] < panel.first[:, None], 0, panel.status)
    parts, counts = [], []
    for t in _observation_months(panel, cfg):
        on_book = panel.row_at[:, t] >= 0
        age = t - panel.first
        young = on_book & (age < cfg.min_months_on_book)
        already = on_book & ~young & (status[:, t] >= level)
        if not cfg.exclude_already_bad:
            already[:] = False
        window = status[:, t + 1 : min(t + w, n - 1) + 1]
        turned = (np.nan_to_num(window, nan=-np.inf) >= level).any(axis=1)
        end = t + w  # a row in the window's last month: observed through the window
        matured = turned | (panel.row_at[:, end] >= 0) if end < n else turned
        eligible = on_book & ~young & ~already
        keep = eligible & matured
        rows = np.flatnonzero(keep)
        columns = {
            SNAPSHOT_ID: [f"{a}@{panel.months[t]}" for a in panel.ids[rows]],
            ACCOUNT: panel.ids[rows],
            OBSERVED: str(panel.months[t]),
            "months_on_book": age[rows],
        }
        back = [t - i for i in range(h)]  # newest first
        for i, m in enumerate(back):
            columns[f"status_{i}"] = status[rows, m] if m >= 0 else 0.0
        for name in ("balance", "payment"):
            if name in panel.measures:
                grid = np.nan_to_num(panel.measures[name], nan=0.0)
                for i, m in enumerate(back):
                    columns[f"{name}_{i}"] = grid[rows, m] if m >= 0 else 0.0
        if "limit" in panel.measures:
            columns["limit"] = panel.measures["limit"][rows, t]
        part = pd.DataFrame(columns)
        if len(panel.static.columns):
            attrs = panel.static.iloc[panel.row_at[rows, t]].reset_index(drop=True)
            part = pd.concat([part, attrs], axis=1)
        part[TARGET] = turned[rows].astype(np.int64)
        parts.append(part)
        counts.append(
            {
                OBSERVED: str(panel.months[t]),
                "accounts": len(panel.ids),
                "not_on_book": int((~on_book).sum()),
                "too_young": int(young.sum()),
                "already_bad": int(already.sum()),
                "immature": int((eligible & ~matured).sum()),
                "kept": len(rows),
                "bads": int(turned[rows].sum()),
            }
        )
    table = pd.concat(parts, ignore_index=True)
    report = pd.DataFrame(counts)
    report["bad_rate"] = report["bads"] / report["kept"].replace(0, np.nan)
    return table, report


def vintage_curves(panel: Panel, levels: tuple[float, ...]) -> pd.DataFrame:
    """Per origination cohort (month) and level: the share of the cohort's accounts ever at
    least ``level`` past due by each month on book; NaN where the cohort is not that old yet.

    Long format: cohort, level, months_on_book, accounts, ever_share.
    """
    n = len(panel.months)
    inside = (panel.first >= 0) & (panel.first < n)
    first = panel.first[inside]
    status = panel.status[inside]
    cohorts = pd.Series(first)
    out = []
    for level in levels:
        ever = np.zeros(len(first), dtype=bool)
        for k in range(n):
            col = first + k
            alive = col < n
            value = np.full(len(first), np.nan, dtype=np.float32)
            value[alive] = status[np.flatnonzero(alive), col[alive]]
            ever |= np.nan_to_num(value, nan=-np.inf) >= level
            share = pd.Series(ever, dtype=float).groupby(cohorts).mean()
            size = cohorts.value_counts().sort_index()
            old_enough = share.index + k < n
            for cohort in share.index[old_enough]:
                out.append(
                    {
                        "cohort": str(panel.months[cohort]),
                        "level": level,
                        "months_on_book": k,
                        "accounts": int(size[cohort]),
                        "ever_share": float(share[cohort]),
                    }
                )
    return pd.DataFrame(out)


def write_snapshots(cfg: Config, panel_path: Path, out: Path) -> tuple[pd.DataFrame, list[Path]]:
    """Build the snapshots of the panel at ``panel_path`` and write, each atomically: the
    table (Parquet, ``out``), the exclusions per observation month (``*_exclusions.csv``) and a
    training config beside them (``*.yaml``: ``delinq train --config`` it).

    The config is ``cfg`` with the snapshot's data layout: target ``bad``, one id per
    account and month, CV grouped by account, and the history columns of the snapshot.
    """
    panel = read_panel(panel_path, cfg.panel, cfg.data.sep)
    table, report = snapshots(panel, cfg.panel)
    if table.empty:
        raise DataError(f"{panel_path}: no account is left in any snapshot (see the exclusions)")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    raw = cfg.model_dump(mode="json")
    raw["data"] |= {
        "path": out.name,  # beside the config: found wherever the pair is moved
        "target": TARGET,
        "id": SNAPSHOT_ID,
        "group": ACCOUNT,
        "positive_label": None,
        "categorical": [c for c in cfg.panel.static if c in cfg.data.categorical]
        + [c for c in cfg.panel.static if not pd.api.types.is_numeric_dtype(table[c])],
        "time": OBSERVED,
        "history": history_config(cfg.panel).model_dump(mode="json"),
    }
    raw["data"]["categorical"] = sorted(set(raw["data"]["categorical"]))
    if Path(cfg.policy).exists():  # the config may move; the policy stays where it is
        raw["policy"] = str(Path(cfg.policy).resolve())
    for key in ("drop", "personal", "not_personal", "protected"):  # the base table's columns
        raw["data"][key] = [c for c in raw["data"][key] if c in table.columns]
    written = []
    for path, write in (
        (out, lambda p: table.to_parquet(p, index=False)),
        (out.with_name(f"{out.stem}_exclusions.csv"), lambda p: report.to_csv(p, index=False)),
        (out.with_suffix(".yaml"), lambda p: p.write_text(yaml.safe_dump(raw, sort_keys=False))),
    ):
        staging = path.with_name(f".{path.name}.tmp")
        write(staging)
        os.replace(staging, path)
        written.append(path)
    return report, written


def _buckets(status: np.ndarray, unit: str) -> np.ndarray:
    """Delinquency bucket of each status: 0 current, 1 = 1-30 days (one month late), 2 = 31-60,
    3 = 61-90, 4 = 90+ (NaN stays NaN)."""
    late = np.maximum(status, 0)
    if unit == "days":
        late = np.ceil(late / 30)
    return np.where(np.isnan(status), np.nan, np.minimum(late, 4))


BUCKET_NAMES = ["current", "1-30", "31-60", "61-90", "90+"]


def roll_forward(panel: Panel, unit: str, horizons: tuple[int, ...] = (3, 6, 12)) -> pd.DataFrame:
    """For accounts in each bucket in any month: the share that reach 90+ within k months
    (only account-months with k months of panel after them count). Rows: buckets; columns:
    ``to_90_within_<k>`` and the account-months behind them."""
    bucket = _buckets(panel.status, unit)
    n = bucket.shape[1]
    rows = {}
    for b, name in enumerate(BUCKET_NAMES[:4]):
        out = {}
        for k in horizons:
            if k >= n:
                continue
            start = bucket[:, : n - k] == b
            # Whether any of the k following months is 90+: a running window maximum.
            ahead = np.zeros_like(start)
            for step in range(1, k + 1):
                ahead |= np.nan_to_num(bucket[:, step : n - k + step], nan=-1) >= 4
            out[f"to_90_within_{k}"] = float(ahead[start].mean()) if start.any() else np.nan
            out[f"account_months_{k}"] = int(start.sum())
        rows[name] = out
    table = pd.DataFrame(rows).T.rename_axis("bucket")
    counts = [c for c in table.columns if c.startswith("account_months")]
    return table.astype(dict.fromkeys(counts, "int64"))


def cure_rates(panel: Panel, unit: str, within: int = 12) -> pd.DataFrame:
    """For each bucket 1-30 to 90+: the accounts that first reach it with ``within`` months of
    panel after, and the share of them current again (not late) within those months."""
    bucket = _buckets(panel.status, unit)
    n = bucket.shape[1]
    rows = {}
    for b in range(1, 5):
        reached = np.nan_to_num(bucket, nan=-1) >= b
        ever = reached.any(axis=1)
        first = reached.argmax(axis=1)
        ok = ever & (first + within < n)
        acc = np.flatnonzero(ok)
        offsets = first[acc, None] + np.arange(1, within + 1)[None, :]
        cured = (np.nan_to_num(bucket[acc[:, None], offsets], nan=-1) == 0).any(axis=1)
        rows[BUCKET_NAMES[b]] = {
            "accounts": len(acc),
            f"cured_within_{within}": int(cured.sum()),
            "cure_rate": float(cured.mean()) if len(acc) else np.nan,
        }
    table = pd.DataFrame(rows).T.rename_axis("bucket")
    return table.astype({"accounts": "int64", f"cured_within_{within}": "int64"})


def recommend_bad(cures: pd.DataFrame, max_cure: float = 0.3) -> str:
    """The lowest bucket from which fewer than ``max_cure`` of accounts ever come back within
    the window: the point of no return, stated with the numbers behind it."""
    for name, row in cures.iterrows():
        if row["accounts"] and row["cure_rate"] < max_cure:
            return (
                f"bad = reaching {name} days past due: of {int(row['accounts']):,} accounts "
                f"that first got there, {row['cure_rate']:.0%} were current again within the "
                f"window (under {max_cure:.0%}: the point of no return)"
            )
    return (
        f"no bucket up to 90+ has a cure rate under {max_cure:.0%}: keep 90+ and read the "
        "roll-forward table; this book cures more than most"
    )
