"""The lean scoring path gives the model's own probabilities, for every family and config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from delinq.models.calibration import OOFCalibratedClassifier
from delinq.pipeline.book.io import load_training_data
from delinq.pipeline.score.lean_model import LeanModel, _distinct
from delinq.pipeline.train.estimator import Columns, build_pipeline
from tests.conftest import quick_config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    cfg = quick_config(tmp_path_factory.mktemp("lean"))
    return cfg, load_training_data(cfg)


def _rows(ds, n=400, seed=3) -> pd.DataFrame:
    """Scoring rows with what a nightly book brings: gaps, unseen levels, outliers."""
    X = ds.X.sample(n, random_state=seed).reset_index(drop=True)
    X.loc[:30, "AGE"] = np.nan
    X.loc[31:40, "EDUCATION"] = np.nan
    X.loc[41:50, "EDUCATION"] = "never-seen"
    X.loc[51:60, "BILL_AMT1"] = 1e9
    X.loc[61:70, "PAY_0"] = np.nan
    return X


def _lean_proba(lean: LeanModel, X: pd.DataFrame) -> np.ndarray:
    numeric = X[lean.numeric].to_numpy(dtype=float)
    cats = X[lean.categorical].astype("category")
    return lean.predict(lean.transform(numeric, cats, lean.derive(numeric)))


@pytest.mark.parametrize("family", ["xgboost", "logreg", "random_forest", "svm"])
@pytest.mark.parametrize("selection", [True, False], ids=["selected", "all-columns"])
def test_lean_probabilities_equal_the_model(data, family, selection):
    cfg, ds = data
    if not selection:
        sel = cfg.selection.model_copy(update={"chi2": False, "pearson": False})
        cfg = cfg.model_copy(
            update={"selection": sel.model_copy(update={"tree_importance": False})}
        )
    pipe = build_pipeline(cfg, Columns(ds.numeric, ds.categorical), family)
    model = OOFCalibratedClassifier(pipe, cv=3).fit(ds.X, ds.y)
    lean = LeanModel.compile(model, ds.numeric, ds.categorical)
    assert lean is not None
    X = _rows(ds)
    expected = model.predict_proba(X)[:, 1]
    # Same arithmetic; a linear model's dot product may round in another order (1e-16).
    np.testing.assert_allclose(_lean_proba(lean, X), expected, rtol=0, atol=1e-12)
    assert lean.agrees(X, expected)


def test_uncalibrated_pipeline_and_unknown_steps(data):
    cfg, ds = data
    pipe = build_pipeline(cfg, Columns(ds.numeric, ds.categorical), "logreg").fit(ds.X, ds.y)
    lean = LeanModel.compile(pipe, ds.numeric, ds.categorical)
    X = _rows(ds)
    np.testing.assert_allclose(_lean_proba(lean, X), pipe.predict_proba(X)[:, 1], atol=1e-12)
    # A step the lean path does not know: no lean form, the scorer uses the model itself.
    from sklearn.preprocessing import QuantileTransformer

    pipe.steps.insert(-1, ("extra", QuantileTransformer(n_quantiles=10).fit(np.zeros((20, 1)))))
    assert LeanModel.compile(pipe, ds.numeric, ds.categorical) is None


def test_disagreement_is_detected(data):
    cfg, ds = data
    pipe = build_pipeline(cfg, Columns(ds.numeric, ds.categorical), "logreg").fit(ds.X, ds.y)
    lean = LeanModel.compile(pipe, ds.numeric, ds.categorical)
    X = _rows(ds)
    assert not lean.agrees(X, _lean_proba(lean, X) + 1e-6)


@pytest.mark.parametrize("rows, combos", [(1_000, 7), (65_536, 300), (10, 1_000), (5, 3)])
def test_distinct_combinations_equal_numpy_unique(rows, combos):
    combo = np.random.default_rng(rows).integers(0, combos, rows)
    distinct, inverse = _distinct(combo, combos)
    expected, expected_inverse = np.unique(combo, return_inverse=True)
    np.testing.assert_array_equal(distinct, expected)
    np.testing.assert_array_equal(inverse, expected_inverse)
