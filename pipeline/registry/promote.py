"""Moving the ``champion`` alias to the ``challenger`` when the promotion gates pass.

Besides the AUC gates, the contract: a challenger whose inputs differ from the champion's
(added, removed or retyped columns, another id or history layout) would break the nightly
book built for the champion, so it is promoted only when asked to, and the change is written
on the version (tag ``promoted_with_schema_change``).
"""

from __future__ import annotations

import tempfile

from delinq.models.champion import PromotionDecision, promotion_decision
from delinq.pipeline.config import Config
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.reference import read_reference, schema_changes


def _schema_changes(name: str, champion: str, challenger: str) -> list[str]:
    digests = [tracking.version_tag(name, v, tracking.SCHEMA_TAG) for v in (champion, challenger)]
    if None not in digests and digests[0] == digests[1]:
        return []
    with tempfile.TemporaryDirectory(prefix="delinq-promote-") as tmp:
        old, new = (
            read_reference(tracking.download_version(name, v, f"{tmp}/{v}") / tracking.EXTRA_FILES)
            for v in (champion, challenger)
        )
        return schema_changes(old, new)


def _speed_gate(
    cfg: Config, name: str, version: str, decision: PromotionDecision
) -> PromotionDecision:
    """Refuse a challenger too slow to score the configured book in the configured night."""
    measured = tracking.version_tag(name, version, tracking.SPEED_TAG)
    book, minutes = cfg.promotion.book_rows, cfg.promotion.night_minutes
    if measured is None or not book:
        return decision
    rate, needed = float(measured), book / (minutes * 60)
    what = "with reason codes" if cfg.explain.reasons_in_scores else "without reason codes"
    if rate < needed:
        hours = book / rate / 3600
        return PromotionDecision(
            False,
            f"it scores {rate:,.0f} rows/s {what} (measured at training), so "
            f"promotion.book_rows {book:,} would take {hours:,.1f} h, beyond "
            f"promotion.night_minutes {minutes:g} (needs {needed:,.0f} rows/s); choose a "
            "faster family, score without reason codes (explain.reasons_in_scores: false), or "
            "set the book size and window this night really has",
        )
    return PromotionDecision(True, f"{decision.reason}; scores {rate:,.0f} rows/s {what}")


def _fairness_gate(
    floor: float, name: str, version: str, decision: PromotionDecision
) -> PromotionDecision:
    """Refuse a challenger whose least favoured group's impact ratio is under ``floor``."""
    measured = tracking.version_tag(name, version, tracking.FAIRNESS_TAG)
    if measured is None:
        return PromotionDecision(
            False,
            f"fairness.min_impact_ratio is {floor:g} but version {version} has no fairness "
            "measure: declare the protected attributes in data.protected and retrain",
        )
    if float(measured) < floor:
        return PromotionDecision(
            False,
            f"its lowest adverse-impact ratio is {float(measured):.3f}, under "
            f"fairness.min_impact_ratio {floor:g} (see fairness.csv in its run)",
        )
    return PromotionDecision(
        True, f"{decision.reason}; lowest impact ratio {float(measured):.3f} >= {floor:g}"
    )


def _oot_gate(floor: float, name: str, version: str, decision: PromotionDecision):
    """Refuse a challenger whose out-of-time AUC is under ``floor`` (or was not measured)."""
    measured = tracking.version_tag(name, version, tracking.OOT_TAG)
    if measured is None:
        return PromotionDecision(
            False,
            f"promotion.min_oot_auc is {floor:g} but version {version} has no out-of-time AUC: "
            "train with cv.out_of_time and data.time",
        )
    if float(measured) < floor:
        return PromotionDecision(
            False,
            f"its out-of-time AUC {float(measured):.4f} is under promotion.min_oot_auc "
            f"{floor:g} (see out_of_time.csv in its run)",
        )
    return PromotionDecision(
        True, f"{decision.reason}; out-of-time AUC {float(measured):.4f} >= {floor:g}"
    )


def promote(cfg: Config, allow_schema_change: bool = False) -> tuple[PromotionDecision, str]:
    """Gate the registered challenger against the configured minimum, the current champion
    and the champion's input contract (``allow_schema_change`` lets a changed one through).

    Returns the decision and the challenger's version. Assumes :func:`tracking.connect` ran.
    """
    name = cfg.tracking.model_name
    challenger = tracking.alias_version(name, tracking.CHALLENGER)
    if challenger is None:
        raise tracking.TrackingError(
            f"model '{name}' has no '{tracking.CHALLENGER}' version; run `delinq train` first"
        )
    current = tracking.alias_version(name, tracking.CHAMPION)
    if current == challenger:
        decision = PromotionDecision(
            False, f"version {challenger} is already the champion", already=True
        )
        return decision, challenger
    challenger_auc = tracking.version_auc(name, challenger)
    if challenger_auc is None:
        raise tracking.TrackingError(f"version {challenger} of '{name}' has no recorded CV AUC")
    champion_auc = tracking.version_auc(name, current) if current else None
    high = None
    if cfg.promotion.compare == "interval":
        interval = tracking.version_auc_interval(name, challenger)
        if interval is None:
            raise tracking.TrackingError(
                f"promotion.compare is 'interval' but version {challenger} of '{name}' has no "
                "AUC interval (trained with cv.bootstrap: 0); retrain or compare by point"
            )
        high = interval[1]
    decision = promotion_decision(
        challenger_auc, champion_auc, cfg.promotion.min_auc, cfg.promotion.tolerance, high
    )
    few = tracking.version_tag(name, challenger, tracking.FEW_BADS_TAG)
    if few:
        decision = PromotionDecision(
            False, f"it was trained with --allow-few-bads ({few}); such a version is never promoted"
        )
    if decision.promote:
        decision = _speed_gate(cfg, name, challenger, decision)
    if decision.promote and cfg.fairness.min_impact_ratio is not None:
        decision = _fairness_gate(cfg.fairness.min_impact_ratio, name, challenger, decision)
    if decision.promote and cfg.promotion.min_oot_auc is not None:
        decision = _oot_gate(cfg.promotion.min_oot_auc, name, challenger, decision)
    changes = _schema_changes(name, current, challenger) if decision.promote and current else []
    if changes and not allow_schema_change:
        decision = PromotionDecision(
            False,
            f"its inputs differ from the champion's (version {current}): "
            + "; ".join(changes)
            + ". The nightly book is built for the champion's inputs; promote with "
            "--allow-schema-change once it carries the new ones",
        )
    if decision.promote:
        tracking.verify_version(name, challenger)  # a tampered challenger never becomes champion
        if changes:
            text = f"from version {current}: " + "; ".join(changes)
            tracking.set_version_tag(name, challenger, tracking.SCHEMA_CHANGE_TAG, text[:5000])
            decision = PromotionDecision(True, f"{decision.reason}; inputs changed ({text})")
        tracking.set_alias(name, tracking.CHAMPION, challenger)
    _record(name, challenger, decision, current)
    return decision, challenger


def _record(name: str, version: str, decision: PromotionDecision, previous: str | None) -> None:
    """Write the decision on the version, for the model card and any later reader."""
    import datetime as dt

    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    values = (
        "promoted" if decision.promote else "refused",
        now,
        decision.reason[:5000],
        (previous or "none") if decision.promote else "",
    )
    for tag, value in zip(tracking.PROMOTION_TAGS, values, strict=True):
        if value:
            tracking.set_version_tag(name, version, tag, value)
