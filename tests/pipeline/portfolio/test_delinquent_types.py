"""Delinquent-customer types: the rules on hand-made histories, and their order on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from delinq.pipeline.config import DelinquentTypesConfig, load_config
from delinq.pipeline.portfolio.delinquent_types import delinquent_types, type_outcomes
from tests.conftest import REPO

CFG = load_config(REPO / "configs" / "train.yaml")
STATUS = ["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]
BILL = [f"BILL_AMT{i}" for i in range(1, 7)]
PAID = [f"PAY_AMT{i}" for i in range(1, 7)]


def _account(status, bill, paid, limit=50_000):
    row = dict(zip(STATUS, status, strict=True)) | dict(zip(BILL, bill, strict=True))
    return row | dict(zip(PAID, paid, strict=True)) | {"LIMIT_BAL": limit}


ROWS = {
    "current": _account([0] * 6, [5_000] * 6, [5_000] * 6),
    "slip": _account([1, 0, 0, 0, 0, 0], [5_000] * 6, [0, 5_000, 5_000, 5_000, 5_000, 5_000]),
    "silent": _account([3, 2, 1, 0, 0, 0], [9_000] * 6, [0, 0, 0, 3_000, 3_000, 3_000]),
    "repeated": _account([1, 1, 0, 1, 0, 0], [12_000] * 6, [1_000] * 6),
    "short": _account([1, 0, 0, 0, 0, 0], [10_000] * 6, [2_000] * 6),
}


def test_rules_on_hand_made_histories():
    frame = pd.DataFrame(list(ROWS.values()), index=list(ROWS))
    for column in frame:  # the other model columns are not read
        frame[column] = frame[column].astype(float)
    got = delinquent_types(frame, CFG.data.history, DelinquentTypesConfig())
    assert got["delinquent_type"].to_dict() == {
        "current": "",
        "slip": "temporary",
        "silent": "stubborn",
        "repeated": "structural",
        "short": "structural",
    }
    assert got.loc["silent", "human_review_required"] and got.loc["silent", "months_unpaid"] == 3
    assert got.loc["repeated", "type_rule"] == "late in many months"
    assert got.loc["short", "type_rule"] == "pays part of what is due"
    assert got.loc["repeated", "cured_before"]
    assert (
        got.loc["slip", "treatment"] == "grace_and_reminder" and got.loc["slip", "grace_days"] == 7
    )
    # Restructuring sized to what the account has paid: 12,000 owed at 1,000 a month.
    assert got.loc["repeated", ["offer", "offer_term_months", "offer_instalment"]].tolist() == [
        "term_extension", 12, 1_000.0,
    ]  # fmt: skip
    assert got.loc["short", ["offer", "offer_term_months"]].tolist() == ["instalments", 5]


def test_income_sizes_the_offer_and_can_make_a_plan_unaffordable():
    frame = pd.DataFrame([ROWS["slip"], ROWS["slip"]], dtype=float)
    frame["BILL_AMT1"] = [60_000.0, 3_000.0]
    frame["income"] = [2_000.0, 2_000.0]
    cfg = DelinquentTypesConfig(income="income", affordable_share=0.25, max_term_months=24)
    got = delinquent_types(frame, CFG.data.history, cfg)
    # 60,000 over 24 months is 2,500 a month, more than a quarter of 2,000: structural, with a
    # rate cut on top of the longest term.
    assert got.loc[0, ["delinquent_type", "type_rule"]].tolist() == [
        "structural", "cannot afford the longest plan",
    ]  # fmt: skip
    assert got.loc[0, ["offer", "offer_term_months"]].tolist() == [
        "term_extension_and_rate_cut",
        24,
    ]
    assert got.loc[1, "delinquent_type"] == "temporary"


def test_on_the_real_taiwan_book_the_types_order_the_bad_rate(taiwan_path):
    cfg = load_config(REPO / "configs" / "taiwan.yaml")
    frame = pd.read_csv(taiwan_path)
    types = delinquent_types(frame, cfg.data.history, cfg.delinquent_types)
    table = type_outcomes(types, frame[cfg.data.target])
    rates = table["bad_rate"]
    assert rates["temporary"] < rates["structural"] < rates["stubborn"]
    assert np.isclose(table["share_of_late"].sum(), 1.0)
