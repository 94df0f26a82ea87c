"""The scorecard family's printable card in every run that trains it: points table, IV ranking,
a chart, and the SQL query and PMML document that score a table with it.

The champion's own card when the scorecard won (its calibration folded into the points, so
the card's sums are the points ``delinq score`` publishes); otherwise the scorecard refitted on
every row, uncalibrated, for validators to read beside the champion.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from delinq.pipeline.plotting import new_figure, save
from delinq.pipeline.webpage import page, table, write_page

if TYPE_CHECKING:  # the card's type, for annotations: the report and card read only file names
    from delinq.models.points_card import PointsCard

SCORECARD = "scorecard"
TABLE_CSV, TABLE_HTML = "scorecard_table.csv", "scorecard_table.html"
IV_CSV, IV_PLOT, SQL_FILE = "scorecard_iv.csv", "scorecard_iv.png", "scorecard.sql"
PMML_FILE = "scorecard.pmml"
# The table name the exported query reads; replace it with the book's own.
SQL_TABLE = "loans"


def iv_plot(iv: pd.Series, kept: list[str], path: Path, top: int = 25) -> Path:
    """Information value per input, highest first; inputs left out of the card in grey."""
    shown = iv.head(top)[::-1]
    fig, ax = new_figure(figsize=(7, 0.28 * len(shown) + 1.2))
    colours = ["#2b6cb0" if name in kept else "#bbbbbb" for name in shown.index]
    ax.barh(list(shown.index), shown.to_numpy(), color=colours)
    for cut, label in ((0.02, "weak"), (0.1, "medium"), (0.3, "strong")):
        ax.axvline(cut, color="grey", linestyle=":", linewidth=0.8)
        ax.text(cut, len(shown) - 0.4, f" {label}", fontsize=7, color="grey")
    ax.set(
        xlabel="information value", title="Scorecard inputs by information value (grey: left out)"
    )
    return save(fig, path)


def write_scorecard(
    card: PointsCard, out_dir: Path, calibrated: bool, sql: str, pmml: str
) -> list[Path]:
    """The card's table (CSV, HTML), IV ranking (CSV, chart), SQL query and PMML document
    (``sql`` and ``pmml``, as :mod:`delinq.models.scorecard_sql` and ``_pmml`` write them)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = card.table()
    rows.to_csv(out_dir / TABLE_CSV, index=False)
    iv = card.information_values()
    kept = list(card.woe.kept_)
    iv.to_frame().assign(in_card=[c in kept for c in iv.index]).rename_axis("input").to_csv(
        out_dir / IV_CSV
    )
    where = (
        "the champion's calibrated probability of default"
        if calibrated
        else "the scorecard family refitted on every row (uncalibrated; not the champion)"
    )
    notes = "".join(f"<li>{n}</li>" for n in card.woe.notes_)
    body = (
        "<h1>Scorecard</h1>"
        f"<p>Points per input and bin, from {where}. A loan's score is the base plus the "
        "points of its bin in every input. Bad rates run in one direction within each "
        "numeric input (its trend); missing values and special values have bins of their "
        "own. WoE = ln(share of goods / share of bads): positive is safer than average.</p>"
        + (f"<p>Left out:</p><ul>{notes}</ul>" if notes else "")
        + table(_with_trend(rows, card).set_index("input"))
    )
    write_page(out_dir / TABLE_HTML, page("Scorecard", body))
    (out_dir / SQL_FILE).write_text(
        f"-- Scores every row of {SQL_TABLE!r}; rename it to the book's table. The query "
        "reads the card's inputs\n-- (its derived history features as columns too: "
        "delinq.models.points_card.PointsCard.inputs).\n" + sql + ";\n"
    )
    (out_dir / PMML_FILE).write_text(pmml, encoding="utf-8")
    return [
        out_dir / TABLE_CSV,
        out_dir / TABLE_HTML,
        out_dir / IV_CSV,
        iv_plot(iv, kept, out_dir / IV_PLOT),
        out_dir / SQL_FILE,
        out_dir / PMML_FILE,
    ]


def _with_trend(rows: pd.DataFrame, card: PointsCard) -> pd.DataFrame:
    trend = {c: b.trend for c, b in card.woe.bins_.items()}
    out = rows.copy()
    out.insert(1, "trend", [trend.get(i, "") for i in out["input"]])
    out["count"] = out["count"].astype("Int64")
    out["points"] = out["points"].astype(np.int64)
    return out
