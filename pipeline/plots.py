"""Comparison plots of out-of-fold predictions: ROC, PR, calibration, KS, confusion matrices."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

from pipeline.evaluate import CVResult, ks_statistic


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    return plt


def _grid(plt, n: int, size: float = 3.6):
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


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
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5.5))
    for family, r in results.items():
        x, y, suffix = curve(r.y, r.oof)
        ax.plot(x, y, marker="o" if len(x) <= 20 else None, label=f"{family}{suffix}")
    ref_x, ref_y, ref_label = reference
    ax.plot(ref_x, ref_y, color="grey", linestyle=":", label=ref_label)
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.legend(loc=legend)
    return _save(fig, path)


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
    plt = _pyplot()
    fig, axes = _grid(plt, len(results))
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
    return _save(fig, path)


def confusion_plot(results: dict[str, CVResult], path: Path) -> Path:
    """Out-of-fold confusion matrices at each fold's training-chosen threshold."""
    plt = _pyplot()
    fig, axes = _grid(plt, len(results), size=3.2)
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
    return _save(fig, path)


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


def roll_rate_heatmap(matrix, counts, path: Path) -> Path:
    """Month-over-month transition rates between DPD buckets, annotated."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
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
    return _save(fig, path)


def aging_bars(aging, path: Path) -> Path:
    """Stacked bars: share of accounts in each DPD bucket, month by month."""
    plt = _pyplot()
    shares = aging.pivot_table(index="month", columns="bucket", values="share", observed=True)
    shares = shares[[b for b in aging["bucket"].unique()]]
    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    bottom = np.zeros(len(shares))
    colours = plt.get_cmap("RdYlGn_r")(np.linspace(0.05, 0.95, shares.shape[1]))
    for colour, bucket in zip(colours, shares.columns, strict=True):
        ax.bar(shares.index.astype(str), shares[bucket], bottom=bottom, color=colour, label=bucket)
        bottom += shares[bucket].to_numpy()
    ax.set(ylabel="share of accounts", title="Aging: accounts by days-past-due bucket")
    ax.yaxis.set_major_formatter(plt.matplotlib.ticker.PercentFormatter(1.0))
    ax.legend(title="DPD", bbox_to_anchor=(1.01, 1), loc="upper left")
    return _save(fig, path)


def bad_rate_bars(tables: dict, path: Path) -> Path:
    """Bad rate by group (e.g. current bucket, segment), one panel per grouping."""
    plt = _pyplot()
    fig, axes = _grid(plt, len(tables), size=4.2)
    for ax, (title, table) in zip(axes, tables.items(), strict=True):
        ax.bar(table.index.astype(str), table["bad_rate"], color="tab:red")
        for i, (rate, n) in enumerate(zip(table["bad_rate"], table["accounts"], strict=True)):
            ax.text(i, rate, f"{rate:.0%}\nn={n:,}", ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, min(1.0, table["bad_rate"].max() * 1.3 + 0.05))
        ax.set_title(f"Bad rate by {title}")
        ax.tick_params(axis="x", rotation=30)
    return _save(fig, path)


def drift_plot(drift: dict, path: Path, watch: float, alert: float) -> Path:
    """PSI of the score and of each input against the training reference."""
    plt = _pyplot()
    values = {"score": drift["score_psi"], **drift["input_psi"]}
    names = sorted(values, key=values.get)
    psis = [values[n] for n in names]
    colours = [
        "tab:red" if v >= alert else "tab:orange" if v >= watch else "tab:green" for v in psis
    ]
    fig, ax = plt.subplots(figsize=(7, max(3.0, 0.22 * len(names) + 1)))
    ax.barh(names, psis, color=colours)
    ax.axvline(watch, color="tab:orange", linestyle="--", label=f"watch {watch}")
    ax.axvline(alert, color="tab:red", linestyle="--", label=f"alert {alert}")
    ax.set(xlabel="population stability index vs training", title=f"Drift: {drift['status']}")
    ax.legend(loc="lower right")
    return _save(fig, path)


def _shap_explanation(expl, rows=None):
    import shap

    values = expl.values if rows is None else expl.values[rows]
    display = expl.display if rows is None else expl.display.iloc[rows]
    return shap.Explanation(
        values=values,
        base_values=np.full(len(values), expl.base_value),
        data=display.to_numpy(dtype=float),
        feature_names=list(expl.labels),
    )


def shap_plots(expl, out_dir: Path, dependence: int = 4) -> list[Path]:
    """Global SHAP views: mean |SHAP| bars, a beeswarm, and dependence plots of top inputs."""
    import shap

    plt = _pyplot()
    out_dir.mkdir(parents=True, exist_ok=True)
    data = _shap_explanation(expl)
    paths = []
    for name, draw in (
        ("shap_importance.png", shap.plots.bar),
        ("shap_beeswarm.png", shap.plots.beeswarm),
    ):
        plt.figure(figsize=(8, 5.5))
        with warnings.catch_warnings():  # category inputs: all-NaN colour columns
            warnings.simplefilter("ignore", RuntimeWarning)
            draw(data, max_display=15, show=False)
        plt.title(f"What drives the score (SHAP, {expl.units})")
        paths.append(_save(plt.gcf(), out_dir / name))
    top = expl.importance().head(dependence)
    for rank, key in enumerate(top["input"], start=1):
        j = expl.inputs.index(key)
        if np.isnan(data.data[:, j]).all():
            continue  # a category: nothing to put on the x axis
        plt.figure(figsize=(6, 4.5))
        shap.plots.scatter(data[:, j], show=False)
        plt.ylabel(f"SHAP value ({expl.units})")
        paths.append(_save(plt.gcf(), out_dir / f"shap_dependence_{rank}_{key}.png"))
    return paths


def waterfall_plot(expl, row: int, title: str, path: Path) -> Path:
    """How one loan's inputs move its score from the average (a SHAP waterfall)."""
    import shap

    plt = _pyplot()
    values = expl.values[row]
    # Each bar says what the input is and, below it, the loan's value in words.
    names = [
        f"{label}\n{text}" for label, text in zip(expl.labels, expl.text.iloc[row], strict=True)
    ]
    one = shap.Explanation(values=values, base_values=expl.base_value, feature_names=names)
    plt.figure()
    shap.plots.waterfall(one, max_display=10, show=False)
    fig = plt.gcf()
    fig.set_size_inches(12, fig.get_size_inches()[1] * 1.25)
    fig.suptitle(title)
    return _save(fig, path)
