"""The nested search's inner folds: how many rows they rank on, and repeated rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from delinq.models.search import SubsampledStratifiedKFold, duplicate_groups


def _rows_used(y: np.ndarray, **kwargs) -> set[int]:
    X = pd.DataFrame({"x": np.arange(len(y))})
    folds = SubsampledStratifiedKFold(3, random_state=0, **kwargs).split(X, y)
    return {int(i) for _, test in folds for i in test}


def test_a_common_target_ranks_on_max_rows_and_a_rare_one_on_enough_positives():
    rng = np.random.default_rng(0)
    common = (rng.random(30_000) < 0.2).astype(int)
    rare = (rng.random(30_000) < 0.017).astype(int)
    assert len(_rows_used(common, max_rows=8_000)) == 8_000
    used = _rows_used(rare, max_rows=8_000, min_positives=400)
    assert int(rare[list(used)].sum()) >= 399  # stratified: the positives come in proportion
    assert 8_000 < len(used) < 30_000


def test_identical_rows_share_a_fold():
    X = pd.DataFrame({"a": np.repeat(np.arange(300), 3), "b": 1.0})
    y = np.tile([0, 0, 1], 300)
    groups, repeated = duplicate_groups(X)
    assert repeated == 900 and len(set(groups)) == 300
    for _, test in SubsampledStratifiedKFold(3).split(X, y):
        others = np.setdiff1d(np.arange(900), test)
        assert not set(X["a"].iloc[test]) & set(X["a"].iloc[others])
