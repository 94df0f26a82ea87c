"""`delinq decide`: a published night's scores turned into decisions, published like them.

For each account of the night: its limit action and price (pipeline/portfolio/credit.py) and,
for the delinquent, its type and treatment (pipeline/portfolio/delinquent_types.py) and the
collection action chosen by expected recovery under the channels' capacities among those its
type allows, with its challenger cell (pipeline/portfolio/assignment.py). The fixed policy
ladder's actions (the night's ``action`` column) are valued the same way, so the gain of the
assignment is reported. With a second config (``what_if``), the book's expected loss, revenue
and profit under both credit policies, side by side.

Written to ``out/as_of_date=D/`` whole or not at all (the scorer's lock and rename): the
decisions name accounts, so they stay in that folder and never go to MLflow.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from delinq.pipeline.book.columns import read_columns
from delinq.pipeline.book.io import DataError
from delinq.pipeline.config import Config, ConfigError
from delinq.pipeline.monitor.job import as_of_day, publish_partition, read_night
from delinq.pipeline.monitor.migration import match_ids
from delinq.pipeline.portfolio.assignment import assign_actions, ladder_recovery
from delinq.pipeline.portfolio.credit import credit_decisions, portfolio_outcome, rate_card
from delinq.pipeline.portfolio.delinquent_types import delinquent_types
from delinq.pipeline.portfolio.policy import REVIEW_BY_DEFAULT

NIGHT_COLUMNS = ["id", "pd", "grade", "dpd_bucket", "action", "priority"]
DECISIONS_FILE, SUMMARY_FILE = "decisions.parquet", "summary.json"


@dataclass(frozen=True)
class Decided:
    folder: Path
    summary: dict


def _book_rows(path: Path, cfg: Config, ids: pa.ChunkedArray, sep: str | None) -> pd.DataFrame:
    """The payment-history columns of each scored account, in the order of ``ids``."""
    history = cfg.data.history
    if cfg.data.id is None or history is None or not history.balance or not history.limit:
        raise ConfigError(
            "decisions need data.id and data.history with balances and the limit (each "
            "account's exposure and payment history)"
        )
    types = cfg.delinquent_types
    optional = [c for c in (types.income, types.broken_promises) if c]
    columns = [cfg.data.id, *history.status, *history.balance, *history.payment, history.limit]
    columns = list(dict.fromkeys(columns + optional))
    source = read_columns(path, sep, columns, [cfg.data.id], "book", "data.history")
    table = pa.table({c: source(c) for c in columns})
    at = match_ids(table[cfg.data.id].cast(pa.string()), ids)
    if (at < 0).any():
        raise DataError(
            f"{path}: {int((at < 0).sum())} scored account(s) are not in this book; give the "
            "book the night scored"
        )
    rows = table.drop_columns([cfg.data.id]).take(pa.array(at)).to_pandas()
    return rows.apply(pd.to_numeric, errors="coerce")


def decide(
    cfg: Config,
    scores: Path,
    as_of: str,
    book: Path,
    out: Path,
    what_if: Config | None = None,
    sep: str | None = None,
) -> Decided:
    """Decide limits, prices and collection actions for the night ``as_of`` and publish them."""
    day = as_of_day(as_of)
    night, manifest = read_night(scores, day, NIGHT_COLUMNS)
    frame = night.to_pandas()
    rows = _book_rows(book, cfg, night["id"], sep)
    history = cfg.data.history
    balance = rows[history.balance[0]].to_numpy(dtype=float)
    limit = rows[history.limit].to_numpy(dtype=float)
    pd_, grade, bucket = frame["pd"].to_numpy(), frame["grade"].to_numpy(), frame["dpd_bucket"]
    bucket = bucket.astype(object).to_numpy()
    card = rate_card(pd_, grade, cfg.credit)
    credit = credit_decisions(pd_, grade, bucket, balance, limit, cfg.credit, card)
    types = delinquent_types(rows, history, cfg.delinquent_types)
    kind = types["delinquent_type"].to_numpy()
    ids = frame["id"].astype(str).to_numpy()
    collection = assign_actions(ids, bucket, balance, cfg.collection, kind)
    ladder = ladder_recovery(
        bucket,
        balance,
        frame["action"].astype(object).to_numpy(),
        frame["priority"].to_numpy(),
        pd_,
        cfg.collection,
        kind,
    )
    review = {a for a, need in REVIEW_BY_DEFAULT.items() if need == "required"}
    treatment = ["delinquent_type", "type_rule", "treatment", "grace_days", "offer"]
    treatment += ["offer_instalment", "offer_term_months"]
    decisions = pd.concat(
        [
            pd.DataFrame(
                {
                    "id": ids,
                    "grade": frame["grade"].astype(object),
                    "dpd_bucket": bucket,
                    "balance": balance,
                    "limit": limit,
                }
            ),
            credit,
            types[treatment].reset_index(drop=True),
            collection,
            pd.DataFrame(
                {
                    "human_review_required": collection["collection_action"].isin(review)
                    | types["human_review_required"].to_numpy(),
                    "ladder_action": frame["action"].astype(object),
                    "ladder_expected_recovery": np.round(ladder, 2),
                }
            ),
        ],
        axis=1,
    )
    summary = _summary(decisions, balance, cfg, what_if, day, manifest)

    def write(staging: Path) -> None:
        staging.mkdir(parents=True, exist_ok=True)
        pq.write_table(
            pa.Table.from_pandas(decisions, preserve_index=False),
            staging / DECISIONS_FILE,
            compression="zstd",
        )
        card.to_csv(staging / "rate_card.csv", index=False)
        (staging / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True))

    return Decided(publish_partition(Path(out), day, write), summary)


def _summary(decisions, balance, cfg: Config, what_if: Config | None, day: str, manifest) -> dict:
    # Both over every delinquent account, challenger cells included: what they forgo is the
    # price of measuring each action's uplift.
    late = decisions["cell"] != ""
    gained = decisions.loc[late, "expected_recovery"].sum()
    ladder = decisions.loc[late, "ladder_expected_recovery"].sum()
    use = decisions.loc[late, "collection_action"].value_counts()
    channels = {
        name: {"assigned": int(use.get(name, 0)), "capacity": c.capacity}
        for name, c in cfg.collection.channels.items()
    }
    summary = {
        "as_of_date": day,
        "model": manifest.get("model"),
        "accounts": len(decisions),
        "delinquent": int(late.sum()),
        "cells": decisions.loc[late, "cell"].value_counts().to_dict(),
        "types": decisions.loc[late, "delinquent_type"].value_counts().to_dict(),
        "collection": {
            "expected_recovery": round(float(gained), 2),
            "ladder_expected_recovery": round(float(ladder), 2),
            "margin_over_ladder": round(float(gained - ladder), 2),
            "channels": channels,
        },
        "credit": portfolio_outcome(decisions, balance, cfg.credit),
        "rate_capped_grades": sorted(set(decisions.loc[decisions["rate_bound_by"] != "", "grade"])),
    }
    if what_if is not None:
        other = credit_decisions(
            decisions["pd"].to_numpy(),
            decisions["grade"].to_numpy(),
            decisions["dpd_bucket"].to_numpy(),
            balance,
            decisions["limit"].to_numpy(),
            what_if.credit,
        )
        summary["what_if"] = portfolio_outcome(other, balance, what_if.credit)
    return summary


def collection_backtest(decisions: Path, as_of: str, cured: pd.Series, out: Path) -> Decided:
    """Cure rates per collection action and challenger cell once outcomes have matured.

    ``cured``: 0/1 by account id (text), e.g. current again within three months. Per DPD
    bucket, action and cell: the accounts, their cure rate against the prior the assignment
    used, and the uplift over the held-out accounts of the same bucket (what each action is
    really worth; the priors should move towards it). Published to
    ``out/as_of_date=D/`` whole or not at all.
    """
    day = as_of_day(as_of)
    path = Path(decisions) / f"as_of_date={day}" / DECISIONS_FILE
    if not path.exists():
        raise DataError(f"{decisions}: no decisions for {day} (run `delinq decide` first)")
    if cured.empty:
        raise DataError("the outcomes file has no rows")
    columns = ["id", "dpd_bucket", "collection_action", "cell", "p_cure"]
    table = pq.read_table(path, columns=columns).to_pandas()
    late = table[table["cell"] != ""].set_index("id")
    unknown = cured.index.difference(table["id"])
    if len(unknown):
        raise DataError(
            f"outcomes for {len(unknown)} account(s) that the decisions of {day} do not have; "
            "give the outcomes of that night's accounts"
        )
    matched = late.join(cured.rename("cured"), how="inner")
    if matched.empty:
        raise DataError(f"no outcome is for a delinquent account of {day}")
    keys = ["dpd_bucket", "collection_action", "cell"]
    rates = matched.groupby(keys).agg(
        accounts=("cured", "size"), cure_rate=("cured", "mean"), prior=("p_cure", "mean")
    )
    held = matched[matched["cell"] == "holdout"].groupby("dpd_bucket")["cured"].mean()
    rates["uplift_vs_holdout"] = (
        rates["cure_rate"] - held.reindex(rates.index.get_level_values("dpd_bucket")).to_numpy()
    )
    rates = rates.reset_index()
    summary = {
        "as_of_date": day,
        "accounts_with_outcomes": len(matched),
        "cure_rate": round(float(matched["cured"].mean()), 4),
        "by_cell": matched.groupby("cell")["cured"].mean().round(4).to_dict(),
    }

    def write(staging: Path) -> None:
        staging.mkdir(parents=True, exist_ok=True)
        rates.to_csv(staging / "collection_cure_rates.csv", index=False)
        (staging / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, sort_keys=True))

    return Decided(publish_partition(Path(out), day, write), summary)
