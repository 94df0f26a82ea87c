"""The champion as MLflow's own clients call it: on the raw loan table, as pandas reads it.

``mlflow.pyfunc`` and ``mlflow models predict`` hand the model the columns of a file as pandas
read them: integer amounts, numeric codes for declared categoricals, missing values anywhere.
:class:`RawInputClassifier` coerces those to the types training used (the same rule as
``delinq score``) before the fitted model sees them. delinq's own commands unwrap it
(:func:`delinq.pipeline.registry.load.load_model_files`).
"""

from __future__ import annotations

import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from delinq.features.cleaning import coerce_types


class RawInputClassifier(ClassifierMixin, BaseEstimator):
    """A fitted classifier that takes raw table columns and coerces them first.

    Parameters
    ----------
    model : fitted classifier
        The calibrated champion.
    columns : list of str
        The model's input columns, in training order.
    categorical : list of str
        Those of them that are categorical (the rest are numeric).
    """

    def __init__(self, model, columns: list[str], categorical: list[str]):
        self.model = model
        self.columns = columns
        self.categorical = categorical

    def __sklearn_is_fitted__(self) -> bool:
        return True

    @property
    def classes_(self):
        """The wrapped model's classes."""
        return self.model.classes_

    def fit(self, X, y=None):
        """Not refitted here: the wrapped model is the trained champion."""
        raise NotImplementedError("train with `delinq train`; this wraps a fitted model")

    def _inputs(self, X) -> pd.DataFrame:
        frame = pd.DataFrame(X)
        missing = [c for c in self.columns if c not in frame.columns]
        if missing:
            raise ValueError(f"input lacks the model's column(s): {', '.join(missing)}")
        numeric = [c for c in self.columns if c not in self.categorical]
        return coerce_types(frame[self.columns], numeric, self.categorical)

    def predict_proba(self, X):
        """Class probabilities of raw rows."""
        return self.model.predict_proba(self._inputs(X))

    def predict(self, X):
        """Most probable class of raw rows."""
        return self.model.predict(self._inputs(X))
