"""Two nights of scores side by side: grade migration, DPD-bucket flows, new collection
actions, and the early-warning watchlist. Pure functions over the published score columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from delinq.features.history import BUCKETS
from delinq.pipeline.config import MonitorConfig
from delinq.pipeline.score.ids import string_hashes

COLUMNS = ["id", "pd", "grade", "dpd_bucket", "action"]
_CHECK_ROWS = 1_000_000  # matched ids whose text is compared at once
NEW, GONE = "(new)", "(gone)"


@dataclass
class Migration:
    """What changed between the previous night and this one."""

    grades: pd.DataFrame  # counts: previous grade (rows, plus NEW) x this grade (plus GONE)
    buckets: pd.DataFrame  # counts: previous DPD bucket x this one (accounts on both nights)
    new_actions: pd.DataFrame  # action -> accounts that got it tonight (changed or new)
    watchlist: pd.DataFrame  # accounts whose risk rose past the configured limits

    def shares(self) -> pd.DataFrame:
        """The grade migration as shares of each previous grade's accounts."""
        return self.grades.div(self.grades.sum(axis=1).replace(0, np.nan), axis=0)

    def summary(self) -> dict:
        """Counts for the manifest and the monitoring page."""
        both = self.grades.drop(index=NEW, errors="ignore").drop(columns=GONE, errors="ignore")
        grades = list(both.columns)
        steps = np.subtract.outer(np.arange(len(both)), np.arange(len(grades)))
        return {
            "accounts_both_nights": int(both.to_numpy().sum()),
            "new_accounts": int(self.grades.loc[NEW].sum()) if NEW in self.grades.index else 0,
            "gone_accounts": int(self.grades[GONE].sum()) if GONE in self.grades else 0,
            "downgraded": int(both.to_numpy()[steps < 0].sum()),
            "upgraded": int(both.to_numpy()[steps > 0].sum()),
            "watchlist": len(self.watchlist),
            "new_actions": {str(k): int(v) for k, v in self.new_actions["accounts"].items()},
        }


def _table(night: pd.DataFrame | pa.Table) -> pa.Table:
    """:data:`COLUMNS` with text ids and float PDs; labels as text or dictionary-encoded."""
    if isinstance(night, pa.Table):
        table = night.select(COLUMNS)
    else:
        table = pa.Table.from_pandas(night[COLUMNS], preserve_index=False)
    for name, kind in (("id", pa.string()), ("pd", pa.float64())):
        if table[name].type != kind:
            table = table.set_column(
                table.schema.get_field_index(name), name, table[name].cast(kind)
            )
    return table


def _codes(values: pa.ChunkedArray, levels: list[str]) -> np.ndarray:
    """Each value's position in ``levels`` (-1 for none), two bytes a row. A dictionary-encoded
    column is looked up once per dictionary entry, never decoded row by row."""
    value_set = pa.array(levels, pa.string())
    parts = []
    for chunk in values.chunks:
        if pa.types.is_dictionary(chunk.type):
            lookup = pc.index_in(chunk.dictionary.cast(pa.string()), value_set=value_set)
            lookup = lookup.fill_null(-1).to_numpy().astype(np.int16)
            parts.append(lookup[chunk.indices.to_numpy(zero_copy_only=False)])
        else:
            found = pc.index_in(chunk, value_set=value_set).fill_null(-1)
            parts.append(found.to_numpy().astype(np.int16))
    return np.concatenate(parts) if parts else np.empty(0, np.int16)


def match_ids(before: pa.ChunkedArray, after: pa.ChunkedArray) -> np.ndarray:
    """For each id of ``after``, the row of the same id in ``before`` (-1: none); ids are
    unique on each side. Matched by sorted 64-bit hashes (eight bytes a row, where a hash
    table of ten million strings took a gigabyte), then every matched pair's text is compared,
    so a hash collision is never taken for the same account."""

    def hashes(side: pa.ChunkedArray) -> np.ndarray:
        return np.concatenate([string_hashes(c) for c in side.chunks] or [np.zeros(0, np.uint64)])

    ranked = hashes(before)
    order = np.argsort(ranked, kind="stable")
    ranked = ranked[order]
    wanted = hashes(after)
    at = np.full(len(wanted), -1, dtype=np.int64)
    # Searched a slice at a time: whole-night positions and masks would be five more arrays
    # of eight bytes a row.
    for start in range(0, len(wanted) if len(ranked) else 0, _CHECK_ROWS):
        part = wanted[start : start + _CHECK_ROWS]
        pos = np.minimum(np.searchsorted(ranked, part), len(ranked) - 1)
        hit = ranked[pos] == part
        at[start : start + len(part)][hit] = order[pos[hit]]
    del wanted, order, ranked
    # The text check a slice at a time: two copies of every matched id would cost more than
    # the nights themselves.
    for start in range(0, len(at), _CHECK_ROWS):
        rows = np.arange(start, min(start + _CHECK_ROWS, len(at)))
        rows = rows[at[rows] >= 0]
        if not len(rows):
            continue
        same = pc.equal(after.take(pa.array(rows)), before.take(pa.array(at[rows])))
        at[rows[~same.to_numpy(zero_copy_only=False)]] = -1
    return at


def _numbers(column: pa.ChunkedArray) -> np.ndarray:
    """A float column as one NumPy array (one copy, however many chunks)."""
    out = np.empty(len(column))
    start = 0
    for chunk in column.chunks:
        out[start : start + len(chunk)] = chunk.to_numpy(zero_copy_only=False)
        start += len(chunk)
    return out


