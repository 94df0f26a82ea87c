"""Backtest statistics on outcomes drawn from known probabilities."""

import numpy as np
import pytest

from delinq.pipeline.monitor.backtest import (
    calibration,
    cohort_summary,
    grade_tests,
    light,
    overall_light,
)


def _cohort(n=40_000, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    pd_ = rng.beta(1.2, 8, n)
    bad = (rng.random(n) < np.clip(pd_ * scale, 0, 1)).astype(int)
    grade = np.array(list("ABCD"))[np.digitize(pd_, [0.05, 0.1, 0.2])]
    return grade, pd_, bad


def test_a_calibrated_model_is_green_and_its_calibration_is_one_and_zero():
    grade, pd_, bad = _cohort()
    table = grade_tests(grade, pd_, bad, list("ABCD"))
    assert list(table["grade"]) == list("ABCD")
    assert (table["light"] != "red").all()
    assert np.allclose(table["bad_rate"], table["mean_pd"], atol=0.01)
    slope, intercept = calibration(bad, pd_)
    assert slope == pytest.approx(1, abs=0.08) and intercept == pytest.approx(0, abs=0.2)


def test_pd_too_low_by_half_turns_every_grade_red():
    grade, pd_, bad = _cohort(scale=1.5)
    table = grade_tests(grade, pd_, bad, list("ABCD"))
    assert (table["light"] == "red").all() and overall_light(table) == "red"
    assert (table["binomial_p"] < 0.01).all()
    summary = cohort_summary(bad, pd_, development_auc=0.70)
    assert summary["calibration_intercept"] > 0.2 and summary["gini"] == 2 * summary["auc"] - 1
    assert summary["auc_change"] == pytest.approx(summary["auc"] - 0.70)


def test_lights_follow_the_jeffreys_p_value():
    assert [light(p) for p in (0.5, 0.05, 0.049, 0.01, 0.009)] == [
        "green", "green", "amber", "amber", "red"
    ]  # fmt: skip
