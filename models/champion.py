"""Choosing the champion among candidates and deciding promotion."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

LOWER_IS_BETTER = {"brier", "log_loss"}


def choose_champion(summary: pd.DataFrame, metric: str) -> str:
    """Family with the best cross-validated ``metric``; ties go to the simpler (earlier) row.

    ``summary`` is indexed by family with ``<metric>_mean`` columns.
    """
    column = f"{metric}_mean"
    if column not in summary:
        raise KeyError(f"metric {metric!r} not in the comparison table")
    scores = summary[column]
    return str(scores.idxmin() if metric in LOWER_IS_BETTER else scores.idxmax())


@dataclass(frozen=True)
class PromotionDecision:
    """Whether the challenger becomes champion, and why in words.

    ``already`` marks the no-op case: the challenger is the champion already (not a refusal).
    """

    promote: bool
    reason: str
    already: bool = False


def promotion_decision(
    challenger_auc: float,
    champion_auc: float | None,
    min_auc: float,
    tolerance: float,
    challenger_high: float | None = None,
) -> PromotionDecision:
    """Gate a challenger: reach ``min_auc`` and trail the champion by at most ``tolerance``.

    With ``challenger_high`` (the upper end of the challenger's AUC interval), the comparison
    with the champion uses it instead of the point estimate: a challenger is refused only
    when it is worse beyond its interval.
    """
    if challenger_auc < min_auc:
        return PromotionDecision(
            False, f"CV AUC {challenger_auc:.4f} is below the minimum {min_auc:.4f}"
        )
    compared = challenger_auc if challenger_high is None else challenger_high
    if champion_auc is not None and compared < champion_auc - tolerance:
        what = (
            "CV AUC" if challenger_high is None else "the upper end of the 95 % interval of CV AUC"
        )
        return PromotionDecision(
            False,
            f"{what} {compared:.4f} trails the current champion's {champion_auc:.4f} "
            f"by more than {tolerance:.4f}",
        )
    if champion_auc is None:
        return PromotionDecision(True, f"first champion (CV AUC {challenger_auc:.4f})")
    return PromotionDecision(
        True, f"CV AUC {challenger_auc:.4f} vs current champion {champion_auc:.4f}"
    )
