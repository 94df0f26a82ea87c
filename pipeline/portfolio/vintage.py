"""What a panel says about its own delinquency, for `delinq analyze --panel`:

- vintage curves (账龄): per origination cohort, the share ever 30+/60+/90+ past due by
  months on book, as tables and one chart per level;
- roll-forward and cure rates by bucket, and the bad definition they recommend (the lowest
  bucket few accounts come back from).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from delinq.pipeline.book.panel import (
    Panel,
    cure_rates,
    recommend_bad,
    roll_forward,
    vintage_curves,
)
from delinq.pipeline.plotting import grid, save

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


def write_vintage(panel: Panel, unit: str, out: Path) -> list[Path]:
    """vintage.csv (long), vintage_<level>.csv (cohort x months on book) and vintage.png."""
    out.mkdir(parents=True, exist_ok=True)
    curves = vintage_curves(panel, LEVELS[unit])
    curves.to_csv(out / "vintage.csv", index=False)
    files = [out / "vintage.csv"]
    for level, part in curves.groupby("level"):
        wide = part.pivot(index="cohort", columns="months_on_book", values="ever_share")
        files.append(out / f"vintage_{level:g}.csv")
        wide.to_csv(files[-1])
    files.append(vintage_plot(curves, out / "vintage.png", unit))
    return files


def write_bad_definition(panel: Panel, unit: str, out: Path) -> tuple[str, list[Path]]:
    """roll_forward.csv, cure_rates.csv and bad_definition.txt (the recommendation, worded)."""
    out.mkdir(parents=True, exist_ok=True)
    rolls, cures = roll_forward(panel, unit), cure_rates(panel, unit)
    advice = recommend_bad(cures)
    rolls.to_csv(out / "roll_forward.csv")
    cures.to_csv(out / "cure_rates.csv")
    (out / "bad_definition.txt").write_text(advice + "\n", encoding="utf-8")
    return advice, [out / "roll_forward.csv", out / "cure_rates.csv", out / "bad_definition.txt"]


def write_panel_views(panel: Panel, unit: str, out: Path) -> list[Path]:
    """The vintage curves and the bad-definition evidence of ``panel``, into ``out``."""
    return [*write_vintage(panel, unit, out), *write_bad_definition(panel, unit, out)[1]]
