"""SHAP explanations per family: exactness, grouping back to inputs, reason codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shap
import xgboost as xgb

from delinq.models.calibration import OOFCalibratedClassifier
from delinq.pipeline.book.io import load_training_data
from delinq.pipeline.explain.explainer import (
    ModelExplainer,
    background_stats,
    default_labels,
    input_of,
)
from delinq.pipeline.registry.reference import ScoringReference, build_reference
from delinq.pipeline.train.estimator import Columns, build_pipeline
from tests.conftest import quick_config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    cfg = quick_config(tmp_path_factory.mktemp("explain"))
    return cfg, load_training_data(cfg)


def _reference(cfg, ds, model, explain: dict | None = None) -> ScoringReference:
    """The reference training saves with ``model`` (built by the same function)."""
    scores = model.predict_proba(ds.X)[:, 1]
    return build_reference(
        ds.X, ds.numeric, ds.categorical, scores, cfg.data.id, cfg.data.history, explain
    )


@pytest.fixture(scope="module")
def fitted(data):
    cfg, ds = data
    out = {}
    for family in ("xgboost", "logreg", "random_forest", "svm"):
        pipe = build_pipeline(cfg, Columns(ds.numeric, ds.categorical), family)
        model = OOFCalibratedClassifier(pipe, cv=3).fit(ds.X, ds.y)
        reference = _reference(cfg, ds, model, background_stats(model, ds.X, seed=1))
        out[family] = ModelExplainer(model, reference)
    return out


def _raw_output(explainer, Z):
    clf = explainer.clf
    if explainer.family == "xgboost":
        return clf.get_booster().predict(xgb.DMatrix(Z), output_margin=True)
    if explainer.family == "random_forest":
        return clf.predict_proba(Z)[:, 1]
    return clf.decision_function(Z)


@pytest.mark.parametrize("family", ["xgboost", "logreg", "random_forest", "svm"])
def test_values_plus_base_add_up_to_the_model_output(fitted, data, family):
    _, ds = data
    explainer = fitted[family]
    rows = ds.X.head(40)
    Z = explainer.transform(rows)
    values = explainer.contributions(Z)
    assert values.shape == (40, len(explainer.inputs))
    np.testing.assert_allclose(
        values.sum(axis=1) + explainer.base_value, _raw_output(explainer, Z), atol=1e-5
    )
    # Predictions through the explainer are the model's own.
    np.testing.assert_allclose(explainer.predict(Z), explainer.model.predict_proba(rows)[:, 1])


def test_xgboost_values_match_shap_tree_explainer_per_input(fitted, data):
    _, ds = data
    explainer = fitted["xgboost"]
    Z = explainer.transform(ds.X.head(300))
    reference = shap.TreeExplainer(explainer.clf.get_booster()).shap_values(Z)
    summed = np.zeros((len(Z), len(explainer.inputs)))
    np.add.at(summed.T, explainer.column_of, reference.T)
    np.testing.assert_allclose(explainer.contributions(Z), summed, atol=1e-5)
    assert "lookup tables" in explainer.method


def test_logreg_values_are_exact_linear_shap(fitted, data):
    _, ds = data
    explainer = fitted["logreg"]
    Z = explainer.transform(ds.X.head(50))
    mean = explainer._backend.mean
    linear = shap.LinearExplainer(explainer.clf, shap.maskers.Independent(mean[None, :]))
    summed = np.zeros((len(Z), len(explainer.inputs)))
    np.add.at(summed.T, explainer.column_of, linear.shap_values(Z).T)
    np.testing.assert_allclose(explainer.contributions(Z), summed, atol=1e-8)


def test_engineered_columns_map_back_to_inputs():
    cats = ["EDUCATION", "EDU"]
    assert input_of("util_max", cats) == "utilisation"
    assert input_of("months_delinquent", cats) == "status_history"
    assert input_of("headroom_3", cats) == "utilisation"  # month-by-month detail
    assert input_of("pay_ratio_12", cats) == "payment_history"
    assert input_of("balance_change_0", cats) == "balance_trend"
    assert input_of("status_max", cats) == "status_history"
    assert input_of("headroom_latest", cats) == "headroom_latest"  # not a derived name
    assert input_of("missingindicator_AGE", cats) == "AGE"
    assert input_of("EDUCATION_3", cats) == "EDUCATION"  # longest owner wins
    assert input_of("EDUCATION_infrequent_sklearn", cats) == "EDUCATION"
    assert input_of("LIMIT_BAL", cats) == "LIMIT_BAL"


def test_history_columns_get_readable_labels(data):
    cfg, _ = data
    labels = default_labels(cfg.data.history)
    assert labels["PAY_0"] == "repayment status, latest month"
    assert labels["PAY_3"] == "repayment status, 2 months before latest"
    assert labels["BILL_AMT2"] == "bill amount, 1 month before latest"
    assert labels["LIMIT_BAL"] == "credit limit"


def test_reason_codes_rank_risk_raising_inputs_with_values(fitted, data):
    _, ds = data
    explainer = fitted["xgboost"]
    rows = ds.X.head(200)
    values = explainer.contributions(explainer.transform(rows))
    codes = explainer.reason_codes(values, rows, 3)
    assert list(codes.columns) == [f"reason_{i}{part}" for i in (1, 2, 3) for part in ("_code", "")]
    upper = {k.upper(): k for k in explainer.inputs}
    for i in range(len(rows)):
        chosen = [codes.iloc[i][f"reason_{j}_code"] for j in (1, 2, 3)]
        got = [values[i, explainer.inputs.index(upper[c])] for c in chosen if c is not None]
        assert all(v > 0 for v in got) and got == sorted(got, reverse=True)
        # Nothing left out that raises risk more than the weakest reason given.
        n_up = int((values[i] > 0).sum())
        assert len(got) == min(3, n_up)
        if got:
            assert sorted(values[i], reverse=True)[len(got) - 1] == got[-1]
    late = rows["PAY_0"] >= 2
    pay0 = codes["reason_1_code"] == "PAY_0"
    if (late & pay0).any():  # the text carries the value in words
        assert codes.loc[(late & pay0).to_numpy(), "reason_1"].str.contains("months late").all()


def test_a_row_with_nothing_raising_risk_gets_null_reasons(fitted, data):
    _, ds = data
    explainer = fitted["xgboost"]
    rows = ds.X.head(3)
    values = -np.abs(explainer.contributions(explainer.transform(rows)))
    values[1, 0] = 0.5  # one reason only
    codes = explainer.reason_codes(values, rows, 3)
    assert codes.iloc[0].isna().all()
    assert codes.iloc[1]["reason_1_code"] == explainer.inputs[0].upper()
    assert pd.isna(codes.iloc[1]["reason_2_code"])


def test_the_top_reasons_are_those_of_a_stable_descending_sort():
    from delinq.pipeline.explain.explainer import _describe_numbers, _top

    rng = np.random.default_rng(0)
    values = rng.normal(size=(2_000, 12)).round(1)  # many ties: the earlier column first
    values[rng.random(values.shape) < 0.2] = -np.inf  # protected inputs
    values[rng.random(values.shape) < 0.02] = np.nan
    want = np.argsort(-np.nan_to_num(values, nan=-np.inf), axis=1, kind="stable")[:, :3]
    got = _top(values, 3)
    shown = [np.where(np.take_along_axis(values, o, 1) > 0, o, -1) for o in (want, got)]
    np.testing.assert_array_equal(*shown)
    words = _describe_numbers([np.nan, 0.0, 3.0, 0.123456, -0.5, 99.5, 1234.5, "7"])
    assert words == ["missing", "0", "3", "0.123", "-0.5", "99.5", "1,234", "7"]


def test_linear_and_svm_models_need_a_background(data):
    cfg, ds = data
    pipe = build_pipeline(cfg, Columns(ds.numeric, ds.categorical), "logreg").fit(ds.X, ds.y)
    with pytest.raises(ValueError, match="without an explanation background"):
        ModelExplainer(pipe, _reference(cfg, ds, pipe))
    # Given rows, it builds one on the spot.
    assert ModelExplainer(pipe, _reference(cfg, ds, pipe), data=ds.X).family == "logreg"


def test_the_fallback_for_deep_trees_gives_the_same_values(fitted, data):
    from delinq.pipeline.explain.explainer import _XGBoostOwn

    _, ds = data
    explainer = fitted["xgboost"]
    Z = explainer.transform(ds.X.head(100))
    fallback = _XGBoostOwn(explainer.clf.get_booster())
    n = len(explainer.inputs)
    np.testing.assert_allclose(
        fallback.values(Z, explainer.column_of, n), explainer.contributions(Z), atol=1e-5
    )
    assert abs(fallback.base_value - explainer.base_value) < 1e-5


@pytest.mark.parametrize("family", ["random_forest", "xgboost"])
def test_a_tree_champion_on_data_with_gaps_gets_a_background(data, family):
    # Trees read missing values natively, so their model space keeps the gaps; registering
    # such a champion once failed in k-means.
    cfg, ds = data
    X = ds.X.copy()
    X.loc[X.index[::5], "AGE"] = np.nan
    model = build_pipeline(cfg, Columns(ds.numeric, ds.categorical), family).fit(X, ds.y)
    stats = background_stats(model, X, n_centroids=5, seed=1)
    assert np.isfinite(stats["centroids"]).all() and np.isfinite(stats["mean"]).all()
