"""Delinquent-customer types and their treatments: temporary, structural and stubborn.

Every late account gets one type, by documented rules over its payment history (first match),
with the evidence beside it:

- **stubborn** (顽固性, won't pay): at least ``stubborn_from_bucket`` late and getting worse,
  with no payment in the last ``stubborn_unpaid_months`` months; or, where contact data
  exist, ``stubborn_broken_promises`` promises to pay not kept.
  Treatment: escalation (a field visit, legal action at 90+), reviewed by a person first.
- **structural** (固有性, can't pay as agreed): late in ``structural_late_months`` months or
  more, or paying but less than ``structural_pay_ratio`` of what was due, or (with an income
  column) unable to afford even the longest plan. Treatment: a restructuring offer whose
  instalment fits ``affordable_share`` of income (without income: what the account has been
  paying): plain instalments when six months clear it, else a term extension up to
  ``max_term_months``, else that term with a rate cut.
- **temporary** (临时性, a slip): every other late account, such as a first short spell after
  a clean history. Treatment: ``grace_days`` of grace and a reminder.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from delinq.features.history import BUCKETS, derive_history
from delinq.pipeline.config import DelinquentTypesConfig, HistoryConfig

TYPES = ("temporary", "structural", "stubborn")
TREATMENTS = {
    "temporary": "grace_and_reminder",
    "structural": "restructuring_offer",
    "stubborn": "escalation",
}
MEANING = {
    "temporary": "a slip: short delinquency, usually after a clean history; cures by itself",
    "structural": "can't pay as agreed: repeated delinquency or partial payments",
    "stubborn": "won't pay: no payments while falling further behind, or broken promises",
}


def _leading_unpaid(paid: np.ndarray) -> np.ndarray:
    """Months without a payment, counted from the newest until the first payment."""
    unpaid = np.nan_to_num(paid) <= 0
    return np.where(unpaid.all(axis=1), unpaid.shape[1], np.argmin(unpaid, axis=1))


def delinquent_types(
    frame: pd.DataFrame,
    history: HistoryConfig,
    cfg: DelinquentTypesConfig,
    feats: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Type, the rule that gave it, its evidence and its treatment, for every account (current
    accounts: an empty type and no treatment)."""
    feats = derive_history(frame, history) if feats is None else feats
    n = len(frame)
    bucket = feats["dpd_bucket"].to_numpy(dtype=np.int64)
    late = bucket >= 1
    months_late = feats["months_delinquent"].to_numpy()
    spell = feats["consecutive_delinquent"].to_numpy()
    worse = (feats["roll_forward"].to_numpy() > 0) | (feats["status_trend"].to_numpy() > 0)
    paid = frame[history.payment].to_numpy(dtype=float) if history.payment else None
    unpaid = _leading_unpaid(paid) if paid is not None else np.zeros(n, dtype=np.int64)
    ratio = feats["pay_ratio_mean"].to_numpy() if "pay_ratio_mean" in feats else np.full(n, np.nan)
    owed = (
        np.maximum(np.nan_to_num(frame[history.balance[0]].to_numpy(dtype=float)), 0)
        if history.balance
        else np.zeros(n)
    )
    if cfg.income:
        capacity = np.nan_to_num(frame[cfg.income].to_numpy(dtype=float)) * cfg.affordable_share
    elif paid is not None:
        shown = np.where(paid > 0, paid, 0.0)
        capacity = shown.sum(axis=1) / np.maximum((shown > 0).sum(axis=1), 1)
    else:
        capacity = np.zeros(n)
    unaffordable = (owed / cfg.max_term_months > capacity) & bool(cfg.income)

    far = bucket >= BUCKETS.index(cfg.stubborn_from_bucket)
    silent = far & worse & (unpaid >= cfg.stubborn_unpaid_months)
    broken = np.zeros(n, dtype=bool)
    if cfg.broken_promises:
        promises = np.nan_to_num(frame[cfg.broken_promises].to_numpy(dtype=float))
        broken = promises >= cfg.stubborn_broken_promises
    repeated = months_late >= cfg.structural_late_months
    short_paying = (ratio > 0) & (ratio < cfg.structural_pay_ratio) & (unpaid == 0)
    rules = [
        ("stubborn", "no payment while falling behind", late & silent),
        ("stubborn", "broken promises", late & broken),
        ("structural", "late in many months", late & repeated),
        ("structural", "pays part of what is due", late & short_paying),
        ("structural", "cannot afford the longest plan", late & unaffordable),
        ("temporary", "short delinquency", late),
    ]
    kind = np.select([m for *_, m in rules], [k for k, *_ in rules], "").astype(object)
    rule = np.select([m for *_, m in rules], [r for _, r, _ in rules], "").astype(object)

    structural = kind == "structural"
    instalment, term, offer = _restructure(owed, capacity, cfg)
    return pd.DataFrame(
        {
            "delinquent_type": kind,
            "type_rule": rule,
            "months_late": months_late.astype(np.int64),
            "current_spell": spell.astype(np.int64),
            "cured_before": late & (months_late > spell),
            "months_unpaid": unpaid.astype(np.int64),
            "pay_ratio_mean": np.round(ratio, 3),
            "treatment": pd.Series(kind).map(TREATMENTS).fillna("").to_numpy(dtype=object),
            "grace_days": np.where(kind == "temporary", cfg.grace_days, 0),
            "offer": np.where(structural, offer, "").astype(object),
            "offer_instalment": np.where(structural, instalment, np.nan),
            "offer_term_months": np.where(structural, term, 0),
            "human_review_required": kind == "stubborn",
        },
        index=frame.index,
    )


def _restructure(owed: np.ndarray, capacity: np.ndarray, cfg: DelinquentTypesConfig):
    """(instalment, term in months, offer) that repays ``owed`` within ``capacity`` a month."""
    fits = capacity > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.where(fits, np.ceil(owed / np.where(fits, capacity, 1)), np.inf)
    term = np.clip(needed, 1, cfg.max_term_months).astype(np.int64)
    offer = np.select(
        [needed <= 6, needed <= cfg.max_term_months],
        ["instalments", "term_extension"],
        "term_extension_and_rate_cut",
    )
    instalment = np.round(np.where(owed > 0, owed / term, 0.0), 2)
    return instalment, term, offer


def type_outcomes(types: pd.DataFrame, y: pd.Series | np.ndarray) -> pd.DataFrame:
    """Per type: accounts, share of the late, the bad rate that followed, and the treatment."""
    late = types["delinquent_type"] != ""
    bad = np.asarray(y)[late.to_numpy()]
    frame = pd.DataFrame({"type": types.loc[late, "delinquent_type"], "bad": bad})
    table = frame.groupby("type")["bad"].agg(accounts="size", bad_rate="mean")
    table = table.reindex([t for t in TYPES if t in table.index])
    table["share_of_late"] = table["accounts"] / max(int(late.sum()), 1)
    table["treatment"] = [TREATMENTS[t] for t in table.index]
    table["meaning"] = [MEANING[t] for t in table.index]
    return table
