"""What a model expects at scoring time, saved with it at training time.

The scoring reference holds the input schema (columns, numeric or categorical, known levels,
allowed codes, sign), the id column, and drift bins (deciles of every input and of the score
on the training data) for the population stability index (PSI).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numba
import numpy as np
import pandas as pd

REFERENCE_FILE = "scoring_reference.json"
MAX_LEVELS = 50
MIN_LEVEL_ROWS = 10
_EPS = 1e-4


def _numeric_bins(values: np.ndarray) -> dict:
    finite = values[np.isfinite(values)]
    edges = (
        np.unique(np.quantile(finite, np.linspace(0.1, 0.9, 9))) if len(finite) else np.array([])
    )
    counts = bin_counts_numeric(values, edges)
    return {"edges": edges.tolist(), "expected": (counts / counts.sum()).tolist()}


def bin_counts_numeric(values: np.ndarray, edges) -> np.ndarray:
    """Counts per decile bin, plus a last bin for missing values."""
    values = np.asarray(values, dtype=float)
    missing = np.isnan(values)
    counts = np.bincount(
        np.searchsorted(np.asarray(edges, dtype=float), values[~missing], side="right"),
        minlength=len(edges) + 1,
    )
    return np.append(counts, missing.sum()).astype(float)


def bin_counts_columns(X: np.ndarray, edges: list[list[float]]) -> list[np.ndarray]:
    """:func:`bin_counts_numeric` of every column of ``X``, each against its own edges."""
    width = max((len(e) for e in edges), default=0)
    padded = np.full((len(edges), max(width, 1)), np.inf)
    for j, e in enumerate(edges):
        padded[j, : len(e)] = e
    n_edges = np.array([len(e) for e in edges], dtype=np.int64)
    counts = _bin_columns(np.asarray(X, dtype=np.float64), padded, n_edges)
    return [np.append(counts[j, : n + 1], counts[j, -1]) for j, n in enumerate(n_edges)]


# One pass over the rows for every column at once: the nightly scorer bins every input of
# every account, and per-column searchsorted passes cost more than the model.
@numba.njit(cache=True, nogil=True)
def _bin_columns(X, edges, n_edges):
    counts = np.zeros((X.shape[1], edges.shape[1] + 2))
    for j in range(X.shape[1]):
        for r in range(X.shape[0]):
            v = X[r, j]
            if np.isnan(v):
                counts[j, -1] += 1  # the missing bin
                continue
            b = 0
            while b < n_edges[j] and v >= edges[j, b]:  # side="right": a value on an edge goes up
                b += 1
            counts[j, b] += 1
    return counts


def level_hash(value: str) -> str:
    """A short digest of a category level: lets scoring spot unseen levels without storing them."""
    return hashlib.sha256(str(value).encode()).hexdigest()[:16]


def count_unseen(values: pd.Series, known_hashes: set[str]) -> int:
    """How many non-missing values are levels the training data never had."""
    uniques = values.dropna().unique()
    unseen = [u for u in uniques if level_hash(u) not in known_hashes]
    return int(values.isin(unseen).sum()) if unseen else 0


def bin_counts_categorical(values: pd.Series, levels: list[str]) -> np.ndarray:
    """Counts per known level, plus 'other' and 'missing' bins."""
    values = pd.Categorical(values)  # a no-op for categorical input (the scorer's)
    per_value = np.bincount(values.codes[values.codes >= 0], minlength=len(values.categories))
    index = pd.Index(levels).get_indexer(values.categories.astype(object))  # -1: not a level
    counts = np.zeros(len(levels))
    np.add.at(counts, index[index >= 0], per_value[index >= 0])
    other = per_value[index < 0].sum()
    return np.append(counts, [other, (values.codes < 0).sum()])


def build_reference(
    X: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    scores: np.ndarray,
    id_column: str | None,
    history: dict | None,
) -> dict:
    """The scoring reference of a model trained on ``X`` that scored ``scores`` on it.

    ``history`` is the training config's history block (its status columns get code sets).
    """
    code_columns = history["status"] if history else []
    columns = []
    for col in X.columns:
        if col in categorical:
            counts = X[col].value_counts()
            # Only levels shared by many rows: a free-text column must not leak a person's value.
            levels = [str(v) for v in counts[counts >= MIN_LEVEL_ROWS].index[:MAX_LEVELS]]
            expected = bin_counts_categorical(X[col], levels)
            columns.append(
                {
                    "name": col,
                    "kind": "categorical",
                    "levels": levels,
                    "known": sorted(level_hash(v) for v in counts.index),
                    "drift": {"expected": (expected / expected.sum()).tolist()},
                }
            )
            continue
        values = X[col].to_numpy(dtype=float)
        entry = {"name": col, "kind": "numeric", "drift": _numeric_bins(values)}
        finite = values[np.isfinite(values)]
        entry["non_negative"] = bool(len(finite) and finite.min() >= 0)
        if col in code_columns and len(finite) and np.all(finite == np.round(finite)):
            # Status codes: whole numbers from the lowest code seen up. Rarer, later codes
            # (nine months late) are valid even when training never saw them.
            entry["code_min"] = int(finite.min())
        columns.append(entry)
    return {
        "id": id_column,
        "history": history,
        "columns": columns,
        "score_drift": _numeric_bins(np.asarray(scores, dtype=float)),
    }


def psi(expected: np.ndarray, actual_counts: np.ndarray) -> float:
    """Population stability index of observed counts against expected proportions."""
    expected = np.clip(np.asarray(expected, dtype=float), _EPS, None)
    total = actual_counts.sum()
    if total == 0:
        return 0.0
    actual = np.clip(actual_counts / total, _EPS, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def write_reference(reference: dict, directory: Path) -> Path:
    """Write the reference as JSON into ``directory``; return the file."""
    path = Path(directory) / REFERENCE_FILE
    path.write_text(json.dumps(reference, indent=1))
    return path


def read_reference(directory: Path) -> dict:
    """Read the reference saved beside a model."""
    return json.loads((Path(directory) / REFERENCE_FILE).read_text())
