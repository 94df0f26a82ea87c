"""PDO scorecard points and risk grades."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from delinq.models.scorecard import risk_grade, score_points
from delinq.pipeline.config import ScorecardConfig

BANDS = ScorecardConfig().bands


def test_points_by_hand():
    # 600 points at 50:1 good:bad odds; 20 points double the odds.
    assert score_points(np.array([1 / 51])).item() == 600
    assert score_points(np.array([1 / 101])).item() == 620
    assert score_points(np.array([1 / 26])).item() == 580
    assert score_points(np.array([0.5])).item() == round(600 - 20 * np.log2(50))


def test_extreme_probabilities_stay_finite():
    points = score_points(np.array([0.0, 1.0]))
    assert np.all(np.abs(points) < 2_000)


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=2, max_size=200))
def test_higher_pd_never_more_points_or_better_grade(pds):
    p = np.sort(np.asarray(pds))
    points = score_points(p)
    assert np.all(np.diff(points) <= 0)
    rank = {g: i for i, g in enumerate(BANDS)}
    grades = np.array([rank[g] for g in risk_grade(points, BANDS)])
    assert np.all(np.diff(grades) >= 0)


def test_grade_bands():
    grades = risk_grade(np.array([700, 620, 619, 530, 501, 470, 469]), BANDS)
    assert grades.tolist() == ["A", "A", "B", "D", "E", "F", "G"]


def test_bad_bands_are_refused():
    with pytest.raises(ValueError, match="strictly decreasing"):
        risk_grade(np.array([1]), {"A": 500, "B": 600, "C": float("-inf")})
    with pytest.raises(ValueError, match="no minimum"):
        risk_grade(np.array([1]), {"A": 600, "B": 500})
    with pytest.raises(ValueError, match="strictly decreasing"):
        ScorecardConfig(bands={"A": 500, "B": 600, "C": float("-inf")})
    with pytest.raises(ValueError, match="-.inf"):
        ScorecardConfig(bands={"A": 600, "B": 500})
