"""Limits and prices: every configured cap holds for every row."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from delinq.features.history import BUCKETS
from delinq.pipeline.config import CreditConfig
from delinq.pipeline.portfolio.credit import credit_decisions, portfolio_outcome, rate_card

CFG = CreditConfig(max_rate=0.18, max_limit=100_000, max_raise=8_000)
GRADES = list("ABCDEFG")


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.floats(0, 1),  # pd
            st.sampled_from(BUCKETS),
            st.floats(-1_000, 150_000),  # balance (negative: credit balance)
            st.one_of(st.just(0.0), st.floats(100, 150_000)),  # limit
        ),
        min_size=1,
        max_size=60,
    )
)
def test_every_cap_holds_for_every_row(rows):
    pd_, bucket, balance, limit = (np.array(c, dtype=object) for c in zip(*rows, strict=True))
    pd_, balance, limit = (np.asarray(a, dtype=float) for a in (pd_, balance, limit))
    grade = np.array(GRADES, dtype=object)[np.minimum((pd_ * 7).astype(int), 6)]
    d = credit_decisions(pd_, grade, bucket, balance, limit, CFG)
    drawn = np.maximum(balance, 0)
    new, action = d["new_limit"].to_numpy(), d["limit_action"].to_numpy()
    assert (d["rate"] <= CFG.max_rate + 1e-12).all()
    grow = action == "raise"
    assert (new[grow] <= CFG.max_limit + 0.01).all()
    assert (new[grow] - limit[grow] <= CFG.max_raise + 0.01).all()
    assert (new[grow] <= limit[grow] * CFG.raise_factor + 0.01).all()
    assert (new[grow] > limit[grow]).all() and (pd_[grow] <= CFG.raise_up_to_pd).all()
    lower = np.isin(action, ["cut", "freeze"])
    assert (new[lower] <= limit[lower] + 0.01).all()
    assert (new[lower] >= np.minimum(limit, drawn)[lower] - 0.01).all()  # never below balance
    assert (new[action == "hold"] == np.round(limit[action == "hold"], 2)).all()
    late = np.isin(bucket, BUCKETS[BUCKETS.index(CFG.freeze_from_bucket) :])
    assert (action[late | (pd_ >= CFG.freeze_from_pd)] == "freeze").all()
    # Each decision carries its inputs.
    ead = drawn + CFG.ccf * np.maximum(limit - drawn, 0)
    assert np.allclose(d["ead"], ead, atol=0.01)
    assert np.allclose(d["expected_loss"], pd_ * CFG.lgd * ead, atol=0.02)


def test_the_rate_card_adds_its_parts_and_names_the_cap():
    pd_ = np.array([0.01, 0.01, 0.5])
    card = rate_card(pd_, np.array(["A", "A", "G"], dtype=object), CFG).set_index("grade")
    expected_a = 0.01 * CFG.lgd + CFG.funding_rate + CFG.operating_cost_rate + CFG.margin
    assert card.loc["A", "rate"] == pytest.approx(expected_a) and card.loc["A", "bound_by"] == ""
    assert card.loc["G", "required_rate"] > CFG.max_rate
    assert card.loc["G", "rate"] == CFG.max_rate and card.loc["G", "bound_by"] == "max_rate"


def test_a_stricter_policy_lowers_exposure_and_expected_loss():
    rng = np.random.default_rng(0)
    n = 2_000
    pd_ = rng.beta(1, 15, n)
    limit = rng.uniform(5_000, 80_000, n)
    balance = limit * rng.uniform(0, 1, n)
    bucket = np.where(rng.random(n) < 0.1, "31-60", "current").astype(object)
    grade = np.array(GRADES, dtype=object)[np.minimum((pd_ * 20).astype(int), 6)]
    strict = CFG.model_copy(update={"cut_from_pd": 0.05, "cut_factor": 0.5})
    base = portfolio_outcome(
        credit_decisions(pd_, grade, bucket, balance, limit, CFG), balance, CFG
    )
    tight = portfolio_outcome(
        credit_decisions(pd_, grade, bucket, balance, limit, strict), balance, strict
    )
    assert tight["limit_cut"] > base["limit_cut"]
    assert tight["exposure_at_default"] < base["exposure_at_default"]
    assert tight["expected_loss"] < base["expected_loss"]


def test_the_pd_is_made_yearly_from_the_models_horizon():
    monthly = CFG.model_copy(update={"pd_horizon_months": 1})
    d = credit_decisions(
        np.array([0.01]),
        np.array(["A"], dtype=object),
        np.array(["current"], dtype=object),
        np.array([1_000.0]),
        np.array([1_000.0]),
        monthly,
    )
    year = 1 - 0.99**12
    assert d.loc[0, "pd_12m"] == pytest.approx(year, abs=1e-6)
    assert d.loc[0, "expected_loss"] == pytest.approx(year * CFG.lgd * 1_000, abs=0.01)
    card = rate_card(np.array([0.01]), np.array(["A"], dtype=object), monthly)
    assert card.loc[0, "expected_loss_rate"] == pytest.approx(year * CFG.lgd)
