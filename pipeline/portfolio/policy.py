"""Collection segments and the collection policy: segment x grade x DPD bucket -> action.

The policy file lists rules in order; the first rule that matches an account decides
(explicit precedence). Loading validates it: unknown names fail, every combination must be
covered, and a rule that can never apply (shadowed by earlier ones) is an error.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from delinq.features.history import BUCKETS, derive_history
from delinq.models.scorecard import grade_index, score_points
from delinq.pipeline.config import Config, ConfigError, HistoryConfig, SegmentConfig

# Late accounts take the first of wilful / chronic / hardship that fits; current ones the first
# of new_customer / large_exposure, else performing.
SEGMENTS = ("wilful", "chronic", "hardship", "new_customer", "large_exposure", "performing")
SEGMENT_MEANING = {
    "wilful": "61+ days late, high PD, no payment for two months although the line has headroom",
    "chronic": "recurring or long delinquency (capacity problem), often with high utilisation",
    "hardship": "a first, short delinquency after a clean history",
    "new_customer": "current, with fewer active months than segments.new_customer_months",
    "large_exposure": "current, credit limit at or above segments.large_exposure",
    "performing": "current and none of the above",
}
# Escalation ladder, mildest first.
ACTIONS = (
    "none",
    "sms_reminder",
    "email_reminder",
    "call",
    "repayment_plan",
    "restructuring_offer",
    "field_visit",
    "legal",
    "outsourced_collection",
)


def segment_accounts(
    frame: pd.DataFrame,
    history: HistoryConfig,
    cfg: SegmentConfig,
    pd_: np.ndarray | None = None,
    feats: pd.DataFrame | None = None,
) -> pd.Series:
    """One collection segment per account, from history, exposure and (if given) risk.

    Without ``pd_`` (portfolio analytics before any model) the high-PD condition of
    ``wilful`` is left out. ``feats`` are the derived history features, if already computed.
    """
    codes = _segment_codes(frame, history, cfg, pd_, feats)
    return pd.Series(
        np.array(SEGMENTS, dtype=object)[codes], index=frame.index, name="segment", dtype=object
    )


def _segment_codes(frame, history, cfg, pd_, feats) -> np.ndarray:
    """Position in SEGMENTS of each account's segment (:func:`segment_accounts`)."""
    feats = derive_history(frame, history) if feats is None else feats
    late = feats["dpd_bucket"].to_numpy() >= 1
    spell = feats["consecutive_delinquent"].to_numpy()
    months_late = feats["months_delinquent"].to_numpy()
    if history.payment and history.balance:
        paid = frame[history.payment[:2]].to_numpy(dtype=float)
        stopped = (np.nan_to_num(paid) <= 0).all(axis=1)
    else:
        stopped = np.ones(len(frame), dtype=bool)
    util = feats["util_latest"].to_numpy() if "util_latest" in feats else np.zeros(len(frame))
    high_pd = np.ones(len(frame), bool) if pd_ is None else np.asarray(pd_) >= cfg.high_pd

    if cfg.tenure is not None:
        active = frame[cfg.tenure].to_numpy(dtype=float)
    else:
        status = frame[history.status].to_numpy(dtype=float)
        active = (~np.isnan(status) & (status != -2)).sum(axis=1)  # -2: card not used
    limit = frame[history.limit].to_numpy(dtype=float) if history.limit else np.zeros(len(frame))

    wilful = (
        late
        & (feats["dpd_bucket"].to_numpy() >= 3)
        & high_pd
        & stopped
        & (util < cfg.high_utilisation)
    )
    hardship = late & (months_late <= 2) & (months_late == spell)  # one short spell, clean before
    # In the order of SEGMENTS: the first condition that holds names the segment.
    conditions = [
        wilful,
        late & ~hardship,
        late,
        active < cfg.new_customer_months,
        limit >= cfg.large_exposure,
    ]
    return np.select(conditions, range(len(conditions)), default=len(conditions))


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    segment: str | list[str] = "*"
    grade: str | list[str] = "*"
    bucket: str | list[str] = "*"
    action: str
    priority: int = Field(ge=1, le=9)

    @field_validator("segment", "grade", "bucket")
    @classmethod
    def _as_list(cls, v):
        return [v] if isinstance(v, str) else v


# Actions a person must confirm before they happen, unless the policy file says otherwise:
# PIPL Art. 24 lets a person refuse a decision of significant impact made solely by machine.
REVIEW_BY_DEFAULT = {"legal": "required", "outsourced_collection": "required"}


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: list[_Rule] = Field(min_length=1)
    # action -> "required" (a person reviews it before it happens) or "not_required".
    review: dict[str, Literal["required", "not_required"]] = Field(default_factory=dict)


