"""Charts of the monitoring outputs: the grade migration heatmap and the backtest by grade."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from delinq.pipeline.plotting import new_figure, save

LIGHT_COLOURS = {"green": "#2ca02c", "amber": "#ff9f1c", "red": "#d62728"}


def migration_plot(shares: pd.DataFrame, path: Path, title: str) -> Path:
    """Heatmap of the share of each previous grade's accounts in each grade tonight."""
    fig, ax = new_figure(figsize=(7, 5.5))
    values = shares.fillna(0).to_numpy()
    ax.imshow(values, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(shares.shape[1]), shares.columns)
    ax.set_yticks(range(shares.shape[0]), shares.index)
    for (i, j), v in np.ndenumerate(values):
        if v >= 0.005:
            ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=8,
                    color="white" if v > 0.6 else "black")  # fmt: skip
    ax.set(xlabel="grade tonight", ylabel="grade on the previous night", title=title)
    return save(fig, path)


def backtest_plot(grades: pd.DataFrame, path: Path, title: str) -> Path:
    """Mean predicted PD against the realised bad rate per grade, bars coloured by light."""
    fig, ax = new_figure(figsize=(7, 4.5))
    x = np.arange(len(grades))
    colours = [LIGHT_COLOURS[c] for c in grades["light"]]
    ax.bar(x, grades["bad_rate"], 0.6, color=colours, label="realised bad rate")
    ax.plot(x, grades["mean_pd"], "ko-", label="mean predicted PD")
    ax.set_xticks(x, grades["grade"])
    ax.set(xlabel="grade", ylabel="rate", title=title)
    ax.legend()
    return save(fig, path)
