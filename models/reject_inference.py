"""Reject inference (拒绝推断) for application scoring: learning from applicants never booked.

A model fitted on accepted loans only has never seen the applicants the old policy turned
away, who are riskier than any accepted band suggests. Each method below gives the rejects
inferred outcomes, then refits on accepts plus rejects:

- ``accepts_only``: no inference (the baseline every method must beat);
- ``parcelling``: rejects are scored by the accepts-only model and cut into score bands; in
  each band a seeded random share of them is labelled bad, that band's accepted bad rate times
  ``uplift`` (rejects are worse than accepts who score the same);
- ``fuzzy``: every reject enters twice, as bad with weight p and as good with weight 1 - p,
  p its accepts-only PD times ``uplift`` (at most 1);
- ``hard_cutoff``: rejects whose accepts-only PD is above the accepted bad rate are bad, the
  rest good.

:func:`infer_rejects` returns the augmented training rows; :func:`fit_with_inference` fits a
clone of any classifier that takes ``sample_weight``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone

METHODS = ("accepts_only", "parcelling", "fuzzy", "hard_cutoff")


def infer_rejects(
    estimator,
    X_accepts: pd.DataFrame,
    y_accepts: np.ndarray,
    X_rejects: pd.DataFrame,
    method: str,
    uplift: float = 1.5,
    bands: int = 10,
    seed: int = 0,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, float]:
    """(X, y, weights, inferred bad rate of the rejects) to fit on, by ``method``."""
    if method not in METHODS:
        raise ValueError(f"unknown reject-inference method {method!r} (known: {METHODS})")
    y_accepts = np.asarray(y_accepts, dtype=int)
    ones = np.ones(len(y_accepts))
    if method == "accepts_only" or len(X_rejects) == 0:
        return X_accepts, y_accepts, ones, float("nan")
    base = clone(estimator).fit(X_accepts, y_accepts)
    p_rej = base.predict_proba(X_rejects)[:, 1]
    if method == "fuzzy":
        p = np.minimum(p_rej * uplift, 1.0)
        X = pd.concat([X_accepts, X_rejects, X_rejects], ignore_index=True)
        y = np.concatenate([y_accepts, np.ones(len(p), int), np.zeros(len(p), int)])
        return X, y, np.concatenate([ones, p, 1 - p]), float(p.mean())
    if method == "hard_cutoff":
        bad = (p_rej > y_accepts.mean()).astype(int)
    else:  # parcelling
        p_acc = base.predict_proba(X_accepts)[:, 1]
        edges = np.unique(np.quantile(p_acc, np.linspace(0, 1, bands + 1)[1:-1]))
        band_acc, band_rej = np.digitize(p_acc, edges), np.digitize(p_rej, edges)
        rate = pd.Series(y_accepts).groupby(band_acc).mean()
        # A band no accepted loan fell in takes the worst band's rate.
        share = rate.reindex(band_rej).fillna(rate.iloc[-1]).to_numpy()
        draw = np.random.default_rng(seed).random(len(p_rej))
        bad = (draw < np.minimum(share * uplift, 1.0)).astype(int)
    X = pd.concat([X_accepts, X_rejects], ignore_index=True)
    y = np.concatenate([y_accepts, bad])
    return X, y, np.ones(len(y)), float(bad.mean())


def fit_with_inference(estimator, X_accepts, y_accepts, X_rejects, method: str, **options):
    """A clone of ``estimator`` fitted on the accepts and the rejects inferred by ``method``;
    returns (model, inferred bad rate of the rejects)."""
    X, y, weights, inferred = infer_rejects(
        estimator, X_accepts, y_accepts, X_rejects, method, **options
    )
    model = clone(estimator)
    step = model.steps[-1][0] if hasattr(model, "steps") else None
    key = f"{step}__sample_weight" if step else "sample_weight"
    return model.fit(X, y, **{key: weights}), inferred
