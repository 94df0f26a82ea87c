"""Chart helpers shared by the jobs' plots: figures drawn off-screen and saved as PNG.

Charts are built on :class:`matplotlib.figure.Figure` directly, not through pyplot: drawing one
never switches the backend of an analyst's notebook, and no figure stays open. (SHAP's own
plots draw through pyplot; :mod:`delinq.pipeline.explain.plots` closes each one it opens.)
"""

from __future__ import annotations

from pathlib import Path


def new_figure(figsize: tuple[float, float] = (6.4, 4.8)):
    """A figure with one axes, not registered with pyplot: ``(figure, axes)``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.add_subplot()


def grid(n: int, size: float = 3.6):
    """A figure with ``n`` square panels, at most four to a row: ``(figure, [axes])``."""
    from matplotlib.figure import Figure

    cols = min(n, 4)
    rows = -(-n // cols)
    fig = Figure(figsize=(size * cols, size * rows))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n])


def save(fig, path: Path) -> Path:
    """Lay out and write ``fig`` as a PNG; return the path."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def file_stem(text: str) -> str:
    """``text`` (a column name, a loan id) made safe as part of a file name: no ``/``, no dots
    or spaces, at most 64 characters."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in str(text))[:64]
