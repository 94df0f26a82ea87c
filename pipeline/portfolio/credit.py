"""Limits and risk-based prices that follow from the calibrated PD (额度调整, 风险定价).

For each account, from its PD, the configured LGD and its exposure at default (EAD: the drawn
balance plus a credit-conversion factor on the undrawn limit):

- **expected loss** EL = PD x LGD x EAD, the PD made yearly from the model's horizon
  (``pd_horizon_months``: 1 for a "late next month" target);
- **a limit action**, the first that applies: ``freeze`` (no new drawing: the limit comes down
  to the balance) from a PD or a DPD bucket; ``cut`` by a factor, never below the balance;
  ``raise`` by a factor for current, well-used, low-PD accounts, capped by the largest step
  and the largest limit; otherwise ``hold``;
- **a price per grade**: funding cost + expected loss rate (the grade's mean yearly PD x LGD) +
  operating cost + margin, capped at the legal maximum rate.

Every row carries the inputs of its decisions and the rule or cap that bound them, so each
can be explained. :func:`portfolio_outcome` sums expected loss, revenue and profit, for a
what-if between two policies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from delinq.features.history import BUCKETS
from delinq.pipeline.config import CreditConfig

LIMIT_ACTIONS = ("raise", "hold", "cut", "freeze")


def exposure_at_default(balance: np.ndarray, limit: np.ndarray, ccf: float) -> np.ndarray:
    """Drawn balance plus ``ccf`` of the undrawn limit (a credit balance counts as zero)."""
    drawn = np.maximum(np.asarray(balance, dtype=float), 0)
    return drawn + ccf * np.maximum(np.asarray(limit, dtype=float) - drawn, 0)


def yearly_pd(pd_: np.ndarray, cfg: CreditConfig) -> np.ndarray:
    """The model's PD over ``cfg.pd_horizon_months`` as a one-year PD."""
    pd_ = np.clip(np.asarray(pd_, dtype=float), 0, 1)
    return 1 - (1 - pd_) ** (12 / cfg.pd_horizon_months)


def rate_card(pd_: np.ndarray, grade: np.ndarray, cfg: CreditConfig) -> pd.DataFrame:
    """The price of each grade: its parts, the rate before the cap, and the rate charged
    (``pd_``: the model's; its yearly value sets the expected loss rate)."""
    frame = pd.DataFrame({"grade": np.asarray(grade, dtype=object), "pd": yearly_pd(pd_, cfg)})
    card = frame.groupby("grade", sort=True)["pd"].agg(accounts="size", mean_pd_12m="mean")
    card["expected_loss_rate"] = card["mean_pd_12m"] * cfg.lgd
    card["funding_rate"] = cfg.funding_rate
    card["operating_cost_rate"] = cfg.operating_cost_rate
    card["margin"] = cfg.margin
    parts = ["expected_loss_rate", "funding_rate", "operating_cost_rate", "margin"]
    card["required_rate"] = card[parts].sum(axis=1)
    card["rate"] = card["required_rate"].clip(upper=cfg.max_rate)
    card["bound_by"] = np.where(card["required_rate"] > cfg.max_rate, "max_rate", "")
    return card.reset_index()


