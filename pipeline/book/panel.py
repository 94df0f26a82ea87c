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
accounts over 36 months take 144 MB per measure. A panel longer than ``ROWS_PER_PART`` rows
is read and snapshotted in groups of accounts (:func:`panel_parts`), so memory stays flat:
about 0.9 GB at 10M rows and 1.0 GB at 36M (docs/benchmarks.md).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import yaml

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
from delinq.pipeline.config import Config, HistoryConfig, PanelConfig

# The range a status may take in its unit; outside it the unit is probably wrong.
STATUS_RANGE = {"months": (-2, 36), "days": (0, 3660)}
SNAPSHOT_ID, ACCOUNT, OBSERVED, TARGET = "snapshot_id", "account_id", "observation_month", "bad"
# A panel longer than this is read in groups of accounts (:func:`panel_parts`): read whole,
# 24M rows took 2.7 GB; in parts of about this many rows, 1.0 GB at 10M or 36M rows.
ROWS_PER_PART = 2_000_000
SPLIT_ROWS = 500_000  # rows read at a time while splitting a long panel into parts
ROW = "_row"  # a part's column: each row's position in the whole panel, for errors


@dataclass
class Panel:
    """A validated panel as account x month arrays (NaN: no row that month)."""

    ids: np.ndarray  # account ids as text, sorted
    months: pd.PeriodIndex  # every month from the first to the last, consecutive
    status: np.ndarray
    measures: dict[str, np.ndarray]  # "balance", "payment", "limit" as configured
    first: np.ndarray  # each account's first month (origination), as a month index
    row_at: np.ndarray  # (account, month) -> row of `static`, -1 where none
    static: pa.Table  # the static columns, one row per panel row
    gaps: int  # account-months filled by the gap rule


def _columns(cfg: PanelConfig) -> dict[str, str]:
    """Role -> column of every panel column the config names."""
    roles = {"id": cfg.id, "month": cfg.month, "status": cfg.status}
    optional = {
        "balance": cfg.balance,
        "payment": cfg.payment,
        "limit": cfg.limit,
        "origination": cfg.origination,
    }
    roles |= {k: v for k, v in optional.items() if v}
    return roles | {f"static {c}": c for c in cfg.static}


def _names(cfg: PanelConfig) -> list[str]:
    """Every column the panel config names, each once, in role order."""
    return list(dict.fromkeys(_columns(cfg).values()))


def _month_columns(cfg: PanelConfig) -> list[str]:
    """The columns that hold months (read as dictionaries: a month repeats over many rows)."""
    return [c for c in (cfg.month, cfg.origination) if c]


def read_panel(path: Path, cfg: PanelConfig, sep: str | None = None) -> Panel:
    """Read and check a panel. Errors name the file, column, row positions and months, never
    an account or any other value from a row."""
    return _panel(read_columns(path, sep, _names(cfg), _month_columns(cfg)), cfg, str(path))


