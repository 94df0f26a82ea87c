"""The lookup-table TreeSHAP against XGBoost's and shap's own TreeSHAP."""

from __future__ import annotations

import numpy as np
import pytest
import shap
import xgboost as xgb

from delinq.models.treeshap import TreeShap, UnsupportedModel


def _data(n: int = 600, p: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p)).astype(np.float32)
    X[:, 3] = np.round(X[:, 3])  # ties at split points
    y = (X[:, 0] + X[:, 1] * X[:, 2] + 0.5 * rng.normal(size=n) > 0).astype(int)
    X[rng.random(X.shape) < 0.05] = np.nan  # default directions
    return X, y


def _booster(depth: int, trees: int = 30, **params):
    X, y = _data()
    model = xgb.XGBClassifier(
        n_estimators=trees, max_depth=depth, learning_rate=0.3, n_jobs=1, **params
    )
    return model.fit(X, y).get_booster(), X


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 6])
def test_matches_xgboost_and_shap_and_adds_up_to_the_margin(depth):
    booster, X = _booster(depth)
    ours = TreeShap(booster)
    values = ours.shap_values(X)
    contribs = booster.predict(xgb.DMatrix(X), pred_contribs=True)
    np.testing.assert_allclose(values, contribs[:, :-1], atol=1e-5)
    np.testing.assert_allclose(ours.expected_value, contribs[0, -1], atol=1e-5)
    reference = shap.TreeExplainer(booster).shap_values(X)
    np.testing.assert_allclose(values, reference, atol=1e-5)
    margin = booster.predict(xgb.DMatrix(X), output_margin=True)
    np.testing.assert_allclose(values.sum(axis=1) + ours.expected_value, margin, atol=1e-5)


def test_unbalanced_trees_with_repeated_features():
    # Depth-wise growth stops early on some branches; a single strong feature repeats.
    booster, X = _booster(5, trees=20, min_child_weight=30, colsample_bytree=0.4)
    values = TreeShap(booster).shap_values(X)
    contribs = booster.predict(xgb.DMatrix(X), pred_contribs=True)
    np.testing.assert_allclose(values, contribs[:, :-1], atol=1e-5)


def test_columns_sum_the_features_they_share():
    booster, X = _booster(3)
    ts = TreeShap(booster)
    full = ts.shap_values(X)
    columns = np.array([0, 0, 1, 2, 2, 2])
    grouped = ts.shap_values(X, columns)
    np.testing.assert_allclose(grouped[:, 0], full[:, :2].sum(axis=1), atol=1e-9)
    np.testing.assert_allclose(grouped[:, 2], full[:, 3:].sum(axis=1), atol=1e-9)


def test_refuses_what_it_cannot_tabulate_and_checks_shapes():
    booster, X = _booster(6)
    with pytest.raises(UnsupportedModel, match="lookup tables"):
        TreeShap(booster, max_table_mb=0.01)
    with pytest.raises(ValueError, match=r"\(rows, 6\)"):
        TreeShap(booster).shap_values(X[:, :4])