def _levels(prev: pa.Table, now: pa.Table, column: str, order: list[str]) -> list[str]:
    """The labels of ``column`` on either night: those in ``order`` first, in its order."""
    seen = set()
    for table in (prev, now):
        for chunk in table[column].chunks:
            words = chunk.dictionary if pa.types.is_dictionary(chunk.type) else pc.unique(chunk)
            seen |= set(words.to_pylist())
    return [v for v in order if v in seen] + sorted(seen - set(order) - {None})


def _counts(before: np.ndarray, after: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """How many rows go from each ``before`` code to each ``after`` code (a ``shape`` table)."""
    cell = before.astype(np.int64) * shape[1] + after
    return np.bincount(cell, minlength=shape[0] * shape[1]).reshape(shape)


def compare_nights(
    previous: pd.DataFrame | pa.Table,
    current: pd.DataFrame | pa.Table,
    grades: list[str],
    cfg: MonitorConfig,
) -> Migration:
    """Compare two nights' scores (columns :data:`COLUMNS`).

    ``grades`` run best first. The watchlist holds accounts scored on both nights whose PD
    rose by at least ``cfg.pd_rise`` (absolute), or to at least ``cfg.pd_ratio`` times its
    value, or that moved at least ``cfg.grades_down`` grades worse; worst rise first.

    Accounts are matched by sorted id hashes (:func:`match_ids`) and everything else is
    counted on integer codes (``benchmarks/monitor_nights.py`` measures two 10-million-row
    nights).
    """
    prev, now = _table(previous), _table(current)
    del previous, current  # the id columns go with the last reference, once matched
    at = match_ids(prev["id"], now["id"])
    prev = prev.drop_columns(["id"])
    bucket_levels = _levels(prev, now, "dpd_bucket", BUCKETS)
    actions = _levels(prev, now, "action", [])
    codes = {
        name: (_codes(prev[column], levels), _codes(now[column], levels))
        for name, column, levels in (
            ("grade", "grade", grades),
            ("bucket", "dpd_bucket", bucket_levels),
            ("action", "action", actions),
        )
    }
    p_prev, p_now = _numbers(prev["pd"]), _numbers(now["pd"])
    del prev
    g_prev, g_now = codes["grade"]
    b_prev, b_now = codes["bucket"]
    a_prev, a_now = codes["action"]
    extra = np.int16(len(grades))  # the NEW row and the GONE column
    none = actions.index("none") if "none" in actions else -1
    migration = np.zeros((len(grades) + 1, len(grades) + 1), dtype=np.int64)
    flows = np.zeros((len(bucket_levels), len(bucket_levels)), dtype=np.int64)
    new_counts = np.zeros(len(actions), dtype=np.int64)
    kept = np.zeros(len(g_prev), dtype=bool)
    watched, rises = [], []
    # Tonight's rows a slice at a time: every temporary is a slice long, not a night long.
    for start in range(0, len(at), _CHECK_ROWS):
        now_rows = np.arange(start, min(start + _CHECK_ROWS, len(at)))
        prev_rows = at[now_rows]
        both = prev_rows >= 0
        on, here = prev_rows[both], now_rows[both]
        kept[on] = True
        before = np.where(both, g_prev[np.maximum(prev_rows, 0)], extra)
        migration += _counts(before, g_now[now_rows], migration.shape)
        flows += _counts(b_prev[on], b_now[here], flows.shape)
        changed = np.ones(len(now_rows), dtype=bool)
        changed[both] = a_now[here] != a_prev[on]
        new_counts += np.bincount(
            a_now[now_rows][changed & (a_now[now_rows] != none)], minlength=len(actions)
        )
        # Only accounts on both nights can be watched: compare their two PDs and grades.
        rise = p_now[here] - p_prev[on]
        flagged = (rise >= cfg.pd_rise) | ((p_now[here] >= cfg.pd_ratio * p_prev[on]) & (rise > 0))
        flagged |= g_now[here] - g_prev[on] >= cfg.grades_down
        watched.append(here[flagged])
        rises.append(rise[flagged])
    # Accounts of the previous night not seen tonight: their grade -> GONE.
    migration[: len(grades), -1] += np.bincount(g_prev[~kept], minlength=len(grades))
    migration = pd.DataFrame(migration, index=[*grades, NEW], columns=[*grades, GONE])
    migration.index.name, migration.columns.name = "previous grade", "grade"

    buckets = pd.DataFrame(flows, index=bucket_levels, columns=bucket_levels)
    buckets = buckets.loc[buckets.sum(axis=1) > 0, buckets.sum(axis=0) > 0]
    buckets.index.name, buckets.columns.name = "previous bucket", "bucket"

    new_actions = pd.DataFrame({"accounts": new_counts}, index=pd.Index(actions, name="action"))
    new_actions = new_actions[new_actions["accounts"] > 0].sort_values("accounts", ascending=False)

    rows = np.concatenate(watched) if watched else np.zeros(0, np.int64)
    was = at[rows]
    taken = now.take(pa.array(rows))
    watch = pd.DataFrame(
        {
            "id": taken["id"].to_pandas().astype(object),
            "pd_prev": p_prev[was],
            "pd": p_now[rows],
            "grade_prev": np.asarray(grades, dtype=object)[g_prev[was]],
            "grade": taken["grade"].cast(pa.string()).to_pandas().astype(object),
            "action": taken["action"].cast(pa.string()).to_pandas().astype(object),
            "pd_rise": np.concatenate(rises) if rises else np.zeros(0),
            "grades_down": (g_now[rows] - g_prev[was]).astype("int64"),
        }
    )
    watch = watch.sort_values(["pd_rise", "id"], ascending=[False, True]).reset_index(drop=True)
    return Migration(migration, buckets, new_actions, watch)
