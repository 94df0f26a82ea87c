"""Collection actions chosen by expected recovery under each channel's daily capacity.

For each delinquent account and each action it may get (an action with a cure prior for the
account's DPD bucket): expected recovery = P(cure | action) x balance at risk - cost of the
action; doing nothing recovers P(cure | no action) x balance. The assignment maximises the
book's total expected recovery with no channel over its capacity: a transportation problem,
solved exactly as a linear programme by SciPy's HiGHS (its constraint matrix is totally
unimodular, so the optimum is whole: one action per account).

A seeded, stable share of the accounts sits in challenger cells instead: half held back with
no action (``holdout``), half given another allowed action at random (``varied``), so that the
uplift of every action can be measured once outcomes mature. A cell depends only on the
account id and the seed, so an account stays in its cell night after night.

:func:`ladder_recovery` values the fixed policy ladder's actions the same way, filling each
channel in priority order until it is full, so the two can be compared.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import linprog
from scipy.sparse import coo_array, vstack

from delinq.pipeline.config import CollectionConfig

NONE = "none"
CELLS = ("optimised", "holdout", "varied")


def cure_chances(
    bucket: np.ndarray, cfg: CollectionConfig, types: np.ndarray | None = None
) -> tuple[list[str], np.ndarray]:
    """(actions, chances): ``chances[i, j]`` is P(cure | action ``j``) for account ``i``
    (column 0: no action), NaN where the action is not used on the account's bucket or its
    type (``cfg.actions_by_type``). With ``types``, each prior is scaled by how the type
    answers the action (``cfg.type_response``), at most 1."""
    actions = [NONE, *cfg.channels]
    bucket = pd.Series(np.asarray(bucket, dtype=object))
    chances = np.full((len(bucket), len(actions)), np.nan)
    chances[:, 0] = bucket.map(cfg.self_cure).fillna(0).to_numpy()
    for j, channel in enumerate(cfg.channels.values(), start=1):
        chances[:, j] = bucket.map(channel.cure).to_numpy(dtype=float)
    if types is None:
        return actions, chances
    types = np.asarray(types, dtype=object)
    for kind in set(cfg.type_response) | set(cfg.actions_by_type):
        rows = np.flatnonzero(types == kind)
        response = cfg.type_response.get(kind, {})
        factor = np.array([response.get(a, 1.0) for a in actions])
        if kind in cfg.actions_by_type:
            allowed = {NONE, *cfg.actions_by_type[kind]}
            factor[[a not in allowed for a in actions]] = np.nan
        chances[rows] = np.minimum(chances[rows] * factor, 1.0)
    return actions, chances


def recovery_values(
    bucket: np.ndarray,
    balance: np.ndarray,
    cfg: CollectionConfig,
    types: np.ndarray | None = None,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(actions, chances, values): the expected recovery of each action on each account,
    P(cure | action) x balance at risk - cost (NaN where the action is not used)."""
    actions, chances = cure_chances(bucket, cfg, types)
    cost = np.array([0.0, *(c.cost for c in cfg.channels.values())])
    at_risk = np.maximum(np.asarray(balance, dtype=float), 0)
    return actions, chances, chances * at_risk[:, None] - cost


def _uniform(ids: np.ndarray, seed: int, salt: str) -> np.ndarray:
    """A number in [0, 1) per id, stable across runs and machines (a keyed hash of the id)."""
    key = f"{seed:08d}{salt}"[-16:].rjust(16, "0")
    text = pd.Series(np.asarray(ids, dtype=str))
    hashed = pd.util.hash_pandas_object(text, index=False, hash_key=key)
    return (hashed.to_numpy() >> np.uint64(11)).astype(np.float64) / 2.0**53


def _capacities(cfg: CollectionConfig) -> np.ndarray:
    """Accounts per day of each action (column 0, no action: unlimited)."""
    caps = [np.inf] + [
        np.inf if c.capacity is None else float(c.capacity) for c in cfg.channels.values()
    ]
    return np.asarray(caps)


