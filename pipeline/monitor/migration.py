"""Two nights of scores side by side: grade migration, DPD-bucket flows, new collection
actions, and the early-warning watchlist. Pure functions over the published score columns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from delinq.pipeline.config import MonitorConfig

COLUMNS = ["id", "pd", "grade", "dpd_bucket", "action"]
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


def compare_nights(
    previous: pd.DataFrame, current: pd.DataFrame, grades: list[str], cfg: MonitorConfig
) -> Migration:
    """Compare two nights' scores (columns :data:`COLUMNS`).

    ``grades`` run best first. The watchlist holds accounts scored on both nights whose PD
    rose by at least ``cfg.pd_rise`` (absolute), or to at least ``cfg.pd_ratio`` times its
    value, or that moved at least ``cfg.grades_down`` grades worse; worst rise first.
    """
    joined = current.merge(
        previous[COLUMNS], on="id", how="outer", suffixes=("", "_prev"), indicator=True
    )
    on_both = joined["_merge"] == "both"
    # Object labels (cheap from categoricals: one reference per row) so NEW and GONE fit.
    for col in ("grade", "grade_prev", "dpd_bucket", "dpd_bucket_prev", "action", "action_prev"):
        joined[col] = joined[col].astype(object)
    prev_grade = joined["grade_prev"].where(joined["_merge"] != "left_only", NEW)
    now_grade = joined["grade"].where(joined["_merge"] != "right_only", GONE)
    migration = pd.crosstab(prev_grade, now_grade).reindex(
        index=[*grades, NEW], columns=[*grades, GONE], fill_value=0
    )
    migration.index.name, migration.columns.name = "previous grade", "grade"
    buckets = pd.crosstab(joined.loc[on_both, "dpd_bucket_prev"], joined.loc[on_both, "dpd_bucket"])
    buckets.index.name, buckets.columns.name = "previous bucket", "bucket"

    changed = (joined["_merge"] == "left_only") | (
        on_both & (joined["action"] != joined["action_prev"])
    )
    acted = joined.loc[changed & (joined["action"] != "none"), "action"]
    new_actions = acted.value_counts().rename("accounts").rename_axis("action").to_frame()

    both = joined[on_both]
    rank = {g: i for i, g in enumerate(grades)}
    moved = both["grade"].map(rank) - both["grade_prev"].map(rank)
    rise = both["pd"] - both["pd_prev"]
    ratio = both["pd"] / both["pd_prev"].clip(lower=1e-9)
    flagged = (
        (rise >= cfg.pd_rise) | ((ratio >= cfg.pd_ratio) & (rise > 0)) | (moved >= cfg.grades_down)
    )
    watch = both.loc[flagged, ["id", "pd_prev", "pd", "grade_prev", "grade", "action"]]
    watch = watch.assign(pd_rise=rise[flagged], grades_down=moved[flagged].astype("int64"))
    watch = watch.sort_values(["pd_rise", "id"], ascending=[False, True]).reset_index(drop=True)
    return Migration(migration, buckets, new_actions, watch)
