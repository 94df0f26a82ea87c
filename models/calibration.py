"""Probability calibration of a refitted champion from its out-of-fold predictions."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.utils.validation import check_is_fitted, column_or_1d

from delinq.models.svm import binary_classes

EPS = 1e-6


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, EPS, 1 - EPS)
    return np.log(p / (1 - p))


class OOFCalibratedClassifier(ClassifierMixin, BaseEstimator):
    """A classifier refitted on all rows plus a calibrator learned on out-of-fold scores.

    Equivalent to ``CalibratedClassifierCV(ensemble=False)``, but it can reuse the
    out-of-fold probabilities that model comparison already produced, so the champion costs
    one more fit instead of ``k + 1``.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        The model to refit and calibrate (a whole pipeline).
    method : {"sigmoid", "isotonic"}
        ``sigmoid`` (Platt scaling on the log-odds) keeps the ranking strictly; ``isotonic``
        is more flexible but flattens scores into steps.
    cv : int
        Folds for out-of-fold scores when ``fit`` is not given them.
    """

    def __init__(self, estimator=None, method: str = "sigmoid", cv: int = 5):
        self.estimator = estimator
        self.method = method
        self.cv = cv

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X, y, oof_proba: np.ndarray | None = None):
        """Refit ``estimator`` on ``X, y``; calibrate on ``oof_proba`` (computed if absent)."""
        y = column_or_1d(np.asarray(y), warn=True)
        binary_classes(y)
        if self.method not in ("sigmoid", "isotonic"):
            raise ValueError(f"method must be 'sigmoid' or 'isotonic', got {self.method!r}")
        if oof_proba is None:
            folds = StratifiedKFold(self.cv, shuffle=True, random_state=0)
            oof_proba = cross_val_predict(
                clone(self.estimator), X, y, cv=folds, method="predict_proba"
            )[:, 1]
        self.estimator_ = clone(self.estimator).fit(X, y)
        self.classes_ = self.estimator_.classes_
        self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        if self.method == "isotonic":
            self.calibrator_ = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip")
            self.calibrator_.fit(oof_proba, y)
        else:
            self.calibrator_ = LogisticRegression(C=1e6).fit(_logit(oof_proba)[:, None], y)
        return self

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Calibrated probability of the positive class from the refitted model's own."""
        check_is_fitted(self)
        if self.method == "isotonic":
            return self.calibrator_.predict(raw)
        return self.calibrator_.predict_proba(_logit(raw)[:, None])[:, 1]

    def predict_proba(self, X) -> np.ndarray:
        """Calibrated probabilities of each class."""
        check_is_fitted(self)
        p = self.calibrate(self.estimator_.predict_proba(X)[:, 1])
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        """Class with the higher calibrated probability."""
        positive = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[positive.astype(int)]
