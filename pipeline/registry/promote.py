"""Moving the ``champion`` alias to the ``challenger`` when the promotion gates pass."""

from __future__ import annotations

from delinq.models.champion import PromotionDecision, promotion_decision
from delinq.pipeline.config import Config
from delinq.pipeline.registry import tracking


def promote(cfg: Config) -> tuple[PromotionDecision, str]:
    """Gate the registered challenger against the configured minimum and the current champion.

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
    if decision.promote:
        tracking.set_alias(name, tracking.CHAMPION, challenger)
    return decision, challenger
