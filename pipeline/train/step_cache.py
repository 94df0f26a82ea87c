"""The cross-validation's step cache: each shared pipeline step fitted once per fold."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import joblib
import numpy as np
import pandas as pd


def content_key(data) -> str | None:
    """A digest of what ``data`` holds (values, index, columns, dtypes), not how it is laid out.

    joblib hashes an array with its strides, and a frame read back from the cache is laid out
    differently from the same frame made fresh, so the step after a cache hit always missed.
    """
    if data is None:
        return None
    if isinstance(data, pd.DataFrame | pd.Series):
        rows = pd.util.hash_pandas_object(data, index=True).to_numpy()
        if isinstance(data, pd.DataFrame):
            layout = repr((list(data.columns), list(map(str, data.dtypes))))
        else:
            layout = repr((data.name, str(data.dtype)))
        return hashlib.sha1(rows.tobytes() + layout.encode()).hexdigest()
    if isinstance(data, np.ndarray) and data.dtype != object:
        digest = hashlib.sha1(np.ascontiguousarray(data).tobytes())
        digest.update(repr((data.shape, str(data.dtype))).encode())
        return digest.hexdigest()
    return joblib.hash(data)


def _fit_step(step: Callable, transformer, key, X, y, **kwargs):
    return step(transformer, X, y, **kwargs)


class StepCache(joblib.Memory):
    """A ``joblib.Memory`` for pipelines that knows their inputs by :func:`content_key`.

    The families of a run share one: on a fold, the features, the preprocessing of each kind
    and the selection are then fitted once, whichever family gets there first.
    """

    def cache(self, func=None, **kwargs):
        """``func(transformer, X, y, ...)``, as a pipeline calls its fit step, memoised."""
        if func is None:
            return super().cache(func, **kwargs)
        memorized = super().cache(_fit_step, ignore=["X", "y"])

        def call(transformer, X, y=None, *args, **kw):
            key = (content_key(X), content_key(y))
            return memorized(func, transformer, key, X, y, *args, **kw)

        return call
