"""Portfolio charts: roll-rate heatmap, aging bars, bad rate by group."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

from delinq.pipeline.plotting import grid, new_figure, save


def roll_rate_heatmap(matrix, counts, path: Path) -> Path:
    """Month-over-month transition rates between DPD buckets, annotated."""
    fig, ax = new_figure(figsize=(6.5, 5.5))
    values = matrix.to_numpy()
    im = ax.imshow(np.nan_to_num(values), cmap="Reds", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(values):
        if np.isfinite(v):
            colour = "white" if v > 0.6 else "black"
            ax.text(j, i, f"{v:.0%}", ha="center", va="center", color=colour)
    labels = list(matrix.index)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), [f"{b}\n(n={counts[b]:,})" for b in labels])
    ax.set(xlabel="bucket this month", ylabel="bucket last month")
    ax.set_title("Roll rates (right of diagonal: roll forward, left: cure)")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return save(fig, path)


def aging_bars(aging, path: Path) -> Path:
    """Stacked bars: share of accounts in each DPD bucket, month by month."""
    shares = aging.pivot_table(index="month", columns="bucket", values="share", observed=True)
    shares = shares[[b for b in aging["bucket"].unique()]]
    fig, ax = new_figure(figsize=(7.5, 4.5))
    bottom = np.zeros(len(shares))
    colours = matplotlib.colormaps["RdYlGn_r"](np.linspace(0.05, 0.95, shares.shape[1]))
    for colour, bucket in zip(colours, shares.columns, strict=True):
        ax.bar(shares.index.astype(str), shares[bucket], bottom=bottom, color=colour, label=bucket)
        bottom += shares[bucket].to_numpy()
    ax.set(ylabel="share of accounts", title="Aging: accounts by days-past-due bucket")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(title="DPD", bbox_to_anchor=(1.01, 1), loc="upper left")
    return save(fig, path)


def bad_rate_bars(tables: dict, path: Path) -> Path:
    """Bad rate by group (e.g. current bucket, segment), one panel per grouping."""
    fig, axes = grid(len(tables), size=4.2)
    for ax, (title, table) in zip(axes, tables.items(), strict=True):
        ax.bar(table.index.astype(str), table["bad_rate"], color="tab:red")
        for i, (rate, n) in enumerate(zip(table["bad_rate"], table["accounts"], strict=True)):
            ax.text(i, rate, f"{rate:.0%}\nn={n:,}", ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, min(1.0, table["bad_rate"].max() * 1.3 + 0.05))
        ax.set_title(f"Bad rate by {title}")
        ax.tick_params(axis="x", rotation=30)
    return save(fig, path)
