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
    hashes = [np.concatenate([string_hashes(c) for c in side.chunks] or [np.zeros(0, np.uint64)])
              for side in (before, after)]  # fmt: skip
    order = np.argsort(hashes[0], kind="stable")
    ranked = hashes[0][order]
    at = np.full(len(hashes[1]), -1, dtype=np.int64)
    if len(ranked):
        pos = np.minimum(np.searchsorted(ranked, hashes[1]), len(ranked) - 1)
        hit = ranked[pos] == hashes[1]
        at[hit] = order[pos[hit]]
    del hashes, order, ranked, pos, hit
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


def _levels(prev: pa.Table, now: pa.Table, column: str, order: list[str]) -> list[str]:
    """The labels of ``column`` on either night: those in ``order`` first, in its order."""
    seen = set()
    for table in (prev, now):
        for chunk in table[column].chunks:
            words = chunk.dictionary if pa.types.is_dictionary(chunk.type) else pc.unique(chunk)
            seen |= set(words.to_pylist())
    return [v for v in order if v in seen] + sorted(seen - set(order) - {None})


def _matrix(before: np.ndarray, after: np.ndarray, rows: list, cols: list) -> pd.DataFrame:
    cell = before.astype(np.int32) * np.int32(len(cols)) + after  # four bytes a row, not eight
    counts = np.bincount(cell, minlength=len(rows) * len(cols))
    return pd.DataFrame(counts.reshape(len(rows), len(cols)), index=rows, columns=cols)


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
    at = match_ids(prev["id"], now["id"])
    both = at >= 0
    on = at[both]  # tonight's accounts that were there before: their previous rows
    kept = np.zeros(prev.num_rows, dtype=bool)
    kept[on] = True

    g_prev, g_now = _codes(prev["grade"], grades), _codes(now["grade"], grades)
    extra = np.int16(len(grades))  # the NEW row and the GONE column
    before = np.concatenate([g_prev[on], np.full((~both).sum(), extra), g_prev[~kept]])
    after = np.concatenate([g_now[both], g_now[~both], np.full((~kept).sum(), extra)])
    migration = _matrix(before, after, [*grades, NEW], [*grades, GONE])
    migration.index.name, migration.columns.name = "previous grade", "grade"

    bucket_levels = _levels(prev, now, "dpd_bucket", BUCKETS)
    b_prev, b_now = (
        _codes(prev["dpd_bucket"], bucket_levels),
        _codes(now["dpd_bucket"], bucket_levels),
    )
    buckets = _matrix(b_prev[on], b_now[both], bucket_levels, bucket_levels)
    buckets = buckets.loc[buckets.sum(axis=1) > 0, buckets.sum(axis=0) > 0]
    buckets.index.name, buckets.columns.name = "previous bucket", "bucket"

    actions = _levels(prev, now, "action", [])
    a_prev, a_now = _codes(prev["action"], actions), _codes(now["action"], actions)
    changed = ~both
    changed[both] = a_now[both] != a_prev[on]
    none = actions.index("none") if "none" in actions else -1
    counts = np.bincount(a_now[changed & (a_now != none)], minlength=len(actions))
    new_actions = pd.DataFrame({"accounts": counts}, index=pd.Index(actions, name="action"))
    new_actions = new_actions[new_actions["accounts"] > 0].sort_values("accounts", ascending=False)

    # Only accounts on both nights can be watched: compare their two PDs and grades.
    p_now = now["pd"].to_numpy()[both]
    p_prev = prev["pd"].to_numpy()[on]
    moved = g_now[both] - g_prev[on]
    rise = p_now - p_prev
    flagged = (rise >= cfg.pd_rise) | ((p_now >= cfg.pd_ratio * p_prev) & (rise > 0))
    flagged |= moved >= cfg.grades_down
    picked = np.flatnonzero(flagged)
    rows = np.flatnonzero(both)[picked]
    taken = now.take(pa.array(rows))
    watch = pd.DataFrame(
        {
            "id": taken["id"].to_pandas().astype(object),
            "pd_prev": p_prev[picked],
            "pd": p_now[picked],
            "grade_prev": np.asarray(grades, dtype=object)[g_prev[on[picked]]],
            "grade": taken["grade"].cast(pa.string()).to_pandas().astype(object),
            "action": taken["action"].cast(pa.string()).to_pandas().astype(object),
            "pd_rise": rise[picked],
            "grades_down": moved[picked].astype("int64"),
        }
    )
    watch = watch.sort_values(["pd_rise", "id"], ascending=[False, True]).reset_index(drop=True)
    return Migration(migration, buckets, new_actions, watch)
