"""Collection assignment: optimal, within capacity, with stable challenger cells."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from delinq.pipeline.config import ChannelConfig, CollectionConfig
from delinq.pipeline.portfolio.assignment import (
    assign_actions,
    ladder_recovery,
    recovery_values,
)

SMALL = CollectionConfig(
    channels={
        "sms_reminder": ChannelConfig(cost=1, capacity=None, cure={"1-30": 0.3, "31-60": 0.1}),
        "call": ChannelConfig(cost=5, capacity=2, cure={"1-30": 0.5, "31-60": 0.3, "90+": 0.1}),
        "legal": ChannelConfig(cost=50, capacity=1, cure={"90+": 0.4}),
    },
    self_cure={"1-30": 0.2, "31-60": 0.05, "90+": 0.01},
    challenger_share=0.0,
)


def _brute_force(bucket, balance, cfg):
    actions, _, values = recovery_values(bucket, balance, cfg)
    caps = [np.inf] + [c.capacity if c.capacity is not None else np.inf
                       for c in cfg.channels.values()]  # fmt: skip
    best = -np.inf
    for choice in itertools.product(range(len(actions)), repeat=len(bucket)):
        v = values[np.arange(len(bucket)), choice]
        counts = np.bincount(choice, minlength=len(actions))
        if np.isnan(v).any() or (counts > caps).any():
            continue
        best = max(best, v.sum())
    return best


@settings(max_examples=25, deadline=None)
@given(
    accounts=st.lists(
        st.tuples(st.sampled_from(["1-30", "31-60", "90+"]), st.floats(0, 2_000)),
        min_size=1,
        max_size=6,
    )
)
def test_the_assignment_is_optimal_and_within_capacity(accounts):
    bucket = np.array([b for b, _ in accounts], dtype=object)
    balance = np.array([v for _, v in accounts])
    ids = np.array([f"A{i}" for i in range(len(accounts))])
    got = assign_actions(ids, bucket, balance, SMALL)
    counts = got["collection_action"].value_counts()
    assert counts.get("call", 0) <= 2 and counts.get("legal", 0) <= 1
    assert got["expected_recovery"].sum() == pytest.approx(
        _brute_force(bucket, balance, SMALL), abs=0.05
    )


def _book(n, seed=0):
    rng = np.random.default_rng(seed)
    bucket = rng.choice(
        ["current", "1-30", "31-60", "61-90", "90+"], n, p=[0.8, 0.1, 0.04, 0.03, 0.03]
    )  # noqa: E501
    balance = rng.lognormal(9, 1, n)
    return np.array([f"L{i}" for i in range(n)]), bucket.astype(object), balance


def test_a_large_night_respects_every_capacity_and_beats_the_ladder():
    ids, bucket, balance = _book(40_000)
    cfg = CollectionConfig()
    got = assign_actions(ids, bucket, balance, cfg)
    counts = got["collection_action"].value_counts()
    for name, channel in cfg.channels.items():
        if channel.capacity is not None:
            assert counts.get(name, 0) <= channel.capacity
    assert (got.loc[bucket == "current", "collection_action"] == "none").all()
    # The fixed ladder: calls up to 60 days, visits at 61-90, legal at 90+, all by priority.
    ladder = np.select([bucket == "1-30", bucket == "31-60", bucket == "61-90", bucket == "90+"],
                       ["call", "call", "field_visit", "legal"], "none").astype(object)  # fmt: skip
    fixed = ladder_recovery(bucket, balance, ladder, np.ones(len(ids)), balance, cfg)
    optimised = got["cell"] == "optimised"
    assert got.loc[optimised, "expected_recovery"].sum() > fixed[optimised.to_numpy()].sum()


def test_challenger_cells_are_stable_and_sized_as_configured():
    ids, bucket, balance = _book(20_000, seed=1)
    cfg = CollectionConfig(challenger_share=0.1)
    first = assign_actions(ids, bucket, balance, cfg)
    # Another night: other balances, the accounts in another order; cells follow the account.
    order = np.random.default_rng(2).permutation(len(ids))
    again = assign_actions(ids[order], bucket[order], balance[order] * 1.1, cfg)
    assert (again["cell"].to_numpy() == first["cell"].to_numpy()[order]).all()
    late = first["cell"] != ""
    shares = first.loc[late, "cell"].value_counts(normalize=True)
    assert shares["holdout"] == pytest.approx(0.05, abs=0.012)
    assert shares["varied"] == pytest.approx(0.05, abs=0.012)
    assert (first.loc[first["cell"] == "holdout", "collection_action"] == "none").all()
    assert (first.loc[first["cell"] == "varied", "collection_action"] != "none").mean() > 0.9
    other_seed = assign_actions(ids, bucket, balance, cfg.model_copy(update={"seed": 8}))
    assert (other_seed["cell"] != first["cell"]).any()


def test_the_action_fits_the_delinquent_type():
    n = 3_000
    ids = np.array([f"T{i}" for i in range(n)])
    bucket = np.full(n, "61-90", dtype=object)
    balance = np.full(n, 20_000.0)
    kinds = np.array(["temporary", "structural", "stubborn"] * (n // 3), dtype=object)
    cfg = CollectionConfig(challenger_share=0.0)
    got = assign_actions(ids, bucket, balance, cfg, kinds)["collection_action"]
    share = {k: got[kinds == k].value_counts(normalize=True) for k in set(kinds)}
    escalate = ["field_visit", "legal", "outsourced_collection"]
    assert share["stubborn"].reindex(escalate).fillna(0).sum() > 0.5
    assert (
        share["structural"].reindex(["restructuring_offer", "repayment_plan"]).fillna(0).sum() > 0.5
    )  # noqa: E501
    assert share["temporary"].reindex(escalate).fillna(0).sum() < 0.2
    # A hard limit of the policy holds whatever the values say.
    only = cfg.model_copy(update={"actions_by_type": {"stubborn": ["call"]}})
    limited = assign_actions(ids, bucket, balance, only, kinds)["collection_action"]
    assert set(limited[kinds == "stubborn"]) <= {"call", "none"}


def test_type_names_outside_the_channels_are_refused():
    with pytest.raises(ValueError, match="actions_by_type.stubborn: 'drone' is not a channel"):
        CollectionConfig(actions_by_type={"stubborn": ["drone"]})
