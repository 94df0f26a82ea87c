"""The scoring reference: what a model expects at scoring time, saved with it at training time.

This is the one contract between training and scoring. :class:`ScoringReference` is a frozen,
typed model, validated when it is read, like the config. It holds the input schema (columns,
numeric or categorical, sign, allowed status codes, the levels many rows share), the id column,
the history layout, drift bins (deciles of every input and of the score on the training data,
for the population stability index) and the explanation background (aggregates only).

The bin counting lives here too: training fills the bins, scoring counts a book into the same
bins (:mod:`delinq.pipeline.score.drift` turns the counts into PSI).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

import numba
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from delinq.pipeline.config import HistoryConfig

REFERENCE_FILE = "scoring_reference.json"
MAX_LEVELS = 50
MIN_LEVEL_ROWS = 10


class ScoringReferenceError(ValueError):
    """A registered model whose scoring reference is missing or does not validate."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Bins(_Frozen):
    """Drift bins: the share of training rows per bin (numeric: decile ``edges`` + missing)."""

    expected: list[float]
    edges: list[float] | None = None  # numeric inputs and the score; categories have levels


class InputSpec(_Frozen):
    """One model input as training saw it."""

    name: str
    kind: Literal["numeric", "categorical"]
    drift: Bins
    # Categorical: the most common levels (drift bins) and every level training saw, as the
    # model's encoder holds them. Columns that identify a person are never inputs
    # (delinq.pipeline.book.personal), so no level here is a name, a phone or an id.
    levels: list[str] = []
    seen: list[str] | None = None
    known: list[str] | None = None  # unsalted hashes of every level: references saved before
    # Numeric: negative values are rejected; status codes are whole numbers from code_min up.
    non_negative: bool = False
    code_min: int | None = None
    # The range training saw (numeric): past it a value is counted in the manifest and scored
    # or rejected as scoring.out_of_range says. Codes: the highest code 10+ rows held; other
    # numbers: 3x the median's distance to the 0.1th / 99.9th percentile. Never a row's value.
    low: float | None = None
    high: float | None = None


class ExplainBackground(_Frozen):
    """Aggregates of the training rows in model space: the linear and SVM SHAP backgrounds."""

    mean: list[float]
    centroids: list[list[float]]


class ScoringReference(_Frozen):
    """Everything scoring needs to know about a model's inputs, saved beside the model."""

    id: str | None
    history: HistoryConfig | None
    columns: list[InputSpec]
    score_drift: Bins
    explain: ExplainBackground | None = None
    # Protected attributes that are inputs (data.allow_protected_inputs): never reason codes.
    protected: list[str] = []

    @property
    def names(self) -> list[str]:
        """The model's input columns, in training order."""
        return [c.name for c in self.columns]

    @property
    def numeric(self) -> list[str]:
        """The numeric inputs."""
        return [c.name for c in self.columns if c.kind == "numeric"]

    @property
    def categorical(self) -> list[str]:
        """The categorical inputs."""
        return [c.name for c in self.columns if c.kind == "categorical"]


def _numeric_bins(values: np.ndarray) -> Bins:
    finite = values[np.isfinite(values)]
    edges = (
        np.unique(np.quantile(finite, np.linspace(0.1, 0.9, 9))) if len(finite) else np.array([])
    )
    counts = bin_counts_numeric(values, edges)
    return Bins(edges=edges.tolist(), expected=(counts / counts.sum()).tolist())


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


def _level_hash(value: str) -> str:
    return hashlib.sha256(str(value).encode()).hexdigest()[:16]


def count_unseen(values: pd.Series, spec: InputSpec) -> int | None:
    """How many non-missing values are levels training never had (``None``: no level list)."""
    if spec.seen is not None:
        known, key = set(spec.seen), str
    elif spec.known is not None:  # saved before the levels were kept as they are
        known, key = set(spec.known), _level_hash
    else:
        return None
    uniques = values.dropna().unique()
    unseen = [u for u in uniques if key(u) not in known]
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


_EPS = 1e-4


