"""The forest family's classifier: scikit-learn's forest on float32 arrays, whatever it is given."""

import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

from delinq.models.forest import ArrayForest


def test_the_same_trees_as_scikit_learns_forest_from_a_frame_or_an_array():
    X, y = make_classification(600, 8, random_state=0)
    frame = pd.DataFrame(X, columns=[f"x < {i}" for i in range(8)])  # names XGBoost refuses
    params = {"n_estimators": 20, "max_samples": 0.5, "min_samples_leaf": 5, "random_state": 1}
    plain = RandomForestClassifier(**params).fit(X, y).predict_proba(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "feature names" warning either way round
        ours = ArrayForest(**params).fit(frame, y)
        np.testing.assert_array_equal(ours.predict_proba(X), plain)
        np.testing.assert_array_equal(ours.predict_proba(frame), plain)
        np.testing.assert_array_equal(ours.predict(frame), plain.argmax(axis=1))
        assert ours.apply(frame).shape == (600, 20)
    assert not hasattr(ours, "feature_names_in_")
