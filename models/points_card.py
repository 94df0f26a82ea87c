"""The scorecard family's points table: whole points per input and bin, summed to a score.

A scorecard model is a WoE step (:class:`~delinq.models.binning.MonotoneWoE`) and a logistic
regression, possibly behind a sigmoid calibration, so its log-odds of bad are linear in the
bins' WoE. PDO scaling (:func:`delinq.models.scorecard.score_points`) is linear in the log-odds
too, so every bin gets its own points:

    points = base + sum over inputs of round(-factor * a * coef * WoE(bin))

with ``factor = pdo / ln 2``, ``a`` the calibration's slope (1 without one) and the base
absorbing the intercepts. Each bin's points are rounded, as a printed card shows them, and a
loan's score is the sum of its bins' points: the table a person can check by hand is the score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from delinq.models.binning import MonotoneWoE
from delinq.models.fitted import fitted_pipeline


@dataclass
class PointsCard:
    """Whole points per input and bin of a fitted scorecard, and a base."""

    woe: MonotoneWoE
    points: dict[str, np.ndarray]  # input -> points of each of its bins
    base: int
    prep: list  # fitted steps before the bins (derived history features), maybe none

    def inputs(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The columns the card reads: raw inputs and derived history features."""
        for step in self.prep:
            frame = step.transform(frame)
        return frame

    def score(self, frame: pd.DataFrame) -> np.ndarray:
        """Each row's score (raw rows): the base plus its bins' points."""
        return self.score_inputs(self.inputs(frame))

    def score_inputs(self, inputs: pd.DataFrame) -> np.ndarray:
        """Each row's score from the card's own input columns (:meth:`inputs`)."""
        total = np.full(len(inputs), self.base, dtype=np.int64)
        for col, pts in self.points.items():
            total += pts[self.woe.bins_[col].bin_of(inputs[col])]
        return total

    def table(self) -> pd.DataFrame:
        """Input, bin, count, bad rate, WoE, IV and points; a first row holds the base."""
        rows = self.woe.table()
        rows["points"] = np.concatenate([self.points[c] for c in self.woe.kept_])
        base = pd.DataFrame([{"input": "(base)", "bin": "every loan", "points": self.base}])
        return pd.concat([base, rows], ignore_index=True)

    def information_values(self) -> pd.Series:
        """Every binned input's information value, highest first (left-out inputs too)."""
        iv = {c: b.iv for c, b in self.woe.bins_.items()}
        return pd.Series(iv, name="iv").sort_values(ascending=False)


def is_scorecard(model) -> bool:
    """Whether ``model`` (a pipeline, search or calibration around one) is the scorecard family."""
    steps = fitted_pipeline(model).steps
    return len(steps) >= 2 and isinstance(steps[-2][1], MonotoneWoE)


def points_card(model, base_score: float, base_odds: float, pdo: float) -> PointsCard:
    """The points table of a fitted scorecard ``model`` on the given PDO scale.

    ``model`` is the pipeline or its calibration wrapper; a sigmoid calibration's slope and
    intercept are folded into the points, so the card scores the calibrated probability.
    """
    if not is_scorecard(model):
        raise ValueError("not a scorecard model (no WoE step before its classifier)")
    steps = fitted_pipeline(model).steps
    woe, clf = steps[-2][1], steps[-1][1]
    if not isinstance(clf, LogisticRegression):
        raise ValueError(f"a scorecard ends in a logistic regression, not {type(clf).__name__}")
    slope, shift = 1.0, 0.0
    calibrator = getattr(model, "calibrator_", None)
    if isinstance(calibrator, LogisticRegression):  # sigmoid calibration: affine in log-odds
        slope, shift = float(calibrator.coef_[0, 0]), float(calibrator.intercept_[0])
    factor = pdo / np.log(2)
    offset = base_score - factor * np.log(base_odds)
    coef = dict(zip(woe.kept_, clf.coef_[0], strict=True))
    points = {
        c: np.round(-factor * slope * coef[c] * woe.bins_[c].woe).astype(np.int64)
        for c in woe.kept_
    }
    base = int(np.round(offset - factor * (slope * float(clf.intercept_[0]) + shift)))
    prep = [step for _, step in steps[:-2] if not hasattr(step, "fit_resample")]
    return PointsCard(woe, points, base, prep)