def _optimise(values: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """The action index per account that maximises total value within ``caps``."""
    n, k = values.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    uplift = values - values[:, [0]]
    rows, cols = np.nonzero(np.nan_to_num(uplift, nan=-1.0) > 0)  # only actions worth doing
    limited = np.flatnonzero(np.isfinite(caps))
    choice = np.zeros(n, dtype=np.int64)
    if len(rows) == 0:
        return choice
    m = len(rows)
    one_each = coo_array((np.ones(m), (rows, np.arange(m))), shape=(n, m))
    in_channel = coo_array((np.ones(m), (cols, np.arange(m))), shape=(k, m)).tocsr()[limited]
    result = linprog(
        -uplift[rows, cols],
        A_ub=vstack([one_each, in_channel]).tocsr(),
        b_ub=np.concatenate([np.ones(n), caps[limited]]),
        bounds=(0, 1),
        method="highs-ipm",
    )
    if result.status != 0:
        raise RuntimeError(f"the collection assignment did not solve: {result.message}")
    # Shares add up to at most 1 per account, so at most one is past a half: its action.
    taken = result.x > 0.5
    choice[rows[taken]] = cols[taken]
    return _within_capacity(choice, uplift, caps)


def _within_capacity(choice: np.ndarray, uplift: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Past a channel's capacity (a rounding of a tie), the accounts it helps least go back
    to no action: the capacity holds whatever the solver returned."""
    for j in np.flatnonzero(np.isfinite(caps)):
        members = np.flatnonzero(choice == j)
        over = len(members) - int(caps[j])
        if over > 0:
            order = members[np.argsort(uplift[members, j], kind="stable")]
            choice[order[:over]] = 0
    return choice


def assign_actions(
    ids: np.ndarray,
    bucket: np.ndarray,
    balance: np.ndarray,
    cfg: CollectionConfig,
    types: np.ndarray | None = None,
) -> pd.DataFrame:
    """Action, challenger cell, cure chance and expected recovery of every account (current
    accounts get no action and no cell). With each account's delinquent ``types``, the cure
    chances follow the type (see :func:`cure_chances`)."""
    actions, chances, values = recovery_values(bucket, balance, cfg, types)
    caps = _capacities(cfg)
    n = len(values)
    late = np.asarray(bucket, dtype=object) != "current"
    draw = _uniform(ids, cfg.seed, "cell")
    holdout = late & (draw < cfg.challenger_share / 2)
    varied = late & ~holdout & (draw < cfg.challenger_share)
    choice = np.zeros(n, dtype=np.int64)
    # Varied cells: one of the account's allowed actions, by a second stable draw.
    allowed = ~np.isnan(values[:, 1:])
    pick = _uniform(ids, cfg.seed, "action")
    for i in np.flatnonzero(varied & allowed.any(axis=1)):
        options = np.flatnonzero(allowed[i]) + 1
        choice[i] = options[int(pick[i] * len(options))]
    choice = _within_capacity(choice, values - values[:, [0]], caps)
    left = caps - np.bincount(choice, minlength=len(caps))
    solve = np.flatnonzero(late & ~holdout & ~varied)
    choice[solve] = _optimise(values[solve], left)
    rows = np.arange(n)
    chosen = values[rows, choice]
    p_cure = np.where(late, chances[rows, choice], 0.0)
    cell = np.select([holdout, varied, late], ["holdout", "varied", "optimised"], "")
    return pd.DataFrame(
        {
            "collection_action": np.asarray(actions, dtype=object)[choice],
            "cell": cell.astype(object),
            "p_cure": np.round(p_cure, 6),
            "expected_recovery": np.round(np.where(late, chosen, 0.0), 2),
        }
    )


def ladder_recovery(
    bucket: np.ndarray,
    balance: np.ndarray,
    ladder: np.ndarray,
    priority: np.ndarray,
    pd_: np.ndarray,
    cfg: CollectionConfig,
    types: np.ndarray | None = None,
) -> np.ndarray:
    """Expected recovery of each account under the fixed ladder's actions, each channel
    filled in priority order (then highest PD first) until full; the overflow, and ladder
    actions without a prior for the bucket, get what no action recovers."""
    actions, _, values = recovery_values(bucket, balance, cfg, types)
    caps = _capacities(cfg)
    index = pd.Index(actions).get_indexer(np.asarray(ladder, dtype=object))
    index = np.where(index < 0, 0, index)
    n = len(values)
    chosen = values[np.arange(n), index]
    index = np.where(np.isnan(chosen), 0, index)
    order = np.lexsort((-np.asarray(pd_, dtype=float), np.asarray(priority)))
    queued = index[order]
    place = pd.Series(queued).groupby(queued).cumcount().to_numpy()
    index[order[place >= caps[queued]]] = 0  # the channel was full by its turn
    late = np.asarray(bucket, dtype=object) != "current"
    return np.where(late, values[np.arange(n), index], 0.0)
