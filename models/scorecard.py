"""Probability of default to scorecard points (PDO scaling) and to risk grades."""

from __future__ import annotations

import numpy as np

# Floors and caps keep points finite for probabilities of exactly 0 or 1.
_P_MIN, _P_MAX = 1e-9, 1 - 1e-9


def score_points(
    pd_: np.ndarray, base_score: float = 600, base_odds: float = 50, pdo: float = 20
) -> np.ndarray:
    """Points = offset + factor * ln(good:bad odds), rounded to whole points.

    ``base_score`` points at good:bad odds of ``base_odds``:1, and every ``pdo`` points double
    the odds. A higher probability of default never gets more points.
    """
    if pdo <= 0 or base_odds <= 0:
        raise ValueError("pdo and base_odds must be positive")
    p = np.clip(np.asarray(pd_, dtype=float), _P_MIN, _P_MAX)
    factor = pdo / np.log(2)
    offset = base_score - factor * np.log(base_odds)
    return np.round(offset + factor * np.log((1 - p) / p)).astype(np.int64)


def risk_grade(points: np.ndarray, bands: dict[str, float]) -> np.ndarray:
    """Grade of each score: the best grade whose minimum score the points reach.

    ``bands`` maps grade to its minimum score, best grade first (e.g. ``{"A": 660, ...,
    "G": -inf}``); the last grade must catch everything.
    """
    return np.array(list(bands), dtype=object)[grade_index(points, bands)]


def grade_index(points: np.ndarray, bands: dict[str, float]) -> np.ndarray:
    """Position in ``bands`` of each score's grade (:func:`risk_grade` without the text)."""
    names = list(bands)
    floors = np.array([bands[g] for g in names], dtype=float)
    if np.any(np.diff(floors) >= 0):
        raise ValueError("grade bands must have strictly decreasing minimum scores, best first")
    if np.isfinite(floors[-1]):
        raise ValueError(f"the last grade ({names[-1]}) must have no minimum (use -.inf)")
    # floors descend: count how many floors are above the score -> index of the grade.
    return (np.asarray(points, dtype=float)[:, None] < floors[None, :]).sum(axis=1)