def psi(expected: np.ndarray, actual_counts: np.ndarray) -> float:
    """Population stability index of observed counts against expected proportions."""
    expected = np.clip(np.asarray(expected, dtype=float), _EPS, None)
    total = actual_counts.sum()
    if total == 0:
        return 0.0
    actual = np.clip(actual_counts / total, _EPS, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def frame_psi(reference: ScoringReference, X: pd.DataFrame, scores: np.ndarray) -> pd.Series:
    """PSI of every input of ``X`` and of ``scores`` ("score") against the reference's bins."""
    out = {}
    for spec in reference.columns:
        if spec.kind == "categorical":
            counts = bin_counts_categorical(X[spec.name], spec.levels)
        else:
            counts = bin_counts_numeric(X[spec.name].to_numpy(dtype=float), spec.drift.edges)
        out[spec.name] = psi(spec.drift.expected, counts)
    out["score"] = psi(
        reference.score_drift.expected,
        bin_counts_numeric(np.asarray(scores, dtype=float), reference.score_drift.edges),
    )
    return pd.Series(out, name="psi")


def build_reference(
    X: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    scores: np.ndarray,
    id_column: str | None,
    history: HistoryConfig | None,
    explain: dict | None = None,
    protected: list[str] | None = None,
) -> ScoringReference:
    """The scoring reference of a model trained on ``X`` that scored ``scores`` on it.

    ``history`` is the training config's history layout (its status columns get code sets);
    ``explain`` the explanation background
    (:func:`~delinq.pipeline.explain.explainer.background_stats`); ``protected`` the
    protected attributes (those among the inputs are never reason codes).
    """
    code_columns = history.status if history else []
    columns = []
    for col in X.columns:
        if col in categorical:
            counts = X[col].value_counts()
            shared = [str(v) for v in counts[counts >= MIN_LEVEL_ROWS].index]
            expected = bin_counts_categorical(X[col], shared[:MAX_LEVELS])
            columns.append(
                InputSpec(
                    name=col,
                    kind="categorical",
                    levels=shared[:MAX_LEVELS],
                    seen=sorted(str(v) for v in counts.index),
                    drift=Bins(expected=(expected / expected.sum()).tolist()),
                )
            )
            continue
        values = X[col].to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        code_min = None
        if col in code_columns and len(finite) and np.all(finite == np.round(finite)):
            # Status codes: whole numbers from the lowest code seen up. Rarer, later codes
            # (nine months late) are valid even when training never saw them.
            code_min = int(finite.min())
        columns.append(
            InputSpec(
                name=col,
                kind="numeric",
                drift=_numeric_bins(values),
                non_negative=bool(len(finite) and finite.min() >= 0),
                code_min=code_min,
                **_seen_range(finite, code_min is not None),
            )
        )
    return ScoringReference(
        id=id_column,
        history=history,
        columns=columns,
        score_drift=_numeric_bins(np.asarray(scores, dtype=float)),
        explain=ExplainBackground(**explain) if explain is not None else None,
        protected=[c for c in protected or [] if c in X.columns],
    )


def _seen_range(finite: np.ndarray, codes: bool) -> dict:
    """``low`` / ``high`` of :class:`InputSpec`: aggregates of many rows, never one's value."""
    if not len(finite):
        return {}
    if codes:
        values, counts = np.unique(finite, return_counts=True)
        shared = values[counts >= MIN_LEVEL_ROWS]
        return {"high": float(shared.max())} if len(shared) else {}
    q001, q50, q999 = np.quantile(finite, [0.001, 0.5, 0.999])
    return {"low": float(q50 - 3 * (q50 - q001)), "high": float(q50 + 3 * (q999 - q50))}


def schema_digest(reference: ScoringReference) -> str:
    """A digest of the input contract: the id, the inputs with their kinds, the history."""
    contract = {
        "id": reference.id,
        "inputs": [[c.name, c.kind] for c in reference.columns],
        "history": reference.history.model_dump() if reference.history else None,
    }
    return hashlib.sha256(json.dumps(contract, sort_keys=True).encode()).hexdigest()


def schema_changes(old: ScoringReference, new: ScoringReference) -> list[str]:
    """How ``new``'s input contract differs from ``old``'s, in words (empty: the same)."""
    before = {c.name: c.kind for c in old.columns}
    after = {c.name: c.kind for c in new.columns}
    changes = [f"input '{c}' added" for c in after if c not in before]
    changes += [f"input '{c}' removed" for c in before if c not in after]
    changes += [
        f"input '{c}' was {before[c]}, is {after[c]}"
        for c in after
        if c in before and before[c] != after[c]
    ]
    if old.id != new.id:
        changes.append(f"id column '{old.id}' is now '{new.id}'")
    if old.history != new.history:
        changes.append("the payment-history layout changed")
    return changes


def write_reference(reference: ScoringReference, directory: Path) -> Path:
    """Write the reference as JSON into ``directory``; return the file."""
    path = Path(directory) / REFERENCE_FILE
    path.write_text(reference.model_dump_json(indent=1))
    return path


def read_reference(directory: Path) -> ScoringReference:
    """Read and validate the reference saved beside a model.

    A model registered without one, or with one this version cannot read, fails with a
    message that says how to retrain.
    """
    path = Path(directory) / REFERENCE_FILE
    retrain = "retrain the model with `delinq train` and promote it"
    try:
        return ScoringReference.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise ScoringReferenceError(f"the model has no {REFERENCE_FILE}; {retrain}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ScoringReferenceError(
            f"the model's {REFERENCE_FILE} is not valid ({where}: {first['msg']}); {retrain}"
        ) from None
