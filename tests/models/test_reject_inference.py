"""Reject inference: what each method infers, and that it helps where rejects are worse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from delinq.models.reject_inference import fit_with_inference, infer_rejects


def _population(n=6_000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    y = (rng.random(n) < 1 / (1 + np.exp(-(X["a"] - 1.0)))).astype(int)
    accepted = X["a"].to_numpy() < 0.3
    return X, y, accepted


def test_each_method_labels_the_rejects_as_stated():
    X, y, acc = _population()
    model = LogisticRegression()
    base = LogisticRegression().fit(X[acc], y[acc])
    p_rej = base.predict_proba(X[~acc])[:, 1]
    n_acc, n_rej = int(acc.sum()), int((~acc).sum())

    Xf, yf, wf, fuzzy = infer_rejects(model, X[acc], y[acc], X[~acc], "fuzzy", uplift=1.2)
    assert len(Xf) == n_acc + 2 * n_rej and wf[:n_acc].tolist() == [1.0] * n_acc
    # Each reject weighs one in all, split between bad and good by its PD (times the uplift).
    assert np.allclose(wf[n_acc : n_acc + n_rej] + wf[n_acc + n_rej :], 1.0)
    assert fuzzy == pytest.approx(np.minimum(p_rej * 1.2, 1).mean())

    _, yh, _, hard = infer_rejects(model, X[acc], y[acc], X[~acc], "hard_cutoff")
    assert (yh[n_acc:] == (p_rej > y[acc].mean())).all() and hard == yh[n_acc:].mean()

    _, yp, _, parcel = infer_rejects(model, X[acc], y[acc], X[~acc], "parcelling", uplift=1.0)
    # Rejects score like the worst accepted bands, so their share of bads is well above the
    # accepts' and close to those bands' bad rate.
    p_acc = base.predict_proba(X[acc])[:, 1]
    worst = y[acc][p_acc >= p_rej.min()].mean()  # the accepts scored like some reject
    assert parcel > y[acc].mean() and abs(parcel - worst) < 0.15
    again = infer_rejects(model, X[acc], y[acc], X[~acc], "parcelling", uplift=1.0)[1]
    assert (again == yp).all()  # seeded

    Xa, ya, wa, none = infer_rejects(model, X[acc], y[acc], X[~acc], "accepts_only")
    assert len(Xa) == n_acc and np.isnan(none)
    with pytest.raises(ValueError, match="unknown reject-inference method"):
        infer_rejects(model, X[acc], y[acc], X[~acc], "magic")


def test_fitting_passes_weights_through_a_pipeline():
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, acc = _population()
    model, inferred = fit_with_inference(
        make_pipeline(StandardScaler(), LogisticRegression()), X[acc], y[acc], X[~acc], "fuzzy"
    )
    assert 0 < inferred < 1 and model.predict_proba(X).shape == (len(X), 2)


def test_where_rejects_are_worse_than_they_look_inference_beats_accepts_only():
    from delinq.pipeline.train.reject_inference import best_method, compare_methods

    table = compare_methods(rows=8_000, accept_rate=0.6, seed=0, judgement=2.0)
    auc = table["auc_through_the_door"]
    assert auc["hard_cutoff"] > auc["accepts_only"]
    truth = table["true_reject_bad_rate"].iloc[0]
    assert truth > 0.3 and table["bad_rate_error"]["hard_cutoff"] < 0.15
    assert best_method(table) != "accepts_only"