def limit_decisions(
    pd_: np.ndarray,
    bucket: np.ndarray,
    balance: np.ndarray,
    limit: np.ndarray,
    cfg: CreditConfig,
) -> pd.DataFrame:
    """Limit action, the rule that chose it, the new limit and the cap that bound it."""
    pd_ = np.asarray(pd_, dtype=float)
    limit = np.asarray(limit, dtype=float)
    drawn = np.maximum(np.asarray(balance, dtype=float), 0)
    rank = pd.Index(BUCKETS).get_indexer(np.asarray(bucket, dtype=object))
    if (rank < 0).any():
        raise ValueError(f"unknown DPD bucket (known: {', '.join(BUCKETS)})")
    with np.errstate(divide="ignore", invalid="ignore"):
        used = np.where(limit > 0, drawn / limit, np.inf)
    by_bucket = rank >= BUCKETS.index(cfg.freeze_from_bucket)
    by_pd = pd_ >= cfg.freeze_from_pd
    freeze = by_bucket | by_pd
    cut = ~freeze & (pd_ >= cfg.cut_from_pd)
    grow = ~freeze & ~cut & (pd_ <= cfg.raise_up_to_pd) & (rank == 0)
    grow &= (used >= cfg.raise_min_utilisation) & (limit > 0) & (limit < cfg.max_limit)

    new = limit.copy()
    bound = np.full(len(limit), "", dtype=object)
    new[freeze] = np.minimum(limit, drawn)[freeze]
    bound[freeze] = "balance"
    cut_to = np.maximum(limit * cfg.cut_factor, np.minimum(limit, drawn))
    new[cut] = cut_to[cut]
    bound[cut] = np.where(limit * cfg.cut_factor < drawn, "balance", "cut_factor")[cut]
    ceiling = np.full_like(limit, cfg.max_limit)
    steps = np.stack([limit * cfg.raise_factor, limit + cfg.max_raise, ceiling])
    names = np.array(["raise_factor", "max_raise", "max_limit"], dtype=object)
    new[grow] = steps.min(axis=0)[grow]
    bound[grow] = names[steps.argmin(axis=0)][grow]

    action = np.select([freeze, cut, grow], ["freeze", "cut", "raise"], "hold").astype(object)
    rule = np.select(
        [by_pd, by_bucket, cut, grow],
        ["freeze_from_pd", "freeze_from_bucket", "cut_from_pd", "raise_up_to_pd"],
        "",
    ).astype(object)
    return pd.DataFrame(
        {
            "limit_action": action,
            "limit_rule": rule,
            "new_limit": np.round(new, 2),
            "limit_bound_by": bound,
        }
    )


def credit_decisions(
    pd_: np.ndarray,
    grade: np.ndarray,
    bucket: np.ndarray,
    balance: np.ndarray,
    limit: np.ndarray,
    cfg: CreditConfig,
    card: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every account's EL, limit action and price, with the inputs behind them. The limit
    rules read the model's PD; the expected loss its yearly value. ``card``: the
    :func:`rate_card` of these accounts, if already made."""
    pd_ = np.asarray(pd_, dtype=float)
    year = yearly_pd(pd_, cfg)
    limits = limit_decisions(pd_, bucket, balance, limit, cfg)
    card = (rate_card(pd_, grade, cfg) if card is None else card).set_index("grade")
    grade = pd.Index(np.asarray(grade, dtype=object))
    ead = exposure_at_default(balance, limit, cfg.ccf)
    new_ead = exposure_at_default(balance, limits["new_limit"].to_numpy(), cfg.ccf)
    return pd.DataFrame(
        {
            "pd": pd_,
            "pd_12m": np.round(year, 6),
            "lgd": cfg.lgd,
            "ead": np.round(ead, 2),
            "expected_loss": np.round(year * cfg.lgd * ead, 2),
            **limits,
            "new_ead": np.round(new_ead, 2),
            "new_expected_loss": np.round(year * cfg.lgd * new_ead, 2),
            "rate": card["rate"].reindex(grade).to_numpy(),
            "rate_bound_by": card["bound_by"].reindex(grade).to_numpy(dtype=object),
        }
    )


def portfolio_outcome(decisions: pd.DataFrame, balance: np.ndarray, cfg: CreditConfig) -> dict:
    """A year's expected interest, loss and profit of the book under ``decisions``.

    Interest is the rate on the drawn balance of the accounts that do not default; the loss
    is on the exposure after the limit actions; costs are funding and operating cost on the
    balance.
    """
    drawn = np.maximum(np.asarray(balance, dtype=float), 0)
    pd_ = decisions["pd_12m"].to_numpy()
    revenue = float((decisions["rate"].to_numpy() * drawn * (1 - pd_)).sum())
    loss = float(decisions["new_expected_loss"].sum())
    costs = float(((cfg.funding_rate + cfg.operating_cost_rate) * drawn).sum())
    counts = decisions["limit_action"].value_counts()
    return {
        "accounts": len(decisions),
        "total_limit": float(decisions["new_limit"].sum()),
        "exposure_at_default": float(decisions["new_ead"].sum()),
        "expected_loss": loss,
        "expected_revenue": revenue,
        "expected_profit": revenue - loss - costs,
        **{f"limit_{a}": int(counts.get(a, 0)) for a in LIMIT_ACTIONS},
    }