def panel_parts(
    path: Path,
    cfg: PanelConfig,
    sep: str | None = None,
    rows_per_part: int = ROWS_PER_PART,
    scratch: Path | None = None,
) -> Iterator[Panel]:
    """The panel at ``path`` as panels of disjoint groups of accounts, each laid on the whole
    panel's months, so that memory stays flat however long the panel grows.

    A panel of at most ``rows_per_part`` rows is one part, read as :func:`read_panel` reads
    it. A longer one is first split, a batch of rows at a time, into one Parquet file per
    group of accounts (by a hash of the id: all of an account's rows in one group) in a
    temporary folder under ``scratch``; then the groups are read one by one. Every check of
    :func:`read_panel` still holds, and its errors name rows by their place in the whole
    input. A CSV panel is read whole before it is split (its reader is not columnar).
    """
    months = _month_columns(cfg)
    column = read_columns(path, sep, _names(cfg), months)
    parts = -(-column.num_rows // rows_per_part)
    if parts <= 1:
        yield _panel(column, cfg, str(path))
        return
    with tempfile.TemporaryDirectory(prefix=".panel-parts-", dir=scratch) as folder:
        span, files = _split_by_account(column, cfg, parts, Path(folder), str(path))
        del column  # a CSV panel's table: the parts hold its rows now
        for file in files:
            table = pq.read_table(file, read_dictionary=months)
            positions = table[ROW].to_numpy()
            yield _panel(Columns(table=table.drop_columns([ROW])), cfg, str(path), span, positions)


def _split_by_account(
    column: Columns, cfg: PanelConfig, parts: int, folder: Path, source: str
) -> tuple[tuple[int, int], list[Path]]:
    """Write the panel's rows into ``parts`` Parquet files by account group, each row with its
    position in the input; return the panel's first and last month and the files written."""
    names = _names(cfg)
    schemas = (
        [column.table.schema] if column.table is not None else map(pq.read_schema, column.files)
    )
    schema = pa.unify_schemas(
        [pa.schema([s.field(n) for n in names]) for s in schemas], promote_options="permissive"
    ).append(pa.field(ROW, pa.int64()))
    writers: list[pq.ParquetWriter | None] = [None] * parts
    low, high, offset = None, None, 0
    not_months, first_not_months = 0, []  # counted over the whole panel before it is said
    try:
        for batch in column.batches(names, SPLIT_ROWS):
            positions = np.arange(offset, offset + batch.num_rows, dtype=np.int64)
            offset += batch.num_rows
            month = _month_numbers(batch[cfg.month], source, cfg.month, check=False)
            if (month < 0).any():
                not_months += int((month < 0).sum())
                first_not_months += row_positions(month < 0, positions)
                month = month[month >= 0]
            if len(month):
                low = int(month.min()) if low is None else min(low, int(month.min()))
                high = int(month.max()) if high is None else max(high, int(month.max()))
            group = _account_groups(batch[cfg.id], parts)
            order = np.argsort(group, kind="stable")
            ends = np.searchsorted(group[order], np.arange(parts + 1))
            rows = batch.append_column(ROW, pa.array(positions)).cast(schema).take(order)
            for g in range(parts):
                if ends[g + 1] > ends[g]:
                    if writers[g] is None:
                        writers[g] = pq.ParquetWriter(folder / f"{g:05d}.parquet", schema)
                    writers[g].write_table(rows.slice(ends[g], ends[g + 1] - ends[g]))
    finally:
        for writer in writers:
            if writer is not None:
                writer.close()
    if not_months:
        raise _not_months(source, cfg.month, not_months, first_not_months[:6])
    return (low, high), [folder / f"{g:05d}.parquet" for g in range(parts) if writers[g]]


def _account_groups(ids: pa.ChunkedArray, parts: int) -> np.ndarray:
    """Each row's group of accounts: a fixed hash of its id as text (a row without an id:
    group 0, where the part's check names it)."""
    out = []
    for chunk in ids.chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk.cast(pa.string()))
        texts = chunk.dictionary.cast(pa.string()).to_numpy(zero_copy_only=False)
        keys = (pd.util.hash_array(np.asarray(texts, dtype=object)) % parts).astype(np.int64)
        at = chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        out.append(np.where(at >= 0, keys[np.maximum(at, 0)], 0))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def panel_from_frame(
    frame: pd.DataFrame, cfg: PanelConfig, source: str, span: tuple[int, int] | None = None
) -> Panel:
    """:func:`read_panel` on a frame already in memory. ``span`` (first and last month, as
    months since year 0) lays it on the whole panel's months when it holds only some
    accounts (a Spark group), so its observation months are the whole panel's."""
    for role, column in _columns(cfg).items():
        if column not in frame.columns:
            raise DataError(f"{source}: panel {role} column '{column}' not found (panel:)")
    table = pa.Table.from_pandas(frame[_names(cfg)], preserve_index=False)
    return _panel(Columns(table=table), cfg, source, span)


def _word_months(words: pa.Array) -> np.ndarray:
    """Months since year 0 of each distinct text (-1: not a month)."""
    words = pd.Series(words.cast(pa.string()).to_pylist(), dtype=object).str.strip()
    compact = words.str.fullmatch(r"\d{6}").fillna(False).astype(bool)
    parsed = pd.to_datetime(words.where(~compact), errors="coerce", format="ISO8601")
    parsed[compact] = pd.to_datetime(words[compact], format="%Y%m", errors="coerce")
    return np.where(parsed.isna(), -1, parsed.dt.year * 12 + parsed.dt.month - 1)


