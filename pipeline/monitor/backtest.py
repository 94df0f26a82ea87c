"""Backtests: a night's predicted PDs against the outcomes that have since matured.

Per grade: accounts, mean predicted PD, realised bad rate, and two one-sided tests of whether
the PD was too low (the direction that costs a lender): the exact binomial test and the
Jeffreys test (the ECB's test for PD back-testing: the Beta(bads + 1/2, goods + 1/2)
posterior's probability that the true rate is at or below the predicted one). Each grade gets
a traffic light from the Jeffreys p-value. Over the cohort: AUC, KS and Gini against the
development figures, and the calibration slope and intercept (a logistic regression of the
outcome on the logit of the PD: 1 and 0 when calibrated). Pure functions over arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

# Jeffreys p-value thresholds of the traffic light (one-sided: PD underestimated).
RED_BELOW, AMBER_BELOW = 0.01, 0.05
LIGHTS = ("green", "amber", "red")


def light(p_value: float) -> str:
    """green at p ≥ 0.05, amber at 0.01 ≤ p < 0.05, red below 0.01."""
    if p_value < RED_BELOW:
        return "red"
    return "amber" if p_value < AMBER_BELOW else "green"


def grade_tests(
    grade: np.ndarray, pd_: np.ndarray, bad: np.ndarray, order: list[str]
) -> pd.DataFrame:
    """One row per grade (in ``order``, best first) that has matured accounts."""
    rows = []
    for g in order:
        inside = grade == g
        n = int(inside.sum())
        if not n:
            continue
        d, mean_pd = int(bad[inside].sum()), float(pd_[inside].mean())
        binomial = stats.binomtest(d, n, min(max(mean_pd, 1e-12), 1 - 1e-12), "greater").pvalue
        jeffreys = float(stats.beta.cdf(mean_pd, d + 0.5, n - d + 0.5))
        rows.append(
            {
                "grade": g,
                "accounts": n,
                "bads": d,
                "mean_pd": mean_pd,
                "bad_rate": d / n,
                "binomial_p": float(binomial),
                "jeffreys_p": jeffreys,
                "light": light(jeffreys),
            }
        )
    return pd.DataFrame(rows)


def ks(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov-Smirnov separation of the bads' and goods' PDs."""
    return float(stats.ks_2samp(p[y == 1], p[y == 0]).statistic)


def calibration(y: np.ndarray, p: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) of the outcome regressed on logit(PD); (1, 0) is calibrated."""
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    logit = np.log(clipped / (1 - clipped)).reshape(-1, 1)
    fit = LogisticRegression(C=np.inf).fit(logit, y)  # unpenalised
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def cohort_summary(y: np.ndarray, p: np.ndarray, development_auc: float | None) -> dict:
    """AUC, KS, Gini and calibration of the matured cohort, beside the development AUC."""
    both = 0 < y.sum() < len(y)
    auc = float(roc_auc_score(y, p)) if both else None
    slope, intercept = calibration(y, p) if both else (None, None)
    return {
        "accounts": int(len(y)),
        "bad_rate": float(y.mean()) if len(y) else None,
        "mean_pd": float(p.mean()) if len(p) else None,
        "auc": auc,
        "gini": 2 * auc - 1 if auc is not None else None,
        "ks": ks(y, p) if both else None,
        "development_auc": development_auc,
        "development_gini": 2 * development_auc - 1 if development_auc is not None else None,
        "auc_change": auc - development_auc if None not in (auc, development_auc) else None,
        "calibration_slope": slope,
        "calibration_intercept": intercept,
    }


def overall_light(grades: pd.DataFrame) -> str:
    """The worst light of any grade."""
    if grades.empty:
        return "green"
    return max(grades["light"], key=LIGHTS.index)
