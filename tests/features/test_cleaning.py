"""Outlier capping learns its bounds in fit and applies them to new data."""

import numpy as np
import pytest

from delinq.features.cleaning import OutlierCapper


def test_quantile_bounds_learned_on_training_data_only():
    train = np.arange(1, 101, dtype=float).reshape(-1, 1)
    capper = OutlierCapper(lower=0.1, upper=0.9).fit(train)
    assert capper.lower_bound_[0] == pytest.approx(np.quantile(train, 0.1))
    assert capper.upper_bound_[0] == pytest.approx(np.quantile(train, 0.9))
    new = np.array([[-1e9], [50.0], [1e9]])
    assert capper.transform(new).ravel().tolist() == pytest.approx([10.9, 50.0, 90.1])


def test_iqr_bounds_and_missing_values_pass_through():
    train = np.array([[1.0], [2.0], [3.0], [4.0], [np.nan], [1000.0]])
    capper = OutlierCapper(method="iqr", iqr_k=1.5).fit(train)
    q1, q3 = np.nanquantile(train, [0.25, 0.75])
    assert capper.upper_bound_[0] == pytest.approx(q3 + 1.5 * (q3 - q1))
    out = capper.transform(train)
    assert np.isnan(out[4, 0])
    assert out[5, 0] == pytest.approx(q3 + 1.5 * (q3 - q1))


def test_all_missing_column_is_left_alone():
    X = np.array([[np.nan, 1.0], [np.nan, 2.0]])
    out = OutlierCapper().fit(X).transform(X)
    assert np.isnan(out[:, 0]).all()


def test_bad_method_is_refused():
    with pytest.raises(ValueError, match="method must be"):
        OutlierCapper(method="zscore").fit(np.zeros((3, 1)))
