"""One batch of the nightly scoring: the function that both engines run.

The local engine (:mod:`delinq.pipeline.score.local`) feeds it the record batches of the input
files in a loop; the Spark engine (:mod:`delinq.pipeline.score.spark`) runs it in ``mapInArrow``
on executors.
For an Arrow record batch of the id and model columns, :meth:`BatchScorer.score` validates
every row, derives the history features, predicts, adds points, grade, DPD bucket, segment,
action and reason codes, and counts what the manifest needs (rejects per reason, unseen
categories, drift bins). Arrow in, Arrow out: no engine-specific conversion in between.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from delinq.features.cleaning import coerce_types
from delinq.features.history import derive_history, history_feature_names
from delinq.models.points_card import is_scorecard, points_card
from delinq.pipeline.config import Config
from delinq.pipeline.explain.explainer import ExplainError, ModelExplainer
from delinq.pipeline.portfolio.policy import collection_plan, load_policy
from delinq.pipeline.registry.reference import (
    InputSpec,
    ScoringReference,
    bin_counts_categorical,
    bin_counts_columns,
    bin_counts_numeric,
    count_unseen,
)
from delinq.pipeline.score.lean_model import LeanModel

SCORES_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("as_of_date", pa.string()),
        ("model_name", pa.string()),
        ("model_version", pa.string()),
        ("pd", pa.float64()),
        ("points", pa.int64()),
        ("grade", pa.string()),
        ("dpd_bucket", pa.string()),
        ("segment", pa.string()),
        ("action", pa.string()),
        ("priority", pa.int64()),
        ("human_review_required", pa.bool_()),
    ]
)
REJECTS_SCHEMA = pa.schema([("row", pa.int64()), ("id", pa.string()), ("reason", pa.string())])
_AGREEMENT_ROWS = 2_000  # rows of the first batch checked against the model itself


class ScoringError(RuntimeError):
    """A fault that stops the run before anything is published."""


def scores_schema(top_k: int) -> pa.Schema:
    """Output columns: the scores, then a code and a readable text per reason code."""
    reasons = [
        (f"reason_{i}{part}", pa.string()) for i in range(1, top_k + 1) for part in ("_code", "")
    ]
    return pa.schema([*SCORES_SCHEMA, *reasons])


@dataclass
class BatchStats:
    """What the manifest counts, summed over batches."""

    drift: dict[str, np.ndarray]
    score: np.ndarray
    scored: int = 0
    rejected: int = 0
    review: int = 0  # scored rows whose action a person must review
    reasons: Counter = field(default_factory=Counter)
    out_of_range: Counter = field(default_factory=Counter)  # rows past training's range
    unseen: Counter = field(default_factory=Counter)

    @classmethod
    def empty(cls, reference: ScoringReference) -> BatchStats:
        """Zero counts in the drift bins of ``reference``."""
        drift = {c.name: np.zeros(len(c.drift.expected)) for c in reference.columns}
        return cls(drift, np.zeros(len(reference.score_drift.expected)))

    def add(self, other: BatchStats) -> BatchStats:
        """Add ``other``'s counts to these (in place); return self."""
        self.scored += other.scored
        self.rejected += other.rejected
        self.review += other.review
        self.reasons.update(other.reasons)
        self.out_of_range.update(other.out_of_range)
        self.unseen.update(other.unseen)
        self.score += other.score
        for col, counts in other.drift.items():
            self.drift[col] += counts
        return self

    def to_json(self) -> str:
        """Counts as JSON (how Spark tasks hand them to the driver)."""
        return json.dumps(
            {
                "scored": self.scored,
                "rejected": self.rejected,
                "review": self.review,
                "reasons": self.reasons,
                "out_of_range": self.out_of_range,
                "unseen": self.unseen,
                "score": self.score.tolist(),
                "drift": {k: v.tolist() for k, v in self.drift.items()},
            }
        )

    @classmethod
    def from_json(cls, text: str) -> BatchStats:
        """The counts written by :meth:`to_json`."""
        d = json.loads(text)
        return cls(
            drift={k: np.asarray(v, dtype=float) for k, v in d["drift"].items()},
            score=np.asarray(d["score"], dtype=float),
            scored=d["scored"],
            rejected=d["rejected"],
            review=d["review"],
            reasons=Counter(d["reasons"]),
            out_of_range=Counter(d["out_of_range"]),
            unseen=Counter(d["unseen"]),
        )


