"""XGBoost that chooses its number of trees, and its depth, on a split of its own training rows."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
from sklearn.model_selection import train_test_split
from xgboost import XGBClassifier


class EarlyStoppingXGBClassifier(XGBClassifier):
    """An ``XGBClassifier`` whose ``n_estimators`` is a cap, the count chosen in ``fit``.

    ``fit`` carves a stratified, seeded validation split of ``validation_fraction`` from the
    rows it is given (in cross-validation: the training fold, never the held-out fold), grows
    trees until the validation log-loss has not improved for ``patience`` rounds, then refits
    on all its rows with that many trees, scaled up for the rows the split held back. With
    ``validation_fraction=0`` it is a plain ``XGBClassifier``.

    ``depth_candidates`` (e.g. ``(3, 6)``) grows each depth that way, in place of
    ``max_depth``, and keeps the one with the lower validation log-loss: the same split that
    counts the trees says whether the table wants shallow additive trees or deep interactions.

    ``monotone`` maps an input's name to +1 (the risk may only rise with it) or -1 (only
    fall); XGBoost's ``monotone_constraints`` are set from it for the columns ``fit`` is given,
    by name, so a column that selection dropped is simply not constrained.

    Attributes
    ----------
    best_n_estimators_ : int
        The number of trees of the final model.
    best_depth_ : int | None
        Its tree depth.
    """

    def __init__(
        self,
        *,
        validation_fraction: float = 0.15,
        patience: int = 50,
        depth_candidates: tuple[int, ...] | None = None,
        monotone: dict[str, int] | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.depth_candidates = depth_candidates
        self.monotone = monotone

    def fit(self, X, y, **kwargs):
        """Choose the number of trees (and depth) on a validation split, then fit on every row."""
        if self.monotone:
            names = [str(c) for c in getattr(X, "columns", [])]
            if not names:
                raise ValueError("monotone constraints need named columns (a DataFrame)")
            signs = [int(self.monotone.get(name, 0)) for name in names]
            self.set_params(monotone_constraints="(" + ",".join(map(str, signs)) + ")")
            # The booster gets positions, not names: XGBoost refuses names with "<" or "["
            # (one-hot levels such as "... < 0 DM"), and scoring hands it arrays.
            X = X.to_numpy(dtype=float)
        cap, depth = self.n_estimators, self.max_depth
        if not self.validation_fraction:
            super().fit(X, y, **kwargs)
            self.best_n_estimators_, self.best_depth_ = cap, depth
            return self
        X_fit, X_val, y_fit, y_val = train_test_split(
            X, y, test_size=self.validation_fraction, stratify=y, random_state=self.random_state
        )
        try:
            best = None  # (validation log-loss, depth, trees)
            for candidate in self.depth_candidates or (depth,):
                self.set_params(early_stopping_rounds=self.patience, max_depth=candidate)
                super().fit(X_fit, y_fit, eval_set=[(X_val, y_val)], verbose=False)
                if best is None or self.best_score < best[0]:
                    best = (self.best_score, candidate, self.best_iteration + 1)
            _, chosen, grown = best
            trees = min(cap, math.ceil(grown / (1 - self.validation_fraction)))
            self.set_params(early_stopping_rounds=None, n_estimators=trees, max_depth=chosen)
            super().fit(X, y, **kwargs)
        finally:  # the parameters stay as given: clone() and get_params() see the cap
            self.set_params(early_stopping_rounds=None, n_estimators=cap, max_depth=depth)
        self.best_n_estimators_, self.best_depth_ = trees, chosen
        return self

    def get_xgb_params(self) -> dict:
        """The booster's parameters, without this wrapper's own."""
        params = super().get_xgb_params()
        for own in ("validation_fraction", "patience", "depth_candidates", "monotone"):
            params.pop(own, None)
        return params


def fold_consensus(grown: list[tuple[int, int, int]], rows: int, cap: int) -> dict:
    """XGBoost parameters for one fit on ``rows`` rows, from what early stopping chose per
    cross-validation fold: ``grown`` holds (trees, depth, training rows) of each fold.

    The depth most folds chose (the shallower on a tie) and the median of those folds' tree
    counts, scaled to ``rows`` as :class:`EarlyStoppingXGBClassifier` scales its split's:
    five splits agree better than one, and the champion costs one fit instead of three.
    """
    votes = Counter(depth for _, depth, _ in grown)
    depth = min(votes, key=lambda d: (-votes[d], d))
    scaled = [trees * rows / fold_rows for trees, d, fold_rows in grown if d == depth]
    return {
        "max_depth": depth,
        "n_estimators": int(min(cap, math.ceil(np.median(scaled)))),
        "depth_candidates": None,
        "validation_fraction": 0.0,
    }
