"""The nested hyper-parameter search: its inner cross-validation and the tuned estimator."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.model_selection import check_cv, cross_val_score, train_test_split

from delinq.models.folds import GroupedStratifiedKFold


def duplicate_groups(X: pd.DataFrame) -> tuple[np.ndarray, int]:
    """A group id per row (rows with identical inputs share one) and how many rows repeat.

    A row "repeats" when another row has exactly the same inputs (the id is not an input).
    """
    keys = pd.util.hash_pandas_object(pd.DataFrame(X), index=False).to_numpy()
    groups, counts = np.unique(keys, return_inverse=True, return_counts=True)[1:]
    return groups, int((counts[groups] > 1).sum())


class SubsampledStratifiedKFold:
    """Stratified k-fold over a stratified subsample of ``max_rows`` rows, or of as many as
    hold ``min_positives`` positives when the target is rare.

    Used as the inner CV of the nested search: ranking hyper-parameters settles on a few
    thousand rows, so the search costs the same on a 30,000- or a 3-million-row table. But it
    settles on positives, not rows: 8,000 rows of card_approval (1.7 % bad) hold 45 bads per
    inner fold, too few to rank anything, and the search picked settings that lost. Indices
    refer to the full input, so the search refits its best candidate on every row. Rows with
    identical inputs stay in one fold: split across folds they reward settings that memorise
    them (card_approval, 89 % repeated rows).
    """

    def __init__(
        self,
        n_splits: int = 3,
        max_rows: int = 8_000,
        random_state: int = 0,
        min_positives: int = 600,
    ):
        self.n_splits = n_splits
        self.max_rows = max_rows
        self.random_state = random_state
        self.min_positives = min_positives

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Number of splits."""
        return self.n_splits

    def split(self, X, y, groups=None):
        """Yield ``(train, test)`` index arrays into ``X``."""
        rows = np.arange(len(y))
        positives = max(int(np.sum(y)), 1)
        keep = max(self.max_rows, int(np.ceil(self.min_positives * len(rows) / positives)))
        if len(rows) > keep:
            rows, _ = train_test_split(
                rows, train_size=keep, stratify=y, random_state=self.random_state
            )
            rows = np.sort(rows)
        groups = duplicate_groups(pd.DataFrame(X).iloc[rows])[0]
        inner = GroupedStratifiedKFold(self.n_splits, shuffle=True, random_state=self.random_state)
        for train, test in inner.split(rows, np.asarray(y)[rows], groups):
            yield rows[train], rows[test]


# A search dimension: a list of choices, or (kind, low, high) with kind "int", "float" or "log"
# (a float drawn on a log scale).
Dimension = list | tuple


def _suggest(trial, name: str, dim: Dimension):
    if isinstance(dim, list):
        return trial.suggest_categorical(name, dim)
    kind, low, high = dim
    if kind == "int":
        return trial.suggest_int(name, low, high)
    return trial.suggest_float(name, low, high, log=kind == "log")


class TunedClassifier(ClassifierMixin, BaseEstimator):
    """A pipeline whose classifier is tuned by Optuna on an inner CV of its training rows.

    The pipeline's own defaults are scored first and kept unless a trial beats them by more
    than one standard error of their per-fold difference: on a small table the inner folds are
    noisy, and a search that takes the best mean replaced good defaults by worse settings
    (German: -0.01 AUC, docs/benchmarks.md). Trials are drawn
    by a seeded TPE (or random) sampler, ``n_trials`` of them, stopping early after
    ``timeout`` seconds (a time cap: when it binds, a re-run may try fewer trials).

    Parameters
    ----------
    estimator : Pipeline
        The unfitted pipeline; its last step is named ``clf``.
    space : dict
        Classifier parameter -> :data:`Dimension`.
    n_trials, timeout : int, float or None
        Trials after the defaults, and the wall-clock cap in seconds (``None``: none).
    cv : splitter
        The inner CV (e.g. :class:`SubsampledStratifiedKFold`).
    sampler : {"tpe", "random"}
    random_state : int
    n_jobs : int
        Parallel inner folds.

    Attributes
    ----------
    best_params_ : dict
        The winning ``clf__*`` parameters; ``{}`` when the defaults won.
    best_estimator_ : Pipeline
        The pipeline with ``best_params_``, refitted on every row.
    cv_results_ : dict
        ``params`` and ``mean_test_score`` of every candidate, the defaults first.
    """

    def __init__(
        self,
        estimator,
        space: dict,
        n_trials: int = 8,
        timeout: float | None = None,
        cv=None,
        sampler: str = "tpe",
        random_state: int = 0,
        n_jobs: int = 1,
    ):
        self.estimator = estimator
        self.space = space
        self.n_trials = n_trials
        self.timeout = timeout
        self.cv = cv
        self.sampler = sampler
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _scores(self, params: dict, X, y, splits: list) -> np.ndarray:
        model = clone(self.estimator).set_params(**params)
        return cross_val_score(model, X, y, cv=splits, scoring="roc_auc", n_jobs=self.n_jobs)

    def fit(self, X, y):
        """Score the defaults and ``n_trials`` candidates on the inner CV; refit the best."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        kind = (
            optuna.samplers.TPESampler if self.sampler == "tpe" else optuna.samplers.RandomSampler
        )
        study = optuna.create_study(direction="maximize", sampler=kind(seed=self.random_state))
        # Every candidate is scored on the same inner folds; split once, not once a trial.
        splits = list(check_cv(self.cv, y, classifier=True).split(X, y))
        tried = [({}, self._scores({}, X, y, splits))]

        def objective(trial) -> float:
            params = {f"clf__{k}": _suggest(trial, k, dim) for k, dim in self.space.items()}
            tried.append((params, self._scores(params, X, y, splits)))
            return float(tried[-1][1].mean())

        if self.n_trials:
            study.optimize(objective, n_trials=self.n_trials, timeout=self.timeout)
        best = max(range(1, len(tried)), key=lambda i: tried[i][1].mean(), default=0)
        gain = tried[best][1] - tried[0][1]  # per inner fold, the same folds
        noise = gain.std(ddof=1) / np.sqrt(len(gain)) if len(gain) > 1 else 0.0
        self.best_params_ = tried[best][0] if gain.mean() > noise else {}
        self.cv_results_ = {
            "params": [p for p, _ in tried],
            "mean_test_score": np.array([s.mean() for _, s in tried]),
        }
        self.best_estimator_ = clone(self.estimator).set_params(**self.best_params_).fit(X, y)
        self.classes_ = self.best_estimator_.classes_
        return self

    def predict_proba(self, X):
        """Class probabilities of the refitted best pipeline."""
        return self.best_estimator_.predict_proba(X)

    def predict(self, X):
        """Classes of the refitted best pipeline."""
        return self.best_estimator_.predict(X)
