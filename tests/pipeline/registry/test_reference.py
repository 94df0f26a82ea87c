"""Drift bins and level lists of the scoring reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from delinq.pipeline.registry.reference import (
    _level_hash,
    bin_counts_categorical,
    bin_counts_columns,
    bin_counts_numeric,
    build_reference,
    count_unseen,
)


def test_bins_by_hand():
    values = np.array([0.5, 1.0, 1.5, 2.0, np.nan, 3.0])
    # edges 1 and 2, side="right": a value on an edge goes to the bin above it
    assert bin_counts_numeric(values, [1.0, 2.0]).tolist() == [1, 2, 2, 1]
    assert bin_counts_columns(values[:, None], [[1.0, 2.0]])[0].tolist() == [1, 2, 2, 1]


@settings(max_examples=50, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(0, 60), st.integers(1, 4)),
        elements=st.floats(-5, 5) | st.just(np.nan),
    ),  # fmt: skip
    st.lists(st.lists(st.floats(-5, 5), max_size=9), min_size=4, max_size=4),
)
def test_all_columns_at_once_equal_one_at_a_time(X, edges):
    edges = [sorted(set(e)) for e in edges[: X.shape[1]]]
    got = bin_counts_columns(np.asfortranarray(X), edges)
    for j, e in enumerate(edges):
        np.testing.assert_array_equal(got[j], bin_counts_numeric(X[:, j], e))


def test_categorical_bins_from_text_or_category():
    values = pd.Series(["a", "b", None, "zz", "a"], dtype=object)
    expected = [2, 1, 0, 1, 1]  # a, b, c, other, missing
    assert bin_counts_categorical(values, ["a", "b", "c"]).tolist() == expected
    as_category = values.astype("category")
    assert bin_counts_categorical(as_category, ["a", "b", "c"]).tolist() == expected


def test_unseen_levels_are_counted_for_new_and_old_references():
    X = pd.DataFrame({"grade": ["A"] * 30 + ["B"] * 5, "x": np.arange(35.0)})
    reference = build_reference(X, ["x"], ["grade"], np.linspace(0, 1, 35), None, None)
    spec = reference.columns[0]
    assert (spec.levels, spec.seen, spec.known) == (["A"], ["A", "B"], None)
    book = pd.Series(["A", "B", "C", "C", None])
    assert count_unseen(book, spec) == 2
    # A reference written before the levels were kept held unsalted hashes; it still reads.
    old = spec.model_copy(update={"seen": None, "known": [_level_hash("A"), _level_hash("B")]})
    assert count_unseen(book, old) == 2
    assert count_unseen(book, spec.model_copy(update={"seen": None})) is None
