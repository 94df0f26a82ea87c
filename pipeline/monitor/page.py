"""`delinq monitor-page`: one self-contained HTML page over the last nights.

Volumes and reject rates, the grade mix, PSI trends of the score and of the inputs that moved
most, migration and the size of the watchlist, and the backtest lights, read from the
published partitions, their manifests and the monitor's outputs. Images are inlined and the
page has no scripts, like the report.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from delinq.pipeline.config import Config
from delinq.pipeline.monitor.job import MonitorError
from delinq.pipeline.plotting import new_figure, save
from delinq.pipeline.score.publish import MANIFEST_FILE, SCORES_FILE, partition, published_dates
from delinq.pipeline.webpage import img, page, write_page
from delinq.pipeline.webpage import table as html_table


def nights_table(scores: Path, nights: int, grades: list[str]) -> pd.DataFrame:
    """One row per published night (the last ``nights``): volumes, rejects, PSI, grade mix."""
    rows = []
    for day in published_dates(scores)[-nights:]:
        folder = partition(scores, day)
        manifest = json.loads((folder / MANIFEST_FILE).read_text())
        grade = pq.read_table(folder / SCORES_FILE, columns=["grade"])["grade"].to_pandas()
        mix = grade.value_counts(normalize=True).reindex(grades, fill_value=0.0)
        drift = manifest["drift"]
        rows.append(
            {
                "night": day,
                "read": manifest["rows"]["read"],
                "scored": manifest["rows"]["scored"],
                "reject_rate": manifest["rows"]["rejected"] / max(manifest["rows"]["read"], 1),
                "score_psi": drift.get("score_psi"),
                "drift": drift["status"],
                **{f"input_psi:{k}": v for k, v in drift.get("input_psi", {}).items()},
                **{f"grade:{g}": float(mix[g]) for g in grades},
            }
        )
    return pd.DataFrame(rows).set_index("night") if rows else pd.DataFrame()


def _summaries(folder: Path) -> pd.DataFrame:
    found = [json.loads(p.read_text()) for p in sorted(folder.glob("as_of_date=*/summary.json"))]
    return pd.DataFrame(found).set_index("as_of_date") if found else pd.DataFrame()


def _charts(table: pd.DataFrame, migration: pd.DataFrame, out: Path, grades: list[str]):
    files = []
    fig, ax = new_figure(figsize=(9, 3.6))
    ax.plot(table.index, table["scored"], "o-", label="scored")
    ax2 = ax.twinx()
    ax2.plot(table.index, table["reject_rate"], "s--", color="#d62728", label="reject rate")
    ax.set(title="Volume and reject rate per night", ylabel="accounts scored")
    ax2.set_ylabel("reject rate")
    ax.tick_params(axis="x", rotation=30)
    files.append((save(fig, out / "volumes.png"), "Volume and reject rate per night"))

    fig, ax = new_figure(figsize=(9, 3.6))
    bottom = pd.Series(0.0, index=table.index)
    for g in grades:
        ax.bar(table.index, table[f"grade:{g}"], bottom=bottom, label=g)
        bottom += table[f"grade:{g}"]
    ax.set(title="Grade mix per night", ylabel="share of accounts")
    ax.legend(ncol=len(grades), fontsize=8)
    ax.tick_params(axis="x", rotation=30)
    files.append((save(fig, out / "grade_mix.png"), "Grade mix per night"))

    fig, ax = new_figure(figsize=(9, 3.6))
    ax.plot(table.index, table["score_psi"], "o-", color="black", label="score")
    inputs = [c for c in table if c.startswith("input_psi:")]
    for c in table[inputs].max().sort_values(ascending=False).index[:5]:
        ax.plot(table.index, table[c], ".-", label=c.split(":", 1)[1])
    ax.axhline(0.25, color="#b00", linestyle="--", linewidth=1)
    ax.set(title="PSI against training: the score and the five inputs that moved most")
    ax.legend(fontsize=8)
    ax.tick_params(axis="x", rotation=30)
    files.append((save(fig, out / "psi.png"), "PSI trends"))

    if not migration.empty:
        fig, ax = new_figure(figsize=(9, 3.6))
        ax.bar(migration.index, migration["watchlist"], color="#ff9f1c", label="watchlist")
        ax.plot(migration.index, migration["downgraded"], "v-", label="downgraded")
        ax.plot(migration.index, migration["upgraded"], "^-", label="upgraded")
        ax.set(title="Migration: watchlist size, downgrades and upgrades per night")
        ax.legend(fontsize=8)
        ax.tick_params(axis="x", rotation=30)
        files.append((save(fig, out / "migration_trend.png"), "Migration per night"))
    return files


def monitoring_page(cfg: Config, scores: Path, nights: int, out: Path) -> Path:
    """Write the page over the last ``nights`` published nights to ``out`` (atomically)."""
    import tempfile

    grades = list(cfg.scorecard.bands)
    table = nights_table(scores, nights, grades)
    if table.empty:
        raise MonitorError(f"{scores}: no published nights to monitor (run `delinq score` first)")
    migration = _summaries(cfg.monitor.output_dir / "migration")
    backtests = _summaries(cfg.monitor.output_dir / "backtests")
    with tempfile.TemporaryDirectory(prefix="delinq-page-") as tmp:
        charts = _charts(table, migration.reindex(table.index).dropna(how="all"), Path(tmp), grades)
        images = [img(path, caption) for path, caption in charts]
    shown = table[["read", "scored", "reject_rate", "score_psi", "drift"]]
    parts = [
        f"<h1>Nightly monitoring: the last {len(table)} nights</h1>",
        f"<p class='muted'>Scores under {html.escape(str(scores))}; "
        f"{html.escape(table.index[0])} to {html.escape(table.index[-1])}.</p>",
        "<h2>Volumes, rejects and drift</h2>",
        html_table(shown),
        *images,
        "<h2>Backtests</h2>",
    ]
    if backtests.empty:
        parts.append("<p class='muted'>No backtest yet: run <code>delinq backtest</code>.</p>")
    else:
        cols = [c for c in ("light", "matured", "bad_rate", "mean_pd", "auc") if c in backtests]
        lights = lambda column, value: value if column == "light" else ""  # noqa: E731
        parts.append(html_table(backtests[cols], cell_class=lights))
    return write_page(out, page("Nightly monitoring", "\n".join(parts)))
