"""Drift of a scored book against its training data: PSI per input and of the score.

The expected proportions per bin are saved with the model (the scoring reference, built by
:func:`delinq.pipeline.registry.reference.build_reference`); the batch scorer counts the
book's rows into the same bins (:mod:`delinq.pipeline.registry.reference` holds the bin
counting, used on both sides). This module turns counts into PSI, a status and a chart.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from delinq.pipeline.plotting import new_figure, save
from delinq.pipeline.registry.reference import ScoringReference, psi

__all__ = ["drift_plot", "drift_summary", "psi"]


def drift_summary(reference: ScoringReference, counts: dict, score_counts: np.ndarray, sc) -> dict:
    """PSI of every input and of the score against the training reference, with a status.

    With nothing scored there is nothing to compare: the status reads "not computed".
    """
    if not np.sum(score_counts):
        return {
            "score_psi": None,
            "input_psi": {},
            "watch": [],
            "alert": [],
            "status": "not computed",
        }
    inputs = {
        spec.name: round(psi(spec.drift.expected, counts[spec.name]), 5)
        for spec in reference.columns
    }
    score = round(psi(reference.score_drift.expected, score_counts), 5)
    everything = {"score": score, **inputs}
    alert = sorted(k for k, v in everything.items() if v >= sc.psi_alert)
    watch = sorted(k for k, v in everything.items() if sc.psi_watch <= v < sc.psi_alert)
    return {
        "score_psi": score,
        "input_psi": inputs,
        "watch": watch,
        "alert": alert,
        "status": "alert" if alert else "watch" if watch else "ok",
    }


def drift_plot(drift: dict, path: Path, watch: float, alert: float) -> Path:
    """PSI of the score and of each input against the training reference."""
    values = {"score": drift["score_psi"], **drift["input_psi"]}
    names = sorted(values, key=values.get)
    psis = [values[n] for n in names]
    colours = [
        "tab:red" if v >= alert else "tab:orange" if v >= watch else "tab:green" for v in psis
    ]
    fig, ax = new_figure(figsize=(7, max(3.0, 0.22 * len(names) + 1)))
    ax.barh(names, psis, color=colours)
    ax.axvline(watch, color="tab:orange", linestyle="--", label=f"watch {watch}")
    ax.axvline(alert, color="tab:red", linestyle="--", label=f"alert {alert}")
    ax.set(xlabel="population stability index vs training", title=f"Drift: {drift['status']}")
    ax.legend(loc="lower right")
    return save(fig, path)
