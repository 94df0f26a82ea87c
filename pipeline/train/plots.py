"""Comparison plots of out-of-fold predictions: ROC, PR, calibration, KS, confusion matrices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

from delinq.pipeline.plotting import grid, new_figure, save
from delinq.pipeline.train.evaluate import CVResult, ks_statistic


def _curves(
    results: dict[str, CVResult],
    path: Path,
    curve,
    reference: tuple[list[float], list[float], str],
    xlabel: str,
    ylabel: str,
    title: str,
    legend: str,
) -> Path:
    """One chart with a curve per model; ``curve(y, p)`` returns ``(x, y, label suffix)``."""
    fig, ax = new_figure(figsize=(6, 5.5))
    for family, r in results.items():
        x, y, suffix = curve(r.y, r.oof)
        ax.plot(x, y, marker="o" if len(x) <= 20 else None, label=f"{family}{suffix}")
    ref_x, ref_y, ref_label = reference
    ax.plot(ref_x, ref_y, color="grey", linestyle=":", label=ref_label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(loc=legend)
    return save(fig, path)


def roc_plot(results: dict[str, CVResult], path: Path) -> Path:
    """Out-of-fold ROC curves of every model on one chart."""

    def curve(y, p):
        fpr, tpr, _ = roc_curve(y, p)
        return fpr, tpr, f" (AUC {roc_auc_score(y, p):.3f})"

    return _curves(
        results,
        path,
        curve,
        ([0, 1], [0, 1], "chance"),
        "False positive rate (goods flagged)",
        "True positive rate (bads caught)",
        "ROC, out-of-fold",
        "lower right",
    )


def pr_plot(results: dict[str, CVResult], path: Path) -> Path:
    """Out-of-fold precision-recall curves of every model."""

    def curve(y, p):
        precision, recall, _ = precision_recall_curve(y, p)
        return recall, precision, ""

    bad_rate = float(np.mean(next(iter(results.values())).y))
    return _curves(
        results,
        path,
        curve,
        ([0, 1], [bad_rate, bad_rate], "bad rate"),
        "Recall (bads caught)",
        "Precision (flagged that are bad)",
        "Precision-recall, out-of-fold",
        "upper right",
    )


def calibration_plot(results: dict[str, CVResult], path: Path) -> Path:
    """Reliability curves: mean predicted probability against observed bad rate, by decile."""

    def curve(y, p):
        observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
        return predicted, observed, ""

    return _curves(
        results,
        path,
        curve,
        ([0, 1], [0, 1], "perfect"),
        "Predicted probability of default",
        "Observed default rate",
        "Calibration, out-of-fold (before champion calibration)",
        "upper left",
    )


def ks_plot(results: dict[str, CVResult], path: Path) -> Path:
    """Cumulative share of bads and goods by score, with the KS gap marked, per model."""
    fig, axes = grid(len(results))
    for ax, (family, r) in zip(axes, results.items(), strict=True):
        order = np.argsort(-r.oof, kind="stable")
        y = r.y[order]
        share = np.arange(1, len(y) + 1) / len(y)
        bads, goods = np.cumsum(y) / y.sum(), np.cumsum(1 - y) / (1 - y).sum()
        at = int(np.argmax(bads - goods))
        ax.plot(share, bads, label="bads")
        ax.plot(share, goods, label="goods")
        ax.vlines(share[at], goods[at], bads[at], color="black", linestyle="--")
        ax.set_title(f"{family}: KS {ks_statistic(r.y, r.oof):.3f}")
        ax.set(xlabel="Share of book, riskiest first", ylabel="Cumulative share")
        ax.legend(loc="lower right")
    return save(fig, path)


def confusion_plot(results: dict[str, CVResult], path: Path) -> Path:
    """Out-of-fold confusion matrices at each fold's training-chosen threshold."""
    fig, axes = grid(len(results), size=3.2)
    for ax, (family, r) in zip(axes, results.items(), strict=True):
        cm = r.confusion
        ax.imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            share = v / cm.sum()
            colour = "white" if v > cm.max() / 2 else "black"
            ax.text(j, i, f"{v:,}\n{share:.1%}", ha="center", va="center", color=colour)
        ax.set_xticks([0, 1], ["pred good", "pred bad"])
        ax.set_yticks([0, 1], ["good", "bad"])
        ax.set_title(family)
    return save(fig, path)


def comparison_plots(results: dict[str, CVResult], out_dir: Path) -> list[Path]:
    """Write every comparison chart into ``out_dir``; return the files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [
        roc_plot(results, out_dir / "roc_curves.png"),
        pr_plot(results, out_dir / "pr_curves.png"),
        calibration_plot(results, out_dir / "calibration.png"),
        ks_plot(results, out_dir / "ks.png"),
        confusion_plot(results, out_dir / "confusion_matrices.png"),
    ]
