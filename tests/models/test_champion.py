"""Champion choice and promotion gates."""

import pandas as pd
import pytest

from delinq.models.champion import choose_champion, promotion_decision


def test_best_metric_wins_and_direction_respected():
    summary = pd.DataFrame(
        {"roc_auc_mean": [0.70, 0.78, 0.75], "brier_mean": [0.15, 0.16, 0.14]},
        index=["logreg", "xgboost", "svm"],
    )
    assert choose_champion(summary, "roc_auc") == "xgboost"
    assert choose_champion(summary, "brier") == "svm"
    with pytest.raises(KeyError):
        choose_champion(summary, "ks")


@pytest.mark.parametrize(
    ("challenger", "champion", "promote"),
    [(0.80, None, True), (0.55, None, False), (0.78, 0.781, True), (0.77, 0.79, False)],
)
def test_gates(challenger, champion, promote):
    decision = promotion_decision(challenger, champion, min_auc=0.6, tolerance=0.005)
    assert decision.promote is promote and decision.reason


def test_interval_gate_refuses_only_beyond_the_interval():
    # The point estimate trails by 0.02, but the interval reaches the champion: not worse.
    kept = promotion_decision(0.77, 0.79, 0.6, 0.005, challenger_high=0.80)
    refused = promotion_decision(0.77, 0.79, 0.6, 0.005, challenger_high=0.78)
    assert kept.promote and not refused.promote and "upper end" in refused.reason
    assert not promotion_decision(0.77, 0.79, 0.6, 0.005).promote
