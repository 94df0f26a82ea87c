"""SHAP charts of the champion: global importance, beeswarm, dependence, one loan's waterfall.

SHAP draws through pyplot; every figure opened here is closed once saved, and the backend is
left as the caller has it (the CLI picks Agg once at start; a notebook keeps its own).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from delinq.pipeline.plotting import file_stem, save


def _save_pyplot(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    save(fig, path)
    plt.close(fig)
    return path


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
    import matplotlib.pyplot as plt
    import shap

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
        paths.append(_save_pyplot(plt.gcf(), out_dir / name))
    top = expl.importance().head(dependence)
    for rank, key in enumerate(top["input"], start=1):
        j = expl.inputs.index(key)
        if np.isnan(data.data[:, j]).all():
            continue  # a category: nothing to put on the x axis
        plt.figure(figsize=(6, 4.5))
        shap.plots.scatter(data[:, j], show=False)
        plt.ylabel(f"SHAP value ({expl.units})")
        name = f"shap_dependence_{rank}_{file_stem(key)}.png"
        paths.append(_save_pyplot(plt.gcf(), out_dir / name))
    return paths


def waterfall_plot(expl, row: int, title: str, path: Path) -> Path:
    """How one loan's inputs move its score from the average (a SHAP waterfall)."""
    import matplotlib.pyplot as plt
    import shap

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
    return _save_pyplot(fig, path)
