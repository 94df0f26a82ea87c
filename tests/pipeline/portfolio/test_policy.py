"""Collection segments, policy validation, and the collection plan."""

import numpy as np
import pandas as pd
import pytest

from delinq.features.history import BUCKETS
from delinq.pipeline.config import ConfigError, HistoryConfig, SegmentConfig, load_config
from delinq.pipeline.portfolio.policy import (
    SEGMENTS,
    collection_plan,
    load_policy,
    segment_accounts,
)
from tests.conftest import REPO

CFG = load_config(REPO / "configs" / "train.yaml")
GRADES = list(CFG.scorecard.bands)


def _write(tmp_path, text):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_shipped_policy_covers_every_combination():
    policy = load_policy(REPO / "configs" / "collection_policy.yaml", GRADES)
    assert len(policy.table) == len(SEGMENTS) * len(GRADES) * 5
    assert policy.table["action"].notna().all()


def test_first_match_wins():
    policy = load_policy(REPO / "configs" / "collection_policy.yaml", GRADES)
    decided = policy.decide(
        ["wilful", "chronic", "performing"], ["G", "G", "A"], ["90+", "90+", "current"]
    )
    assert decided["action"].tolist() == ["legal", "outsourced_collection", "none"]


def test_coded_labels_decide_as_their_text_does():
    policy = load_policy(REPO / "configs" / "collection_policy.yaml", GRADES)
    rng = np.random.default_rng(3)
    segment, grade = rng.integers(0, len(SEGMENTS), 500), rng.integers(0, len(GRADES), 500)
    bucket = rng.integers(0, len(BUCKETS), 500)
    coded = policy.decide_coded((segment, SEGMENTS), (grade, GRADES), (bucket, BUCKETS))
    text = policy.decide(
        np.array(SEGMENTS)[segment], np.array(GRADES)[grade], np.array(BUCKETS)[bucket]
    )
    pd.testing.assert_frame_equal(coded, text)
    assert len(set(coded["action"])) > 3  # the draw reaches several rules
    with pytest.raises(ValueError, match="no policy row for 'Z'"):
        policy.decide(["wilful"], ["Z"], ["90+"])
    with pytest.raises(ValueError, match="no policy row for nan"):
        policy.decide(["wilful"], [None], ["90+"])


def test_unknown_names_fail_clearly(tmp_path):
    with pytest.raises(ConfigError, match="rule 1: unknown segment 'lazy'"):
        load_policy(
            _write(tmp_path, "rules:\n  - {segment: lazy, action: call, priority: 1}\n"), GRADES
        )
    with pytest.raises(ConfigError, match="rule 1: unknown action 'shout'"):
        load_policy(_write(tmp_path, "rules:\n  - {action: shout, priority: 1}\n"), GRADES)
    with pytest.raises(ConfigError, match="unknown grade 'Z'"):
        load_policy(_write(tmp_path, "rules:\n  - {grade: Z, action: call, priority: 1}\n"), GRADES)
    with pytest.raises(ConfigError, match="invalid collection policy"):
        load_policy(
            _write(tmp_path, "rules:\n  - {action: call, priority: 1, colour: red}\n"), GRADES
        )


def test_gaps_and_shadowed_rules_fail(tmp_path):
    gap = "rules:\n  - {bucket: current, action: none, priority: 9}\n"
    with pytest.raises(ConfigError, match="no rule covers segment=wilful, grade=A, bucket=1-30"):
        load_policy(_write(tmp_path, gap), GRADES)
    shadow = (
        "rules:\n  - {action: call, priority: 3}\n  - {bucket: '90+', action: legal, priority: 1}\n"
    )
    with pytest.raises(ConfigError, match=r"rule\(s\) 2 never apply"):
        load_policy(_write(tmp_path, shadow), GRADES)


HISTORY = HistoryConfig(
    status=["S0", "S1", "S2", "S3"],
    balance=["B0", "B1", "B2", "B3"],
    payment=["P0", "P1", "P2", "P3"],
    limit="L",
)