class BatchScorer:
    """Scores record batches with one resolved model version; picklable, for Spark executors.

    Parameters
    ----------
    name, version : str
        The registered model behind ``model`` (written on every row).
    model, reference :
        The fitted champion and the scoring reference saved with it.
    cfg : Config
        Scorecard, segments, policy, explain and scoring settings.
    as_of : str
        The as-of date written on every row.
    reasons : bool
        Whether to add reason codes (the columns exist, null, when off).
    duplicated : sequence of str
        Ids that occur more than once in the whole input (the engine finds them beforehand;
        see :meth:`set_duplicated`).
    """

    def __init__(
        self,
        *,
        name: str,
        version: str,
        model,
        reference: ScoringReference,
        cfg: Config,
        as_of: str,
        reasons: bool,
        duplicated=(),
    ):
        self.name, self.version, self.as_of = name, version, as_of
        self.model, self.reference, self.cfg = model, reference, cfg
        self.id = reference.id
        self.specs = reference.columns
        self.numeric = reference.numeric
        self.categorical = reference.categorical
        self.history = reference.history
        self.plan_cfg = cfg.model_copy(
            update={"data": cfg.data.model_copy(update={"history": self.history})}
        )
        self.policy = load_policy(cfg.policy, list(cfg.scorecard.bands))
        self.top_k = cfg.explain.top_k
        self.schema = scores_schema(self.top_k)
        self.set_duplicated(duplicated)
        self.lean = LeanModel.compile(model, self.numeric, self.categorical)
        # A scorecard publishes the sum of its points table, which a person can check by hand.
        sc = cfg.scorecard
        self.card = (
            points_card(model, sc.base_score, sc.base_odds, sc.pdo) if is_scorecard(model) else None
        )
        self.lean_checked = False
        self._lock = threading.Lock()
        self.reasons = reasons
        self.explainer = self._explainer() if reasons else None

    def set_duplicated(self, ids) -> None:
        """The ids that occur more than once in the whole input: their rows are rejected."""
        self.duplicated = pa.array(sorted(map(str, ids)), pa.string())

    def _explainer(self) -> ModelExplainer:
        try:
            return ModelExplainer(
                self.model, self.reference, self.cfg.explain.labels, seed=self.cfg.seed
            )
        except ExplainError as exc:
            raise ScoringError(f"reason codes: {exc}; or score with --no-reasons") from None

    def __getstate__(self) -> dict:
        # The explainer's lookup tables are rebuilt where the scorer lands, not shipped.
        return {**self.__dict__, "explainer": None, "_lock": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        if self.reasons:
            self.explainer = self._explainer()

    def score(
        self, batch: pa.RecordBatch, rows: np.ndarray
    ) -> tuple[pa.Table, pa.Table, BatchStats]:
        """Scores, rejects and counts of one batch; ``rows`` are its rows' input positions."""
        stats = BatchStats.empty(self.reference)
        ids = batch.column(self.id).cast(pa.string())
        check = _RowCheck(len(ids))
        check.flag(ids.is_null().to_numpy(zero_copy_only=False), "missing_id")
        check.flag(
            pc.is_in(ids, value_set=self.duplicated).to_numpy(zero_copy_only=False), "duplicate_id"
        )
        numeric = np.empty((len(ids), len(self.numeric)), order="F")
        categorical = {}
        for spec in self.specs:
            col = batch.column(spec.name)
            if spec.kind == "categorical":
                categorical[spec.name] = _as_category(col, spec.name)
            else:
                values = _as_numbers(col, spec, check)
                numeric[:, self.numeric.index(spec.name)] = values
                self._range(spec, values, check, stats)

        bad = ~check.ok
        if bad.any():
            stats.reasons.update(check.reason[bad])
            stats.rejected = int(bad.sum())
        rejects = pa.table(
            {
                "row": np.asarray(rows, dtype=np.int64)[bad],
                "id": ids.filter(pa.array(bad)),
                "reason": pa.array(check.reason[bad], pa.string()),
            },
            schema=REJECTS_SCHEMA,
        )
        good = check.ok
        if not good.any():
            return self.schema.empty_table(), rejects, stats
        if bad.any():
            numeric = numeric[good]
            categorical = {k: v[good] for k, v in categorical.items()}
        cats = pd.DataFrame(categorical)
        scores = self._score_good(ids.filter(pa.array(good)), numeric, cats, stats)
        return scores, rejects, stats

    def _range(self, spec: InputSpec, values: np.ndarray, check: _RowCheck, stats) -> None:
        """Count values past the range training saw; reject their rows if configured."""
        if spec.low is None and spec.high is None:
            return
        with np.errstate(invalid="ignore"):
            out = np.zeros(len(values), dtype=bool)
            if spec.high is not None:
                out |= values > spec.high
            if spec.low is not None:
                out |= values < spec.low
        out &= check.ok  # a row already rejected for another reason is not counted twice
        if not out.any():
            return
        stats.out_of_range[spec.name] += int(out.sum())
        sc = self.cfg.scoring
        if sc.out_of_range.get(spec.name, sc.out_of_range_default) == "reject":
            check.flag(out, f"out_of_range:{spec.name}")

    def _frame(self, numeric: np.ndarray, cats: pd.DataFrame) -> pd.DataFrame:
        """The rows as the model's own ``predict_proba`` takes them."""
        frame = pd.DataFrame(numeric, columns=self.numeric)
        for col in self.categorical:
            frame[col] = cats[col].to_numpy()
        return coerce_types(frame[self.reference.names], self.numeric, self.categorical)

    def _score_good(
        self, ids: pa.Array, numeric: np.ndarray, cats: pd.DataFrame, stats
    ) -> pa.Table:
        n = len(ids)
        frame = None
        derived = Z = None
        lean = self.lean
        if lean is not None:
            derived = lean.derive(numeric)
            Z = lean.transform(numeric, cats, derived)
            p = lean.predict(Z)
            with self._lock:  # batches may run in threads; the first one checks the lean path
                if not self.lean_checked:
                    frame = self._frame(numeric, cats)
                    head = slice(0, _AGREEMENT_ROWS)
                    if not lean.agrees(frame.iloc[head], p[head]):
                        self.lean = None  # trust the model itself from here on
                    self.lean_checked = True
                lean = self.lean
        if lean is None:
            frame = self._frame(numeric, cats) if frame is None else frame
            if self.explainer is not None:
                Z = self.explainer.transform(frame)
                p = self.explainer.predict(Z)
            else:
                p = self.model.predict_proba(frame)[:, 1]
            derived = None
        feats = None
        if self.history is not None:
            if derived is None:
                feats = derive_history(pd.DataFrame(numeric, columns=self.numeric), self.history)
            else:
                feats = pd.DataFrame(derived, columns=history_feature_names(self.history))
        points = None
        if self.card is not None:
            frame = self._frame(numeric, cats) if frame is None else frame
            points = self.card.score(frame)
        plan = collection_plan(
            pd.DataFrame(numeric, columns=self.numeric),
            p,
            self.plan_cfg,
            self.policy,
            feats,
            points,
        )
        columns = {
            "id": ids,
            "as_of_date": repeat_text(self.as_of, n),
            "model_name": repeat_text(self.name, n),
            "model_version": repeat_text(self.version, n),
            "pd": plan["pd"].to_numpy(),
            "points": plan["points"].to_numpy(),
            "grade": _strings(plan["grade"].array),
            "dpd_bucket": _strings(plan["dpd_bucket"].array),
            "segment": _strings(plan["segment"].array),
            "action": _strings(plan["action"].array),
            "priority": plan["priority"].to_numpy(dtype=np.int64),
            "human_review_required": plan["human_review_required"].to_numpy(dtype=bool),
        }
        reason_columns = self.schema.names[len(SCORES_SCHEMA) :]
        if self.explainer is not None:
            if self.cfg.explain.reasons_for == "all":
                frame = self._frame(numeric, cats) if frame is None else frame
                values = self.explainer.contributions(Z)
                codes = self.explainer.reason_codes(values, frame, self.top_k, feats)
                columns |= {c: pa.array(codes[c].to_numpy(), pa.string()) for c in reason_columns}
            else:  # "actioned": only the rows something happens to
                rows = np.flatnonzero((plan["action"] != "none").to_numpy())
                full = {c: np.full(n, None, dtype=object) for c in reason_columns}
                if len(rows):
                    # The frame of those rows only: most rows of a night get no action.
                    if frame is None:
                        some = cats.iloc[rows].reset_index(drop=True)
                        frame = self._frame(numeric[rows], some)
                    else:
                        frame = frame.iloc[rows]
                    codes = self.explainer.reason_codes(
                        self.explainer.contributions(Z[rows]),
                        frame,
                        self.top_k,
                        None if feats is None else feats.iloc[rows],
                    )
                    for c in reason_columns:
                        full[c][rows] = codes[c].to_numpy()
                columns |= {c: pa.array(v, pa.string()) for c, v in full.items()}
        else:
            columns |= {c: pa.nulls(n, pa.string()) for c in reason_columns}
        self._count(numeric, cats, p, stats)
        stats.scored = n
        stats.review = int(plan["human_review_required"].sum())
        return pa.table(columns, schema=self.schema)

    def _count(self, numeric: np.ndarray, cats: pd.DataFrame, p: np.ndarray, stats) -> None:
        """Drift bins of every input and of the score; unseen category levels."""
        stats.score += bin_counts_numeric(p, self.reference.score_drift.edges)
        for spec in self.specs:
            col = spec.name
            if spec.kind == "categorical":
                stats.drift[col] += bin_counts_categorical(cats[col], spec.levels)
                unseen = count_unseen(cats[col], spec)
                if unseen is not None:
                    stats.unseen[col] += unseen
        numeric_specs = [spec for spec in self.specs if spec.kind == "numeric"]
        edges = [spec.drift.edges for spec in numeric_specs]
        for spec, counts in zip(numeric_specs, bin_counts_columns(numeric, edges), strict=True):
            stats.drift[spec.name] += counts


class _RowCheck:
    """A reason per row: the first failing check names it."""

    def __init__(self, n: int):
        self.ok = np.ones(n, dtype=bool)
        self.reason = np.full(n, "", dtype=object)

    def flag(self, mask: np.ndarray, why: str) -> None:
        hit = np.asarray(mask, dtype=bool) & self.ok
        if hit.any():
            self.reason[hit] = why
            self.ok[hit] = False


def _as_numbers(col: pa.Array, spec: InputSpec, check: _RowCheck) -> np.ndarray:
    """A numeric model input as float64 (NaN for missing), flagging rows that break its rules."""
    name = spec.name
    if (
        pa.types.is_integer(col.type)
        or pa.types.is_floating(col.type)
        or pa.types.is_decimal(col.type)
    ):
        values = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
    else:  # text (CSV): parse per row, so one bad value rejects one row, not the file
        raw = pd.Series(col.to_pandas(), dtype=object)
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
        check.flag(np.isnan(values) & raw.notna().to_numpy(), f"unparseable:{name}")
    with np.errstate(invalid="ignore"):
        if spec.non_negative:
            check.flag(values < 0, f"negative:{name}")
        if spec.code_min is not None:
            check.flag(
                (values < spec.code_min) | (values != np.round(values)), f"invalid_code:{name}"
            )
    return values


def _as_category(col: pa.Array, name: str) -> pd.Categorical:
    """A categorical input, its levels as text exactly as at training time (NaN: missing).

    Only the distinct values are converted (through :func:`coerce_types`, the training-time
    rule); rows keep integer codes.
    """
    encoded = col.dictionary_encode()
    levels = pd.Series(encoded.dictionary.to_pandas(), name=name)
    text = coerce_types(levels.to_frame(), [], [name])[name]
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    return pd.Categorical.from_codes(codes, categories=pd.Index(text, dtype=object))


def repeat_text(value: str, n: int) -> pa.Array:
    """``value`` ``n`` times as an Arrow string array (one Python string, not ``n``)."""
    return pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.string())
    ).cast(pa.string())


def _strings(values: pd.Categorical) -> pa.Array:
    """Text from a small set of labels, converted once per label (not once per row)."""
    return pa.DictionaryArray.from_arrays(
        pa.array(values.codes.astype(np.int32)), pa.array(list(values.categories), pa.string())
    ).cast(pa.string())
