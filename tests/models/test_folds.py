import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import StratifiedGroupKFold

from delinq.models.folds import GroupedStratifiedKFold
from delinq.models.search import duplicate_groups


def _tables():
    rng = np.random.default_rng(3)
    # Mostly single-row groups with a few big ones, a rare target, and many exact ties.
    sizes = np.concatenate([np.ones(900, int), rng.integers(2, 40, 60)])
    groups = np.repeat(np.arange(len(sizes)), sizes)
    bad_group = rng.random(len(sizes)) < 0.08
    y = (bad_group[groups] | (rng.random(len(groups)) < 0.03)).astype(int)
    yield "rare target, mixed group sizes", y, groups
    yield "every row its own group", (rng.random(700) < 0.3).astype(int), np.arange(700)
    yield "three classes", rng.integers(0, 3, 600), rng.integers(0, 150, 600)


@pytest.mark.parametrize("seed", [0, 42])
@pytest.mark.parametrize("shuffle", [True, False])
def test_the_folds_are_scikit_learns(seed, shuffle):
    for name, y, groups in _tables():
        state = seed if shuffle else None
        ours = GroupedStratifiedKFold(5, shuffle=shuffle, random_state=state).split(y, y, groups)
        theirs = StratifiedGroupKFold(5, shuffle=shuffle, random_state=state).split(y, y, groups)
        for (a_train, a_test), (b_train, b_test) in zip(ours, theirs, strict=True):
            assert np.array_equal(np.sort(a_test), np.sort(b_test)), name
            assert np.array_equal(np.sort(a_train), np.sort(b_train)), name


def test_a_group_never_straddles_folds_on_a_real_table(card_approval_path):
    table = pd.read_csv(card_approval_path)
    y = (table.pop("Risk") == 1).to_numpy().astype(int)
    groups = duplicate_groups(table.drop(columns="ID"))[0]
    folds = np.full(len(y), -1)
    for i, (_, test) in enumerate(
        GroupedStratifiedKFold(5, shuffle=True, random_state=1).split(table, y, groups)
    ):
        folds[test] = i
    assert (folds >= 0).all()
    assert pd.Series(folds).groupby(groups).nunique().max() == 1
    shares = pd.Series(y).groupby(folds).mean()
    assert shares.max() - shares.min() < 0.01  # stratified: the bad rate is even


def test_more_folds_than_groups_is_refused():
    y, groups = np.array([0, 1] * 10), np.repeat([0, 1, 2, 3], 5)
    with pytest.raises(ValueError, match="number of groups"):
        list(GroupedStratifiedKFold(5).split(y, y, groups))
