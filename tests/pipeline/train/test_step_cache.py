"""The step cache: families fitted on the same rows share each step they have in common."""

import pickle

import numpy as np
import pandas as pd
from sklearn.base import clone

from delinq.pipeline.book.io import validate
from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.train.estimator import Columns, build_pipeline
from delinq.pipeline.train.step_cache import StepCache, content_key
from tests.conftest import quick_config


def test_a_frame_read_back_has_the_key_it_was_written_with():
    frame = pd.DataFrame({"a": np.arange(5.0), "b": list("vwxyz")}, index=[3, 1, 4, 1, 5])
    frame["c"] = frame["a"] * 2  # a block of its own, laid out unlike a pickled one
    assert content_key(pickle.loads(pickle.dumps(frame))) == content_key(frame)
    changed = frame.copy()
    changed.loc[5, "c"] = -1.0
    assert content_key(changed) != content_key(frame)
    assert content_key(frame.rename(columns={"c": "d"})) != content_key(frame)
    assert content_key(frame.set_axis(range(5))) != content_key(frame)
    assert content_key(frame["a"].to_numpy()) == content_key(frame["a"].to_numpy().copy())
    assert content_key(frame["a"].to_numpy()) != content_key(frame["c"].to_numpy())


def test_families_fit_each_shared_step_once_per_fold(tmp_path):
    cfg = quick_config(tmp_path)
    ds = validate(simulate_book(1_500, seed=2), cfg.data, "book")
    columns = Columns(ds.numeric, ds.categorical)
    cache = StepCache(tmp_path / "cache", verbose=0)
    steps = tmp_path / "cache"
    rows = np.random.default_rng(0).permutation(len(ds.y))[:1_000]  # a training fold
    X, y = ds.X.iloc[rows], ds.y.iloc[rows]
    fitted = {}
    for family in ("logreg", "svm", "random_forest", "xgboost"):
        pipe = build_pipeline(cfg, columns, family, memory=cache)
        fitted[family] = clone(pipe).fit(X, y)
    # features once; then for each kind (linear, trees) its preprocessing and selection
    assert len(list(steps.rglob("metadata.json"))) == 5
    trees = [
        fitted[f].named_steps["select"].get_feature_names_out()
        for f in ("random_forest", "xgboost")
    ]
    assert list(trees[0]) == list(trees[1])
    # and the cached steps are the ones a pipeline without the cache fits
    plain = build_pipeline(cfg, columns, "svm").fit(X, y)
    np.testing.assert_array_equal(plain.predict_proba(ds.X), fitted["svm"].predict_proba(ds.X))
