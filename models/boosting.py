"""XGBoost that chooses its number of trees by early stopping on its own training rows."""

from __future__ import annotations

import math

from sklearn.model_selection import train_test_split
from xgboost import XGBClassifier


class EarlyStoppingXGBClassifier(XGBClassifier):
    """An ``XGBClassifier`` whose ``n_estimators`` is a cap, the count chosen in ``fit``.

    ``fit`` carves a stratified, seeded validation split of ``validation_fraction`` from the
    rows it is given (in cross-validation: the training fold, never the held-out fold), grows
    trees until the validation log-loss has not improved for ``patience`` rounds, then refits
    on all its rows with that many trees, scaled up for the rows the split held back. With
    ``validation_fraction=0`` it is a plain ``XGBClassifier``.

    Attributes
    ----------
    best_n_estimators_ : int
        The number of trees of the final model.
    """

    def __init__(self, *, validation_fraction: float = 0.15, patience: int = 50, **kwargs):
        super().__init__(**kwargs)
        self.validation_fraction = validation_fraction
        self.patience = patience

    def fit(self, X, y, **kwargs):
        """Choose the number of trees on a validation split, then fit on every row."""
        cap = self.n_estimators
        if not self.validation_fraction:
            super().fit(X, y, **kwargs)
            self.best_n_estimators_ = cap
            return self
        X_fit, X_val, y_fit, y_val = train_test_split(
            X, y, test_size=self.validation_fraction, stratify=y, random_state=self.random_state
        )
        try:
            self.set_params(early_stopping_rounds=self.patience)
            super().fit(X_fit, y_fit, eval_set=[(X_val, y_val)], verbose=False)
            trees = min(cap, math.ceil((self.best_iteration + 1) / (1 - self.validation_fraction)))
            self.set_params(early_stopping_rounds=None, n_estimators=trees)
            super().fit(X, y, **kwargs)
        finally:  # the parameters stay as given: clone() and get_params() see the cap
            self.set_params(early_stopping_rounds=None, n_estimators=cap)
        self.best_n_estimators_ = trees
        return self

    def get_xgb_params(self) -> dict:
        """The booster's parameters, without this wrapper's own."""
        params = super().get_xgb_params()
        for own in ("validation_fraction", "patience"):
            params.pop(own, None)
        return params
