"""Early stopping and the depth choice of the XGBoost family, on generated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from delinq.models.boosting import EarlyStoppingXGBClassifier, fold_consensus


def _table(kind: str, n: int = 3000, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"x{i}" for i in range(6)])
    if kind == "additive":
        logit = X["x0"] + 0.8 * X["x1"] - 0.6 * X["x2"]
    else:  # a three-way parity: invisible to depth-3 trees one split at a time, plain to depth 6
        logit = 3.0 * np.sign(X["x0"]) * np.sign(X["x1"]) * np.sign(X["x2"])
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def _model(**kwargs) -> EarlyStoppingXGBClassifier:
    params = dict(n_estimators=400, learning_rate=0.1, max_depth=3, n_jobs=1, random_state=0)
    return EarlyStoppingXGBClassifier(**{**params, **kwargs})


def test_the_validation_split_picks_deep_trees_only_where_the_table_wants_them():
    X, y = _table("additive")
    shallow = _model(depth_candidates=(2, 6)).fit(X, y)
    X, y = _table("interaction")
    deep = _model(depth_candidates=(2, 6)).fit(X, y)

    assert shallow.best_depth_ == 2
    assert deep.best_depth_ == 6
    assert _deepest_split(deep) > 2 >= _deepest_split(shallow)


def _deepest_split(model) -> int:
    """How many splits deep the booster's trees go (a dump indents each level by a tab)."""
    lines = "".join(model.get_booster().get_dump()).splitlines()
    return max(len(line) - len(line.lstrip("\t")) for line in lines if "<" in line) + 1


def test_the_tree_count_is_chosen_below_the_cap_and_the_given_parameters_survive():
    X, y = _table("additive")
    model = _model(n_estimators=2000, learning_rate=0.3, depth_candidates=(2, 4)).fit(X, y)

    assert model.best_n_estimators_ < 2000
    assert model.get_booster().num_boosted_rounds() == model.best_n_estimators_
    # clone() must see what was given, not what fit chose, or CV would compound the choice.
    params = clone(model).get_params()
    assert (params["n_estimators"], params["max_depth"]) == (2000, 3)
    assert params["depth_candidates"] == (2, 4)
    assert "depth_candidates" not in model.get_xgb_params()


def test_without_a_validation_share_it_is_a_plain_xgboost():
    X, y = _table("additive", n=500)
    model = _model(validation_fraction=0, n_estimators=30, depth_candidates=(2, 6)).fit(X, y)

    assert (model.best_n_estimators_, model.best_depth_) == (30, 3)
    assert model.get_booster().num_boosted_rounds() == 30


@pytest.mark.parametrize("seed", [0, 1])
def test_the_same_seed_gives_the_same_model(seed):
    X, y = _table("interaction", n=1500)
    a = _model(random_state=seed, depth_candidates=(3, 6)).fit(X, y).predict_proba(X)
    b = _model(random_state=seed, depth_candidates=(3, 6)).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def sign_violations(model, X: pd.DataFrame, column: str, sign: int, grid: int = 50) -> int:
    """Rows whose predicted log-odds move against ``sign`` anywhere along a sweep of
    ``column`` over ``grid`` points of its range (individual conditional expectations: every
    row, not only their average)."""
    points = np.linspace(X[column].min(), X[column].max(), grid)
    margins = []
    for value in points:
        swept = X.copy()
        swept[column] = value
        margins.append(model.predict(swept, output_margin=True))
    steps = np.diff(np.column_stack(margins), axis=1) * sign
    return int((steps < -1e-9).any(axis=1).sum())


def test_monotone_constraints_hold_for_every_row_along_a_sweep():
    rng = np.random.default_rng(3)
    n = 4_000
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["late", "limit", "a", "b"])
    # The truth bends: risk rises with lateness only up to a point, then falls a little.
    logit = 1.5 * X["late"] - 0.8 * np.clip(X["late"], 1, None) ** 2 - 0.7 * X["limit"]
    logit += X["a"] * X["b"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    rows = X.sample(1_000, random_state=0)
    free = _model(n_estimators=300).fit(X, y)
    assert sign_violations(free, rows, "late", +1) > 0  # the sweep can fail
    tied = _model(n_estimators=300, monotone={"late": 1, "limit": -1}).fit(X, y)
    assert sign_violations(tied, rows, "late", +1) == 0
    assert sign_violations(tied, rows, "limit", -1) == 0
    # The constraint follows the columns by name, whatever their order.
    reordered = clone(tied).fit(X[["b", "limit", "a", "late"]], y)
    assert sign_violations(reordered, rows[["b", "limit", "a", "late"]], "late", +1) == 0


def test_the_folds_consensus_takes_the_usual_depth_and_the_median_of_its_trees():
    # (trees, depth, training rows) of five folds: depth 6 won three times.
    grown = [(200, 6, 800), (260, 6, 800), (300, 3, 800), (240, 6, 800), (500, 3, 800)]
    params = fold_consensus(grown, rows=1000, cap=1000)

    assert params["max_depth"] == 6
    assert params["n_estimators"] == 300  # the median 240, for 1,000 rows instead of 800
    assert params["validation_fraction"] == 0.0 and params["depth_candidates"] is None
    # A tie goes to the shallower depth, and the cap holds.
    tie = fold_consensus([(900, 6, 500), (900, 3, 500)], rows=1000, cap=1000)
    assert (tie["max_depth"], tie["n_estimators"]) == (3, 1000)