def _accounts():
    rows = {
        # status newest first, balance, payments, limit
        "wilful": ([3, 2, 1, 0], [5e3] * 4, [0, 0, 100, 100], 1e5),
        "chronic": ([2, 0, 1, 1], [9e4] * 4, [50, 0, 10, 10], 1e5),
        "hardship": ([1, 0, 0, 0], [2e4] * 4, [0, 500, 500, 500], 1e5),
        "new_customer": ([0, -2, -2, -2], [1e3, 0, 0, 0], [0, 0, 0, 0], 5e4),
        "large_exposure": ([0, 0, 0, 0], [1e5] * 4, [5e3] * 4, 8e5),
        "performing": ([-1, 0, 0, -1], [3e3] * 4, [3e3] * 4, 1e5),
    }
    data = {}
    for name, (s, b, p, lim) in rows.items():
        row = {f"S{i}": s[i] for i in range(4)} | {f"B{i}": b[i] for i in range(4)}
        row |= {f"P{i}": p[i] for i in range(4)} | {"L": lim}
        data[name] = row
    return pd.DataFrame.from_dict(data, orient="index")


def test_each_segment_by_hand():
    frame = _accounts()
    pd_ = np.array([0.9, 0.7, 0.4, 0.1, 0.05, 0.05])
    segments = segment_accounts(frame, HISTORY, SegmentConfig(), pd_)
    assert segments.tolist() == list(frame.index)
    # without a PD the wilful case is judged on behaviour alone; with a low PD it is chronic
    low = segment_accounts(frame, HISTORY, SegmentConfig(), np.full(6, 0.1))
    assert low["wilful"] == "chronic"


def test_collection_plan_columns_and_actions():
    frame = _accounts()
    cfg = CFG.model_copy(update={"data": CFG.data.model_copy(update={"history": HISTORY})})
    policy = load_policy(REPO / "configs" / "collection_policy.yaml", GRADES)
    plan = collection_plan(frame, np.array([0.9, 0.7, 0.4, 0.1, 0.05, 0.05]), cfg, policy)
    assert list(plan.columns) == [
        "pd",
        "points",
        "grade",
        "dpd_bucket",
        "segment",
        "action",
        "priority",
        "human_review_required",
    ]
    # three months late is the 61-90 bucket
    assert plan.loc["wilful", ["dpd_bucket", "action", "priority"]].tolist() == [
        "61-90",
        "field_visit",
        1,
    ]
    assert plan.loc["chronic", "action"] == "restructuring_offer"
    assert plan.loc["hardship", "action"] == "call"  # 1-30 but grade G: risk first
    assert plan.loc["performing", "action"] == "none"
    assert (
        plan["points"].is_monotonic_decreasing or plan["points"].iloc[0] < plan["points"].iloc[-1]
    )


def test_legal_and_outsourced_actions_need_a_person_unless_the_policy_says_otherwise(tmp_path):
    policy = load_policy(REPO / "configs" / "collection_policy.yaml", GRADES)
    assert policy.reviewed_actions == ["legal", "outsourced_collection"]
    decided = policy.decide(
        ["wilful", "performing", "wilful"], ["G", "G", "G"], ["90+", "90+", "61-90"]
    )
    assert decided["action"].tolist() == ["legal", "outsourced_collection", "field_visit"]
    assert decided["human_review_required"].tolist() == [True, True, False]
    text = (REPO / "configs" / "collection_policy.yaml").read_text()
    edited = tmp_path / "p.yaml"
    edited.write_text(text + "review: {legal: not_required, field_visit: required}\n")
    assert load_policy(edited, GRADES).reviewed_actions == ["field_visit", "outsourced_collection"]
    edited.write_text(text + "review: {lawsuit: required}\n")
    with pytest.raises(ConfigError, match="review: unknown action 'lawsuit'"):
        load_policy(edited, GRADES)
