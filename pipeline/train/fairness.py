"""How the champion treats the groups of each protected attribute (``data.protected``).

Measured on the champion's out-of-fold predictions, so every row is scored by a model that
did not see it, and at the threshold each fold's training rows chose (the rows the
confusion matrices count as flagged). Per attribute and group: rows, bad rate, mean PD and
its gap to the bad rate (calibration), AUC, the share flagged, and the adverse-impact ratio:
the group's share *not* flagged over the most favoured group's (the four-fifths rule reads
a ratio under 0.8 as adverse impact).

Numeric attributes (age) are cut into bands; groups smaller than ``min_group_rows`` are
pooled into "other", so no row stands out. The table holds aggregates only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from delinq.pipeline.config import FairnessConfig
from delinq.pipeline.plotting import save

FAIRNESS_FILE = "fairness.csv"
FAIRNESS_PLOT = "fairness.png"
OTHER = "other (small groups)"
FOUR_FIFTHS = 0.8  # an impact ratio under this reads as adverse impact


def group_labels(values: pd.Series, edges: list[float] | None, min_rows: int) -> pd.Series:
    """A readable group per row: bands for numeric values, levels for the rest.

    Numeric values are cut at ``edges`` (at quintiles when None and the attribute has more
    than ten values; fewer are levels, like codes); missing values form their own group.
    Groups under ``min_rows`` rows are pooled.
    """
    numbers = pd.to_numeric(values, errors="coerce")
    numeric = numbers.notna().sum() == values.notna().sum()
    if numeric and (edges is not None or numbers.nunique() > 10):
        cuts = edges
        if cuts is None:
            cuts = np.unique(np.quantile(numbers.dropna(), [0.2, 0.4, 0.6, 0.8])).tolist()
        bounds = [-np.inf, *sorted(cuts), np.inf]
        names = [_band(lo, hi) for lo, hi in zip(bounds, bounds[1:], strict=False)]
        labels = pd.cut(numbers, bounds, right=False, labels=names).astype(object)
    else:
        labels = values.astype(object).map(lambda v: _level(v))
    labels = labels.where(values.notna(), "missing").astype(str)
    counts = labels.value_counts()
    small = counts[counts < min_rows].index
    return labels.where(~labels.isin(small), OTHER)


def _level(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _band(lo: float, hi: float) -> str:
    if lo == -np.inf:
        return f"under {hi:g}"
    if hi == np.inf:
        return f"{lo:g} and over"
    return f"{lo:g} to under {hi:g}"


def fairness_table(
    protected: pd.DataFrame,
    y: np.ndarray,
    pd_: np.ndarray,
    flagged: np.ndarray,
    cfg: FairnessConfig,
) -> pd.DataFrame:
    """One row per protected attribute and group; see the module docstring for the columns."""
    y, pd_, flagged = np.asarray(y), np.asarray(pd_, dtype=float), np.asarray(flagged, bool)
    rows = []
    for attribute in protected.columns:
        groups = group_labels(
            protected[attribute], cfg.bands.get(attribute), cfg.min_group_rows
        ).to_numpy()
        for group in sorted(set(groups), key=_group_order):
            inside = groups == group
            g_y, g_pd = y[inside], pd_[inside]
            rows.append(
                {
                    "attribute": attribute,
                    "group": group,
                    "rows": int(inside.sum()),
                    "bad_rate": float(g_y.mean()),
                    "mean_pd": float(g_pd.mean()),
                    "calibration_gap": float(g_pd.mean() - g_y.mean()),
                    "auc": float(roc_auc_score(g_y, g_pd)) if 0 < g_y.sum() < len(g_y) else None,
                    "flagged_share": float(flagged[inside].mean()),
                }
            )
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    passed = 1 - table["flagged_share"]
    # The most favoured group is a real one: the pooled small groups are no benchmark.
    best = passed.where(table["group"] != OTHER).groupby(table["attribute"]).transform("max")
    judged = (best > 0) & (table["group"] != OTHER)  # too few rows in "other" to judge
    table["impact_ratio"] = np.where(judged, passed / best, np.nan)
    return table


def _group_order(label: str) -> tuple:
    """Bands in numeric order, then levels; "missing" and "other" last."""
    tail = {"missing": 1, OTHER: 2}.get(label, 0)
    if label.startswith("under "):
        return (tail, -np.inf, label)
    head = label.split(" ")[0]
    try:
        return (tail, float(head), label)
    except ValueError:
        return (tail, np.inf, label)


def lowest_impact_ratio(table: pd.DataFrame) -> float | None:
    """The smallest adverse-impact ratio of any group (the promotion gate reads it)."""
    if table.empty or table["impact_ratio"].isna().all():
        return None
    return float(table["impact_ratio"].min())


def fairness_plot(table: pd.DataFrame, path: Path) -> Path:
    """Per attribute: bad rate against mean PD and the share flagged, per group; the
    four-fifths line on the impact ratio."""
    from matplotlib.figure import Figure

    attributes = list(dict.fromkeys(table["attribute"]))
    fig = Figure(figsize=(11, 2.8 * len(attributes)))
    axes = fig.subplots(len(attributes), 2, squeeze=False)
    for row, attribute in zip(axes, attributes, strict=True):
        sub = table[table["attribute"] == attribute]
        x = np.arange(len(sub))
        row[0].bar(x - 0.2, sub["bad_rate"], 0.4, label="bad rate", color="#999")
        row[0].bar(x + 0.2, sub["mean_pd"], 0.4, label="mean PD", color="#1f77b4")
        row[0].set_title(f"{attribute}: calibration by group", fontsize=10)
        row[1].bar(x, sub["impact_ratio"], color="#2ca02c")
        row[1].axhline(0.8, color="#b00", linestyle="--", linewidth=1, label="four-fifths")
        row[1].set_ylim(0, 1.05)
        row[1].set_title(f"{attribute}: adverse-impact ratio", fontsize=10)
        for ax in row:
            ax.set_xticks(x, sub["group"], rotation=20, ha="right", fontsize=8)
            ax.legend(fontsize=8)
    return save(fig, path)