class Policy:
    """A validated collection policy, flattened into a lookup over every combination."""

    def __init__(self, table: pd.DataFrame, source: str):
        self.table = table  # index (segment, grade, bucket) -> action, priority, rule
        self.source = source
        # Table row of each combination, by the mixed-radix number of its level codes.
        self._rows = np.empty(len(table), dtype=np.int64)
        self._rows[self._position(table.index.codes)] = np.arange(len(table))
        self._action = pd.Index(ACTIONS).get_indexer(table["action"])  # position in ACTIONS
        self._priority = table["priority"].to_numpy(dtype=np.int64)
        self._rule = table["rule"].to_numpy(dtype=np.int64)
        self._review = table["review"].to_numpy(dtype=bool)

    def _position(self, codes) -> np.ndarray:
        position = np.zeros(len(codes[0]), dtype=np.int64)
        for level, code in zip(self.table.index.levels, codes, strict=True):
            position = position * len(level) + np.asarray(code, dtype=np.int64)
        return position

    @property
    def reviewed_actions(self) -> list[str]:
        """The actions a person must review before they happen."""
        return sorted(set(self.table.loc[self.table["review"], "action"]))

    def decide(self, segment, grade, bucket) -> pd.DataFrame:
        """Action, priority, deciding rule number and whether a person must review the action,
        for each account."""
        values = (segment, grade, bucket)
        coded = [pd.factorize(np.asarray(v, dtype=object), use_na_sentinel=False) for v in values]
        return self.decide_coded(*coded)

    def decide_coded(self, *dims: tuple[np.ndarray, Sequence[str]]) -> pd.DataFrame:
        """:meth:`decide` for segment, grade and bucket given as (codes, names): each account's
        value is ``names[code]``. Looks up a few names instead of every account's text; the
        action comes back as a categorical over ACTIONS."""
        codes = []
        for level, (code, names) in zip(self.table.index.levels, dims, strict=True):
            where = level.get_indexer(pd.Index(list(names), dtype=object))[code]
            if (where < 0).any():
                raise ValueError(f"no policy row for {names[code[where < 0][0]]!r}")
            codes.append(where)
        rows = self._rows[self._position(codes)]
        return pd.DataFrame(
            {
                "action": pd.Categorical.from_codes(self._action[rows], ACTIONS),
                "priority": self._priority[rows],
                "rule": self._rule[rows],
                "human_review_required": self._review[rows],
            }
        )


def load_policy(path: Path, grades: list[str]) -> Policy:
    """Read and validate a policy file against the known segments, ``grades`` and buckets."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
        parsed = _PolicyFile.model_validate(raw)
    except FileNotFoundError:
        raise ConfigError(f"{path}: collection policy not found") from None
    except (yaml.YAMLError, ValidationError) as exc:
        raise ConfigError(f"{path}: invalid collection policy: {exc}") from None

    known = {"segment": SEGMENTS, "grade": tuple(grades), "bucket": BUCKETS}
    for i, rule in enumerate(parsed.rules, start=1):
        for field, names in known.items():
            unknown = [v for v in getattr(rule, field) if v != "*" and v not in names]
            if unknown:
                raise ConfigError(
                    f"{path}: rule {i}: unknown {field} {', '.join(map(repr, unknown))} "
                    f"(known: {', '.join(names)})"
                )
        if rule.action not in ACTIONS:
            raise ConfigError(
                f"{path}: rule {i}: unknown action {rule.action!r} (known: {', '.join(ACTIONS)})"
            )

    unknown = [a for a in parsed.review if a not in ACTIONS]
    if unknown:
        raise ConfigError(
            f"{path}: review: unknown action {unknown[0]!r} (known: {', '.join(ACTIONS)})"
        )
    review = REVIEW_BY_DEFAULT | parsed.review
    rows, used = [], set()
    for combo in itertools.product(SEGMENTS, grades, BUCKETS):
        for i, rule in enumerate(parsed.rules, start=1):
            if all(
                "*" in getattr(rule, field) or value in getattr(rule, field)
                for field, value in zip(known, combo, strict=True)
            ):
                required = review.get(rule.action) == "required"
                rows.append((*combo, rule.action, rule.priority, i, required))
                used.add(i)
                break
        else:
            raise ConfigError(
                f"{path}: no rule covers segment={combo[0]}, grade={combo[1]}, "
                f"bucket={combo[2]}; add a rule (a last catch-all rule with '*' covers the rest)"
            )
    shadowed = sorted(set(range(1, len(parsed.rules) + 1)) - used)
    if shadowed:
        raise ConfigError(
            f"{path}: rule(s) {', '.join(map(str, shadowed))} never apply: earlier rules "
            "already cover everything they match (first match wins)"
        )
    columns = ["segment", "grade", "bucket", "action", "priority", "rule", "review"]
    table = pd.DataFrame(rows, columns=columns)
    return Policy(table.set_index(["segment", "grade", "bucket"]), str(path))


def collection_plan(
    frame: pd.DataFrame,
    pd_: np.ndarray,
    cfg: Config,
    policy: Policy,
    feats: pd.DataFrame | None = None,
    points: np.ndarray | None = None,
) -> pd.DataFrame:
    """Points, grade, DPD bucket, segment, action and priority for each scored account.

    The one function the nightly scorer calls after predicting ``pd_`` for ``frame``.
    ``feats`` are the derived history features, if already computed. ``points`` are given by
    a scorecard model (the sum of its points table); otherwise they follow from ``pd_``.
    """
    sc = cfg.scorecard
    if points is None:
        points = score_points(pd_, sc.base_score, sc.base_odds, sc.pdo)
    history = cfg.data.history
    if history is None:
        raise ConfigError("a collection plan needs data.history (the DPD bucket comes from it)")
    feats = derive_history(frame, history) if feats is None else feats
    # Labels as codes into their names: a night has millions of accounts and a dozen labels.
    labels = {
        "grade": (grade_index(points, sc.bands), list(sc.bands)),
        "dpd_bucket": (feats["dpd_bucket"].to_numpy(dtype=np.int64), BUCKETS),
        "segment": (_segment_codes(frame, history, cfg.segments, pd_, feats), SEGMENTS),
    }
    decided = policy.decide_coded(labels["segment"], labels["grade"], labels["dpd_bucket"])
    return pd.DataFrame(
        {
            "pd": np.asarray(pd_, dtype=float),
            "points": points,
            **{k: pd.Categorical.from_codes(c, names) for k, (c, names) in labels.items()},
            "action": decided["action"].array,
            "priority": decided["priority"].to_numpy(),
            "human_review_required": decided["human_review_required"].to_numpy(),
        },
        index=frame.index,
    )
