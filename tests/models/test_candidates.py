"""The candidate families' defaults, size rules and search spaces."""

from __future__ import annotations

from delinq.models.candidates import DEFAULTS, make_classifier, search_space, size_defaults


def test_xgboost_chooses_its_depth_unless_one_is_set_by_hand():
    assert make_classifier("xgboost").depth_candidates == DEFAULTS["xgboost"]["depth_candidates"]
    fixed = make_classifier("xgboost", {"max_depth": 5})
    assert (fixed.max_depth, fixed.depth_candidates) == (5, None)
    both = make_classifier("xgboost", {"max_depth": 5, "depth_candidates": (2, 5)})
    assert both.depth_candidates == (2, 5)


def test_a_searched_depth_is_the_depth_a_trial_is_scored_at():
    assert search_space("xgboost")["depth_candidates"] == [None]
    assert search_space("xgboost", {"max_depth": ["int", 2, 4]}) == {
        "max_depth": ("int", 2, 4),
        "depth_candidates": [None],
    }
    assert "depth_candidates" not in search_space("xgboost", {"learning_rate": [0.05, 0.1]})
    assert "depth_candidates" not in search_space("random_forest")


def test_regularisation_follows_the_total_hessian_and_the_forest_sample_the_rows():
    taiwan = size_defaults("xgboost", 24_000, 0.22)
    rare = size_defaults("xgboost", 19_000, 0.017)
    assert taiwan["reg_lambda"] > rare["reg_lambda"] >= 1.0
    assert size_defaults("random_forest", 1_000)["max_samples"] is None
    assert 0.2 <= size_defaults("random_forest", 24_000)["max_samples"] < 1.0
    assert size_defaults("logreg", 10_000) == {} == size_defaults("xgboost", None)


def test_a_quick_run_grows_the_smaller_forest_unless_the_config_sets_one():
    from delinq.models.candidates import QUICK_DEFAULTS

    quick = QUICK_DEFAULTS["random_forest"]["n_estimators"]
    assert quick < DEFAULTS["random_forest"]["n_estimators"]
    assert (
        make_classifier("random_forest").n_estimators == DEFAULTS["random_forest"]["n_estimators"]
    )
    assert make_classifier("random_forest", quick=True).n_estimators == quick
    assert make_classifier("random_forest", {"n_estimators": 300}, quick=True).n_estimators == 300
    assert (
        make_classifier("xgboost", quick=True).get_params()
        == make_classifier("xgboost").get_params()
    )
