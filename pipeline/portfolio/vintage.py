"""What a panel says about its own delinquency, for `delinq analyze --panel`:

- vintage curves (账龄): per origination cohort, the share ever 30+/60+/90+ past due by
  months on book, as tables and one chart per level;
- roll-forward and cure rates by bucket, and the bad definition they recommend (the lowest
  bucket few accounts come back from).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce
from operator import add
from pathlib import Path

import pandas as pd

from delinq.pipeline.book.panel import (
    ROWS_PER_PART,
    Panel,
    cure_counts,
    cure_shares,
    recommend_bad,
    roll_counts,
    roll_shares,
    vintage_counts,
    vintage_shares,
    write_snapshots,
)
from delinq.pipeline.config import Config
from delinq.pipeline.plotting import grid, save
from delinq.pipeline.portfolio.job import vintage_folder

# Days past due of the usual vintage levels, and the same in months late.
LEVELS = {"days": (30, 60, 90), "months": (1, 2, 3)}
SHOWN_COHORTS = 12  # the latest cohorts drawn; the table keeps them all


def vintage_plot(curves: pd.DataFrame, path: Path, unit: str) -> Path:
    """One panel per level: a line per cohort (the latest twelve), share by months on book."""
    levels = sorted(curves["level"].unique())
    fig, axes = grid(len(levels), size=4.4)
    cohorts = sorted(curves["cohort"].unique())[-SHOWN_COHORTS:]
    for ax, level in zip(axes, levels, strict=True):
        part = curves[(curves["level"] == level) & curves["cohort"].isin(cohorts)]
        for cohort, line in part.groupby("cohort"):
            ax.plot(line["months_on_book"], line["ever_share"], label=cohort)
        what = f"{level:g}+ {'days past due' if unit == 'days' else 'months late'}"
        ax.set(xlabel="months on book", ylabel="share of the cohort", title=f"Ever {what}")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    axes[-1].legend(title="cohort", fontsize=7, loc="upper left")
    return save(fig, path)


@dataclass
class PanelCounts:
    """What the panel's views are drawn from: counts that add up over groups of accounts, so
    a panel read in parts gives the views of the whole."""

    months: pd.PeriodIndex
    accounts: int
    gaps: int
    vintage: pd.DataFrame  # :func:`~delinq.pipeline.book.panel.vintage_counts`
    rolls: pd.DataFrame  # :func:`~delinq.pipeline.book.panel.roll_counts`
    cures: pd.DataFrame  # :func:`~delinq.pipeline.book.panel.cure_counts`

    def __add__(self, other: PanelCounts) -> PanelCounts:
        vintage = self.vintage.add(other.vintage, fill_value=0).astype("int64")
        return PanelCounts(
            self.months,
            self.accounts + other.accounts,
            self.gaps + other.gaps,
            vintage,
            self.rolls + other.rolls,
            self.cures + other.cures,
        )


def panel_counts(panel: Panel, unit: str) -> PanelCounts:
    """The counts behind the vintage curves, roll-forward and cure rates of ``panel``."""
    return PanelCounts(
        panel.months,
        len(panel.ids),
        panel.gaps,
        vintage_counts(panel, LEVELS[unit]),
        roll_counts(panel, unit),
        cure_counts(panel, unit),
    )


def total_counts(parts: Iterable[Panel], unit: str) -> PanelCounts:
    """:func:`panel_counts` of a panel given as disjoint groups of accounts, summed."""
    return reduce(add, (panel_counts(part, unit) for part in parts))


def write_vintage(counts: PanelCounts, unit: str, out: Path) -> list[Path]:
    """vintage.csv (long), vintage_<level>.csv (cohort x months on book) and vintage.png."""
    out.mkdir(parents=True, exist_ok=True)
    curves = vintage_shares(counts.vintage)
    curves.to_csv(out / "vintage.csv", index=False)
    files = [out / "vintage.csv"]
    for level, part in curves.groupby("level"):
        wide = part.pivot(index="cohort", columns="months_on_book", values="ever_share")
        files.append(out / f"vintage_{level:g}.csv")
        wide.to_csv(files[-1])
    files.append(vintage_plot(curves, out / "vintage.png", unit))
    return files


def write_bad_definition(counts: PanelCounts, out: Path) -> tuple[str, list[Path]]:
    """roll_forward.csv, cure_rates.csv and bad_definition.txt (the recommendation, worded)."""
    out.mkdir(parents=True, exist_ok=True)
    rolls, cures = roll_shares(counts.rolls), cure_shares(counts.cures)
    advice = recommend_bad(cures)
    rolls.to_csv(out / "roll_forward.csv")
    cures.to_csv(out / "cure_rates.csv")
    (out / "bad_definition.txt").write_text(advice + "\n", encoding="utf-8")
    return advice, [out / "roll_forward.csv", out / "cure_rates.csv", out / "bad_definition.txt"]


def write_panel_views(counts: PanelCounts, unit: str, out: Path) -> list[Path]:
    """The vintage curves and the bad-definition evidence of a panel's counts, into ``out``."""
    return [*write_vintage(counts, unit, out), *write_bad_definition(counts, out)[1]]


def snapshots_with_views(
    cfg: Config, panel: Path, out: Path, rows_per_part: int = ROWS_PER_PART
) -> tuple[pd.DataFrame, list[Path]]:
    """:func:`~delinq.pipeline.book.panel.write_snapshots`, and from the same read of the
    panel its vintage curves and bad-definition evidence in :func:`vintage_folder`. The
    training config stays the last file."""
    unit, parts = cfg.panel.status_unit, []
    report, files = write_snapshots(
        cfg, panel, out, lambda part: parts.append(panel_counts(part, unit)), rows_per_part
    )
    files[-1:-1] = write_panel_views(reduce(add, parts), unit, vintage_folder(out))
    return report, files
