"""Inner cross-validation for hyper-parameter search."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import StratifiedKFold, train_test_split


class SubsampledStratifiedKFold:
    """Stratified k-fold over a stratified subsample of at most ``max_rows`` rows.

    Used as the inner CV of the nested search: ranking hyper-parameters settles on a few
    thousand rows, so the search costs the same on a 30,000- or a 3-million-row table. Indices
    refer to the full input, so the search refits its best candidate on every row.
    """

    def __init__(self, n_splits: int = 3, max_rows: int = 8_000, random_state: int = 0):
        self.n_splits = n_splits
        self.max_rows = max_rows
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        """Number of splits."""
        return self.n_splits

    def split(self, X, y, groups=None):
        """Yield ``(train, test)`` index arrays into ``X``."""
        rows = np.arange(len(y))
        if len(rows) > self.max_rows:
            rows, _ = train_test_split(
                rows, train_size=self.max_rows, stratify=y, random_state=self.random_state
            )
            rows = np.sort(rows)
        inner = StratifiedKFold(self.n_splits, shuffle=True, random_state=self.random_state)
        for train, test in inner.split(rows, np.asarray(y)[rows]):
            yield rows[train], rows[test]