def _not_months(source: str, column: str, count: int, where: list[int]) -> DataError:
    return DataError(
        f"{source}: {count} row(s) of '{column}' are not months (YYYY-MM, YYYY-MM-DD or "
        f"YYYYMM; row positions {where})"
    )


def _month_numbers(
    values: pa.ChunkedArray,
    source: str,
    column: str,
    positions: np.ndarray | None = None,
    check: bool = True,
) -> np.ndarray:
    """Each row's month as a count of months since year 0; distinct texts parsed once, chunk
    by chunk (a dictionary-encoded column is never decoded row by row). A value that is not
    a month is an error, or with ``check=False`` -1."""
    parts = []
    for chunk in values.chunks:
        if not pa.types.is_dictionary(chunk.type):
            chunk = pc.dictionary_encode(chunk.cast(pa.string()))
        number = _word_months(chunk.dictionary)
        indices = chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        parts.append(np.where(indices >= 0, number[np.maximum(indices, 0)], -1))
    out = np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32)
    bad = out < 0
    if check and bad.any():
        raise _not_months(source, column, int(bad.sum()), row_positions(bad, positions))
    return out


def _panel(
    column: Columns,
    cfg: PanelConfig,
    source: str,
    span: tuple[int, int] | None = None,
    positions: np.ndarray | None = None,
) -> Panel:
    """Check a panel and lay it out as account x month arrays, one column at a time.
    ``positions``: each row's position in the whole input, when ``column`` holds a part."""
    if column.num_rows == 0:
        raise DataError(f"{source}: the panel has no rows")
    month = _month_numbers(column(cfg.month), source, cfg.month, positions)
    status = numbers(column(cfg.status))
    low, high = STATUS_RANGE[cfg.status_unit]
    wrong = np.isnan(status) | (status < low) | (status > high)
    if wrong.any():
        raise DataError(
            f"{source}: {int(wrong.sum())} row(s) of '{cfg.status}' are not a status in "
            f"{cfg.status_unit} past due ({low} to {high}; row positions "
            f"{row_positions(wrong, positions)})"
        )
    ids = ids_of(column, cfg.id, source, positions)
    uniques = distinct_texts(ids)
    codes = codes_in(ids, uniques).astype(np.int64)
    start = int(month.min()) if span is None else span[0]
    col = month - start
    n_acc = len(uniques)
    n_mon = int(col.max()) + 1 if span is None else span[1] - span[0] + 1
    flat = codes * n_mon + col
    per_cell = np.bincount(flat, minlength=n_acc * n_mon)
    repeat = per_cell[flat] > 1
    del per_cell
    if repeat.any():
        first = pd.Period(year=start // 12, month=start % 12 + 1, freq="M")
        months = sorted({str(first + int(c)) for c in np.unique(col[repeat])})[:3]
        raise DataError(
            f"{source}: {int(repeat.sum())} row(s) repeat an account's month (row positions "
            f"{row_positions(repeat, positions)}; months {', '.join(months)}): one row per "
            "account and month"
        )
    row_at = np.full((n_acc, n_mon), -1, dtype=np.int32)
    row_at[codes, col] = np.arange(column.num_rows, dtype=np.int32)
    measures = {"balance": cfg.balance, "payment": cfg.payment, "limit": cfg.limit}
    dense = {}
    for name, source_column in {"status": None, **measures}.items():
        if name != "status" and not source_column:
            continue
        # One measure at a time: read, laid out, and its row-long array released.
        values = status if name == "status" else numbers(column(source_column))
        grid = np.full((n_acc, n_mon), np.nan, dtype=np.float32)
        grid[codes, col] = values
        dense[name] = grid
        del values
    del status
    present = row_at >= 0
    first_at = present.argmax(axis=1)
    last_at = n_mon - 1 - present[:, ::-1].argmax(axis=1)
    gaps = 0
    for m in range(1, n_mon):  # carry the month before forward into each gap
        fill = ~present[:, m] & (first_at < m) & (last_at > m)
        gaps += int(fill.sum())
        for grid in dense.values():
            grid[fill, m] = grid[fill, m - 1]
    if cfg.origination:
        opened = column(cfg.origination)
        opened = _month_numbers(opened, source, cfg.origination, positions) - start
        first_at = pd.Series(opened).groupby(codes).min().reindex(range(n_acc)).to_numpy()
    period = pd.Period(year=start // 12, month=start % 12 + 1, freq="M")
    return Panel(
        ids=np.asarray(uniques.to_numpy(zero_copy_only=False), dtype=object),
        months=pd.period_range(period, periods=n_mon, freq="M"),
        status=dense.pop("status"),
        measures=dense,
        first=first_at.astype(np.int64),
        row_at=row_at,
        static=pa.table({c: column(c) for c in cfg.static}),
        gaps=gaps,
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


def iter_snapshots(panel: Panel, cfg: PanelConfig) -> Iterator[tuple[pd.DataFrame, dict]]:
    """Observation month by month: its snapshot rows and how many accounts were kept and
    why the others were left out. One month's rows at a time: a big panel streams."""
    h, w = cfg.history_months, cfg.bad.within_months
    level, n = cfg.bad.dpd_at_least, len(panel.months)
    # Before its first month an account is not late, with nothing billed or paid.
    before = np.arange(n)[None, :] < panel.first[:, None]
    status = np.where(before, 0, panel.status).astype(np.float32)
    flows = {k: np.nan_to_num(g, nan=0.0) for k, g in panel.measures.items() if k != "limit"}
    ids = panel.ids.astype(str)
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
        rows = np.flatnonzero(eligible & matured)
        month = str(panel.months[t])
        columns = {
            SNAPSHOT_ID: np.char.add(ids[rows], f"@{month}"),
            ACCOUNT: ids[rows],
            OBSERVED: np.full(len(rows), month),
            "months_on_book": age[rows],
        }
        back = [t - i for i in range(h)]  # newest first
        for name, grid in (("status", status), *flows.items()):
            for i, m in enumerate(back):
                columns[f"{name}_{i}"] = grid[rows, m] if m >= 0 else np.zeros(len(rows))
        if "limit" in panel.measures:
            columns["limit"] = panel.measures["limit"][rows, t]
        part = pd.DataFrame(columns)
        if panel.static.num_columns:
            attrs = panel.static.take(pa.array(panel.row_at[rows, t])).to_pandas()
            part = pd.concat([part, attrs], axis=1)
        part[TARGET] = turned[rows].astype(np.int64)
        yield (
            part,
            {
                OBSERVED: month,
                "accounts": len(panel.ids),
                "not_on_book": int((~on_book).sum()),
                "too_young": int(young.sum()),
                "already_bad": int(already.sum()),
                "immature": int((eligible & ~matured).sum()),
                "kept": len(rows),
                "bads": int(turned[rows].sum()),
            },
        )


def exclusion_report(counts: list[dict]) -> pd.DataFrame:
    """The per-month counts of :func:`iter_snapshots` as a table, with each month's bad rate;
    counts of the same month from several groups of accounts are summed."""
    report = pd.DataFrame(counts).groupby(OBSERVED, sort=True, as_index=False).sum()
    report = report.astype({c: "int64" for c in report.columns if c != OBSERVED})
    report["bad_rate"] = report["bads"] / report["kept"].replace(0, np.nan)
    return report


def snapshots(panel: Panel, cfg: PanelConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training table (one row per kept account and observation month) and, per
    observation month, how many accounts were kept and why the others were left out."""
    parts, counts = zip(*iter_snapshots(panel, cfg), strict=True)
    return pd.concat(parts, ignore_index=True), exclusion_report(list(counts))


def vintage_counts(panel: Panel, levels: tuple[float, ...]) -> pd.DataFrame:
    """Per level, months on book and origination cohort (month): the cohort's accounts and
    how many of them were ever at least ``level`` past due by then; a cohort appears for the
    months on book the panel has seen it. Counts of disjoint panels add up.

    Indexed by level, months_on_book, cohort; columns accounts, ever.
    """
    n = len(panel.months)
    inside = (panel.first >= 0) & (panel.first < n)
    first = panel.first[inside]
    status = panel.status[inside]
    size = np.bincount(first, minlength=n)
    labels = panel.months.astype(str)
    rows = []
    for level in levels:
        ever = np.zeros(len(first), dtype=bool)
        for k in range(n):
            col = first + k
            alive = col < n
            value = np.full(len(first), np.nan, dtype=np.float32)
            value[alive] = status[np.flatnonzero(alive), col[alive]]
            ever |= np.nan_to_num(value, nan=-np.inf) >= level
            hits = np.bincount(first, weights=ever, minlength=n)
            for cohort in np.flatnonzero((size > 0) & (np.arange(n) + k < n)):
                rows.append((level, k, labels[cohort], int(size[cohort]), int(hits[cohort])))
    index = ["level", "months_on_book", "cohort"]
    return pd.DataFrame(rows, columns=[*index, "accounts", "ever"]).set_index(index)


def vintage_shares(counts: pd.DataFrame) -> pd.DataFrame:
    """:func:`vintage_counts` as shares. Long format: cohort, level, months_on_book,
    accounts, ever_share."""
    out = counts.sort_index().reset_index()
    out["ever_share"] = out["ever"] / out["accounts"]
    return out[["cohort", "level", "months_on_book", "accounts", "ever_share"]]


def vintage_curves(panel: Panel, levels: tuple[float, ...]) -> pd.DataFrame:
    """Per origination cohort (month) and level: the share of the cohort's accounts ever at
    least ``level`` past due by each month on book, while the panel has seen the cohort.

    Long format: cohort, level, months_on_book, accounts, ever_share.
    """
    return vintage_shares(vintage_counts(panel, levels))


def write_snapshots(
    cfg: Config,
    panel_path: Path,
    out: Path,
    each: Callable[[Panel], None] | None = None,
    rows_per_part: int = ROWS_PER_PART,
) -> tuple[pd.DataFrame, list[Path]]:
    """Build the snapshots of the panel at ``panel_path`` and write, each atomically: the
    table (Parquet, ``out``, one observation month of one group of accounts at a time), the
    exclusions per observation month (``*_exclusions.csv``) and a training config beside
    them (``*.yaml``: ``delinq train --config`` it).

    The config is ``cfg`` with the snapshot's data layout: target ``bad``, one id per
    account and month, CV grouped by account, the observation month as time (for
    ``cv.out_of_time``), and the history columns of the snapshot. The panel is read in
    groups of accounts (:func:`panel_parts`); ``each(panel)``, if given, sees every group
    (to count the vintage curves from the same read).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.tmp")
    writer, counts, text = None, [], set()
    parts = panel_parts(panel_path, cfg.panel, cfg.data.sep, rows_per_part, out.parent)
    try:
        for panel in parts:
            if each is not None:
                each(panel)
            for part, count in iter_snapshots(panel, cfg.panel):
                counts.append(count)
                if part.empty:
                    continue
                text |= {c for c in cfg.panel.static if not pd.api.types.is_numeric_dtype(part[c])}
                table = pa.Table.from_pandas(part, preserve_index=False)
                writer = writer or pq.ParquetWriter(staging, table.schema, compression="zstd")
                writer.write_table(table.cast(writer.schema))
        if writer is None:
            raise DataError(
                f"{panel_path}: no account is left in any snapshot (see the exclusions)"
            )
        writer.close()
        writer = None
        os.replace(staging, out)
    finally:
        parts.close()  # the parts' temporary folder goes now, not when collected
        if writer is not None:
            writer.close()
        staging.unlink(missing_ok=True)
    report = exclusion_report(counts)
    return report, [out, *write_companions(cfg, out, report, text)]


def write_companions(cfg: Config, out: Path, report: pd.DataFrame, text: set[str]) -> list[Path]:
    """Beside a snapshot table ``out``: its exclusions per observation month and the training
    config that reads it (``text``: the static columns that hold text), each atomically."""
    raw = cfg.model_dump(mode="json")
    raw["data"] |= {
        "path": out.name,  # beside the config: found wherever the pair is moved
        "target": TARGET,
        "id": SNAPSHOT_ID,
        "group": ACCOUNT,
        "time": OBSERVED,
        "positive_label": None,
        "categorical": sorted({c for c in cfg.panel.static if c in cfg.data.categorical} | text),
        "history": history_config(cfg.panel).model_dump(mode="json"),
    }
    if Path(cfg.policy).exists():  # the config may move; the policy stays where it is
        raw["policy"] = str(Path(cfg.policy).resolve())
    columns = set(pq.read_schema(out).names) if out.is_file() else set(_folder_schema(out))
    for key in ("drop", "personal", "not_personal", "protected"):  # the base table's columns
        raw["data"][key] = [c for c in raw["data"][key] if c in columns]
    written = []
    for path, write in (
        (out.with_name(f"{out.stem}_exclusions.csv"), lambda p: report.to_csv(p, index=False)),
        (out.with_suffix(".yaml"), lambda p: p.write_text(yaml.safe_dump(raw, sort_keys=False))),
    ):
        staged = path.with_name(f".{path.name}.tmp")
        write(staged)
        os.replace(staged, path)
        written.append(path)
    return written


def _folder_schema(folder: Path) -> list[str]:
    """The column names of a folder of Parquet part files (Spark's output)."""
    first = next(iter(sorted(Path(folder).glob("*.parquet"))), None)
    return pq.read_schema(first).names if first is not None else []


def _buckets(status: np.ndarray, unit: str) -> np.ndarray:
    """Delinquency bucket of each status: 0 current, 1 = 1-30 days (one month late), 2 = 31-60,
    3 = 61-90, 4 = 90+ (NaN stays NaN)."""
    late = np.maximum(status, 0)
    if unit == "days":
        late = np.ceil(late / 30)
    return np.where(np.isnan(status), np.nan, np.minimum(late, 4))


BUCKET_NAMES = ["current", "1-30", "31-60", "61-90", "90+"]


def roll_counts(panel: Panel, unit: str, horizons: tuple[int, ...] = (3, 6, 12)) -> pd.DataFrame:
    """For accounts in each bucket in any month: how many account-months have k months of
    panel after them (``account_months_<k>``) and how many of those reach 90+ within the k
    months (``reached_90_within_<k>``). Rows: buckets. Counts of disjoint panels add up."""
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
            out[f"reached_90_within_{k}"] = int(ahead[start].sum())
            out[f"account_months_{k}"] = int(start.sum())
        rows[name] = out
    return pd.DataFrame(rows).T.rename_axis("bucket").astype("int64")


def roll_shares(counts: pd.DataFrame) -> pd.DataFrame:
    """:func:`roll_counts` as the share reaching 90+ within each k (``to_90_within_<k>``),
    beside the account-months behind it."""
    out = pd.DataFrame(index=counts.index)
    for column in counts.columns:
        if column.startswith("account_months_"):
            k = column.removeprefix("account_months_")
            reached = counts[f"reached_90_within_{k}"]
            out[f"to_90_within_{k}"] = reached / counts[column].replace(0, np.nan)
            out[column] = counts[column]
    return out


def roll_forward(panel: Panel, unit: str, horizons: tuple[int, ...] = (3, 6, 12)) -> pd.DataFrame:
    """For accounts in each bucket in any month: the share that reach 90+ within k months
    (only account-months with k months of panel after them count). Rows: buckets; columns:
    ``to_90_within_<k>`` and the account-months behind them."""
    return roll_shares(roll_counts(panel, unit, horizons))


def cure_counts(panel: Panel, unit: str, within: int = 12) -> pd.DataFrame:
    """For each bucket 1-30 to 90+: the accounts that first reach it with ``within`` months of
    panel after, and how many of them are current again (not late) within those months.
    Counts of disjoint panels add up."""
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
        rows[BUCKET_NAMES[b]] = {"accounts": len(acc), f"cured_within_{within}": int(cured.sum())}
    return pd.DataFrame(rows).T.rename_axis("bucket").astype("int64")


def cure_shares(counts: pd.DataFrame) -> pd.DataFrame:
    """:func:`cure_counts` with the cure rate: the share of the accounts cured."""
    cured = next(c for c in counts.columns if c.startswith("cured_within_"))
    return counts.assign(cure_rate=counts[cured] / counts["accounts"].replace(0, np.nan))


def cure_rates(panel: Panel, unit: str, within: int = 12) -> pd.DataFrame:
    """For each bucket 1-30 to 90+: the accounts that first reach it with ``within`` months of
    panel after, and the share of them current again (not late) within those months."""
    return cure_shares(cure_counts(panel, unit, within))


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
