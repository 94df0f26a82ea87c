"""Out-of-fold calibration of the refitted champion."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split

from delinq.models.calibration import OOFCalibratedClassifier


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((4_000, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.standard_normal(4_000) > 1.2).astype(int)
    return train_test_split(X, y, test_size=0.5, random_state=seed)


@pytest.mark.parametrize("method", ["sigmoid", "isotonic"])
def test_calibration_fixes_reweighted_probabilities(method):
    X_tr, X_te, y_tr, y_te = _data()
    skewed = LogisticRegression(class_weight="balanced")  # over-predicts the minority class
    raw = skewed.fit(X_tr, y_tr).predict_proba(X_te)[:, 1]
    model = OOFCalibratedClassifier(LogisticRegression(class_weight="balanced"), method).fit(
        X_tr, y_tr
    )
    p = model.predict_proba(X_te)[:, 1]
    assert brier_score_loss(y_te, p) < brier_score_loss(y_te, raw) - 0.01
    assert abs(p.mean() - y_te.mean()) < 0.03
    if method == "sigmoid":  # strictly monotone: the ranking is untouched
        assert roc_auc_score(y_te, p) == pytest.approx(roc_auc_score(y_te, raw))


def test_given_oof_scores_are_used():
    X_tr, _, y_tr, _ = _data()
    constant = np.full(len(y_tr), 0.5)
    model = OOFCalibratedClassifier(LogisticRegression(), "isotonic").fit(X_tr, y_tr, constant)
    # a calibrator fitted on constant scores can only return the base rate
    assert np.allclose(model.predict_proba(X_tr)[:, 1], y_tr.mean())
