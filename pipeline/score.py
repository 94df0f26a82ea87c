"""Nightly batch scoring: stream the book, validate, score, plan actions, publish atomically.

File-level faults (unreadable or empty input, a missing column, a column of an unsafe type)
raise :class:`ScoringError` before anything is published. Row-level faults go to the rejects
file with a reason and are counted; the rest is scored. Output is staged in a temporary folder
and swapped in by rename, so a killed run leaves the previous partition untouched, and a
re-run for the same as-of date rewrites the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pipeline import tracking
from pipeline.config import Config, HistoryConfig
from pipeline.estimator import derive_history
from pipeline.explain import ModelExplainer
from pipeline.io import coerce_types
from pipeline.policy import collection_plan, load_policy
from pipeline.reference import (
    bin_counts_categorical,
    bin_counts_numeric,
    count_unseen,
    psi,
    read_reference,
)

SCORES_FILE, REJECTS_FILE, MANIFEST_FILE = "scores.parquet", "rejects.parquet", "manifest.json"
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
    ]
)


def scores_schema(top_k: int) -> pa.Schema:
    """Output columns: the scores, then a code and a readable text per reason code."""
    reasons = [
        (f"reason_{i}{part}", pa.string()) for i in range(1, top_k + 1) for part in ("_code", "")
    ]
    return pa.schema([*SCORES_SCHEMA, *reasons])


REJECTS_SCHEMA = pa.schema([("row", pa.int64()), ("id", pa.string()), ("reason", pa.string())])


class ScoringError(RuntimeError):
    """A fault that stops the run before anything is published."""


class SanityError(ScoringError):
    """The input is implausibly small compared with the previous run."""


@dataclass(frozen=True)
class ScoreResult:
    partition: Path
    manifest: dict

    @property
    def drift_alert(self) -> bool:
        return self.manifest["drift"]["status"] == "alert"


def _input_files(path: Path) -> list[Path]:
    path = Path(path)
    if not path.exists():
        raise ScoringError(f"{path}: input not found")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".parquet")
        if not files:
            raise ScoringError(f"{path}: folder holds no .parquet files")
        return files
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise ScoringError(f"{path}: unsupported input type (use .csv, .parquet or a folder)")
    return [path]


_UNSAFE = (pa.types.is_boolean, pa.types.is_temporal, pa.types.is_nested, pa.types.is_binary)


def _open(path: Path, needed: list[str], numeric: set[str], batch_rows: int):
    """Check a file's columns and types; return a function that yields its record batches."""
    if path.stat().st_size == 0:
        raise ScoringError(f"{path}: file is empty (0 bytes)")
    try:
        if path.suffix.lower() == ".csv":
            # Everything as text: numbers are parsed per row, so one bad value rejects one row.
            header = pacsv.open_csv(path).schema.names
            columns = [c for c in needed if c in header]
            types = dict.fromkeys(columns, pa.string())

            def batches(only: list[str] | None = None):
                reader = pacsv.open_csv(
                    path,
                    read_options=pacsv.ReadOptions(block_size=32 << 20),
                    convert_options=pacsv.ConvertOptions(
                        column_types=types,
                        include_columns=only or columns,
                        strings_can_be_null=True,
                    ),
                )
                yield from reader

            schema_names = header
        else:
            file = pq.ParquetFile(path)
            schema = file.schema_arrow
            schema_names = schema.names
            for col in needed:
                if col in numeric and col in schema_names:
                    kind = schema.field(col).type
                    if any(check(kind) for check in _UNSAFE):
                        raise ScoringError(
                            f"{path}: column '{col}' has type {kind}, which cannot be safely "
                            "read as a number"
                        )
            columns = [c for c in needed if c in schema_names]

            def batches(only: list[str] | None = None):
                yield from pq.ParquetFile(path).iter_batches(
                    batch_size=batch_rows, columns=only or columns
                )

    except ScoringError:
        raise
    except (pa.ArrowInvalid, OSError) as exc:
        raise ScoringError(f"{path}: cannot read file ({exc})") from None
    missing = [c for c in needed if c not in schema_names]
    if missing:
        raise ScoringError(f"{path}: required column(s) missing: {', '.join(missing)}")
    return batches, [c for c in schema_names if c not in needed]


def _read_ids(files: list[Path], opened, id_col: str) -> tuple[int, np.ndarray]:
    """First pass over the id column only: row count and the ids that occur more than once.

    Reading every row once up front also finds a malformed or truncated file before any
    scoring starts.
    """
    parts = []
    for path, (batches, _) in zip(files, opened, strict=True):
        try:
            for batch in batches([id_col]):
                ids = batch.column(id_col).cast(pa.string())
                parts.append(ids.to_numpy(zero_copy_only=False))
        except (pa.ArrowInvalid, OSError) as exc:
            raise ScoringError(f"{path}: cannot read file ({exc})") from None
    ids = np.concatenate(parts) if parts else np.array([], dtype=object)
    if len(ids) == 0:
        raise ScoringError(f"{', '.join(map(str, files))}: input has a header but no rows")
    values, counts = np.unique(ids[pd.notna(ids)].astype(str), return_counts=True)
    return len(ids), values[counts > 1]


def _validate_rows(
    frame: pd.DataFrame, reference: dict, ids: pd.Series, duplicated: np.ndarray
) -> tuple[pd.DataFrame, pd.Series]:
    """Parsed model inputs and a reason per row ('' where the row is fine)."""
    reason = np.full(len(frame), "", dtype=object)
    ok = np.ones(len(frame), dtype=bool)  # no reason yet: the first failing check names it

    def flag(mask, why: str) -> None:
        hit = np.asarray(mask) & ok
        reason[hit] = why
        ok[hit] = False

    flag(ids.isna().to_numpy(), "missing_id")
    flag(ids.isin(duplicated).to_numpy(), "duplicate_id")
    parsed = {}
    for spec in reference["columns"]:
        col = spec["name"]
        raw = frame[col]
        if spec["kind"] == "categorical":
            parsed[col] = raw
            continue
        if pd.api.types.is_numeric_dtype(raw):  # typed by Parquet: nothing to parse
            values = raw.astype("float64")
        else:
            values = pd.to_numeric(raw, errors="coerce").astype("float64")
            flag((values.isna() & raw.notna()).to_numpy(), f"unparseable:{col}")
        if spec.get("non_negative"):
            flag((values < 0).to_numpy(), f"negative:{col}")
        if "code_min" in spec:
            off_code = values.notna() & ((values < spec["code_min"]) | (values != values.round()))
            flag(off_code.to_numpy(), f"invalid_code:{col}")
        parsed[col] = values
    numeric = [c["name"] for c in reference["columns"] if c["kind"] == "numeric"]
    categorical = [c["name"] for c in reference["columns"] if c["kind"] == "categorical"]
    X = coerce_types(pd.DataFrame(parsed, index=frame.index), numeric, categorical)
    return X, pd.Series(reason, index=frame.index, dtype=object)


def _previous_rows(output: Path, as_of: str) -> int | None:
    manifests = sorted(output.glob("as_of_date=*/" + MANIFEST_FILE))
    earlier = [m for m in manifests if m.parent.name < f"as_of_date={as_of}"]
    if not earlier:
        return None
    return json.loads(earlier[-1].read_text())["rows"]["read"]


def _recover(output: Path) -> None:
    """Undo what a run killed mid-publish or mid-scoring left behind."""
    for trash in output.glob(".trash-*"):
        final = output / trash.name.split("--", 1)[1]
        if not final.exists():
            trash.rename(final)  # killed between the two renames: restore the old partition
        else:
            shutil.rmtree(trash, ignore_errors=True)
    for staging in output.glob(".staging-*"):
        shutil.rmtree(staging, ignore_errors=True)


def _publish(staging: Path, final: Path) -> None:
    trash = final.with_name(f".trash-{uuid.uuid4().hex[:8]}--{final.name}")
    if final.exists():
        final.rename(trash)
    staging.rename(final)
    shutil.rmtree(trash, ignore_errors=True)


@contextmanager
def _timed(spent: Counter, stage: str):
    started = time.perf_counter()
    yield
    spent[stage] += time.perf_counter() - started


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_registered(model_uri: str) -> tuple[str, str, object, dict]:
    """(name, version, fitted model, scoring reference) of a registered version, fetched once.

    Assumes :func:`tracking.connect` ran.
    """
    with tempfile.TemporaryDirectory(prefix="delinq-model-") as tmp:
        name, version, model_dir = tracking.resolve_model(model_uri, Path(tmp))
        model = tracking.load_model(str(model_dir))
        reference = read_reference(model_dir / "extra_files")  # where MLflow puts extra_files
    return name, version, model, reference


def score_book(
    input_path: Path,
    output: Path,
    as_of: str,
    model_uri: str,
    cfg: Config,
    force: bool = False,
    on_batch=None,
    reasons: bool | None = None,
) -> ScoreResult:
    """Score a loan book with the model behind ``model_uri`` into ``output/as_of_date=AS_OF``.

    ``reasons`` (default ``cfg.explain.reasons_in_scores``) adds the top-k reason codes; the
    columns exist either way (null when off), so the output schema never changes.
    """
    reasons = cfg.explain.reasons_in_scores if reasons is None else reasons
    top_k = cfg.explain.top_k
    timings: dict[str, float] = {}
    start = time.perf_counter()
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    _recover(output)
    sc = cfg.scoring

    tracking.connect(cfg.tracking)
    name, version, model, reference = load_registered(model_uri)
    explainer = None
    if reasons:
        try:
            explainer = ModelExplainer(model, reference, cfg.explain.labels, seed=cfg.seed)
        except ValueError as exc:
            raise ScoringError(f"reason codes: {exc}; or score with --no-reasons") from None
    timings["resolve_model_s"] = time.perf_counter() - start

    id_col = reference["id"]
    if id_col is None:
        raise ScoringError("the model was trained without an id column; scoring needs one")
    history = (
        HistoryConfig.model_validate(reference["history"]) if reference.get("history") else None
    )
    plan_cfg = cfg.model_copy(update={"data": cfg.data.model_copy(update={"history": history})})
    policy = load_policy(cfg.policy, list(cfg.scorecard.bands))
    model_columns = [c["name"] for c in reference["columns"]]
    numeric = {c["name"] for c in reference["columns"] if c["kind"] == "numeric"}
    needed = [id_col, *model_columns]

    files = _input_files(input_path)
    opened = [_open(f, needed, numeric, sc.batch_rows) for f in files]
    extra_columns = sorted({c for _, extra in opened for c in extra})
    rows_read, duplicated = _read_ids(files, opened, id_col)
    previous = _previous_rows(output, as_of)
    if previous and rows_read < sc.min_rows_fraction * previous and not force:
        raise SanityError(
            f"input has {rows_read:,} rows, below {sc.min_rows_fraction:.0%} of the previous "
            f"run's {previous:,}; check the extract, or pass --force to score it anyway"
        )
    timings["validate_input_s"] = time.perf_counter() - start - timings["resolve_model_s"]

    staging = output / f".staging-{as_of}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    schema = scores_schema(top_k)
    scores_writer = pq.ParquetWriter(staging / SCORES_FILE, schema, compression="zstd")
    rejects_writer = pq.ParquetWriter(staging / REJECTS_FILE, REJECTS_SCHEMA, compression="zstd")
    reasons: Counter = Counter()
    unseen: Counter = Counter()
    spent: Counter = Counter()  # seconds per stage of the batch loop
    known = {c["name"]: set(c["known"]) for c in reference["columns"] if "known" in c}
    drift_counts = {c["name"]: np.zeros(len(c["drift"]["expected"])) for c in reference["columns"]}
    score_counts = np.zeros(len(reference["score_drift"]["expected"]))
    scored = rejected = position = 0
    try:
        for batches in (b for b, _ in opened):
            for batch in batches():
                with _timed(spent, "read"):
                    frame = batch.to_pandas()
                    frame.index = pd.RangeIndex(position, position + len(frame))
                    position += len(frame)
                    # Ids as text straight from Arrow: no float detour ("1.0") for integer ids.
                    ids = pd.Series(
                        batch.column(id_col).cast(pa.string()).to_numpy(zero_copy_only=False),
                        index=frame.index,
                        dtype=object,
                    )
                with _timed(spent, "validate"):
                    X, reason = _validate_rows(frame, reference, ids, duplicated)
                    bad = (reason != "").to_numpy()
                if bad.any():
                    reasons.update(reason[bad])
                    rejects_writer.write_table(
                        pa.table(
                            {
                                "row": frame.index[bad].to_numpy(dtype=np.int64),
                                "id": ids[bad].to_numpy(),
                                "reason": reason[bad].to_numpy(),
                            },
                            schema=REJECTS_SCHEMA,
                        )
                    )
                    rejected += int(bad.sum())
                good = X[~bad]
                if len(good):
                    codes = None
                    if explainer is None:
                        with _timed(spent, "predict"):
                            p = model.predict_proba(good)[:, 1]
                    else:
                        with _timed(spent, "predict"):
                            Z = explainer.transform(good)
                            p = explainer.predict(Z)
                    with _timed(spent, "plan"):  # history features: once for plan and reasons
                        feats = derive_history(good, history) if history is not None else None
                    if explainer is not None:
                        with _timed(spent, "explain"):
                            values = explainer.contributions(Z)
                            codes = explainer.reason_codes(values, good, top_k, feats)
                    with _timed(spent, "plan"):
                        plan = collection_plan(good, p, plan_cfg, policy, feats)
                    with _timed(spent, "write"):
                        out = pd.DataFrame(
                            {
                                "id": ids[~bad].to_numpy(),
                                "as_of_date": as_of,
                                "model_name": name,
                                "model_version": version,
                            }
                        )
                        for col in plan.columns:
                            out[col] = plan[col].to_numpy()
                        for col in schema.names[len(SCORES_SCHEMA) :]:
                            out[col] = (
                                codes[col].to_numpy()
                                if codes is not None
                                else pd.Series(None, index=out.index, dtype=object)
                            )
                        scores_writer.write_table(
                            pa.Table.from_pandas(out, schema=schema, preserve_index=False)
                        )
                    scored += len(good)
                    with _timed(spent, "drift"):
                        score_counts += bin_counts_numeric(p, reference["score_drift"]["edges"])
                        for spec in reference["columns"]:
                            col = spec["name"]
                            if spec["kind"] == "categorical":
                                counts = bin_counts_categorical(good[col], spec["levels"])
                                if col in known:  # references from before level hashes
                                    unseen[col] += count_unseen(good[col], known[col])
                            else:
                                counts = bin_counts_numeric(
                                    good[col].to_numpy(), spec["drift"]["edges"]
                                )
                            drift_counts[col] += counts
                if on_batch is not None:
                    on_batch(len(frame))
        scores_writer.close()
        rejects_writer.close()
    except BaseException:
        scores_writer.close()
        rejects_writer.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    timings["score_s"] = time.perf_counter() - start - sum(timings.values())
    timings |= {f"{stage}_s": seconds for stage, seconds in spent.items()}

    if scored + rejected != rows_read:  # never lose or invent a row
        shutil.rmtree(staging, ignore_errors=True)
        raise ScoringError(
            f"row count mismatch: read {rows_read}, scored {scored}, rejected {rejected}"
        )
    drift = _drift_summary(reference, drift_counts, score_counts, sc)
    manifest = {
        "as_of_date": as_of,
        "model": {"requested": model_uri, "name": name, "version": version},
        "input": [{"file": f.name, "bytes": f.stat().st_size} for f in files],
        "rows": {"read": rows_read, "scored": scored, "rejected": rejected},
        "rejects_by_reason": dict(sorted(reasons.items())),
        "unseen_categories": {k: v for k, v in sorted(unseen.items()) if v},
        "extra_columns_ignored": extra_columns,
        "reason_codes": {
            "top_k": top_k if explainer else 0,
            "method": explainer.method if explainer else None,
            "units": explainer.units if explainer else None,
        },
        "outputs": {f: {"sha256": _sha256(staging / f)} for f in (SCORES_FILE, REJECTS_FILE)},
        "drift": drift,
        "timings": {k: round(v, 3) for k, v in timings.items()},
    }
    from pipeline.plots import drift_plot

    drift_plot(drift, staging / "drift.png", sc.psi_watch, sc.psi_alert)
    manifest["timings"]["total_s"] = round(time.perf_counter() - start, 3)
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    final = output / f"as_of_date={as_of}"
    _publish(staging, final)
    return ScoreResult(final, manifest)


def _drift_summary(reference: dict, counts: dict, score_counts: np.ndarray, sc) -> dict:
    """PSI of every input and of the score against the training reference, with a status."""
    inputs = {
        spec["name"]: round(psi(spec["drift"]["expected"], counts[spec["name"]]), 5)
        for spec in reference["columns"]
    }
    score = round(psi(reference["score_drift"]["expected"], score_counts), 5)
    everything = {"score": score, **inputs}
    alert = sorted(k for k, v in everything.items() if v >= sc.psi_alert)
    watch = sorted(k for k, v in everything.items() if sc.psi_watch <= v < sc.psi_alert)
    return {
        "score_psi": score,
        "input_psi": inputs,
        "watch": watch,
        "alert": alert,
        "status": "alert" if alert else "watch" if watch else "ok",
    }


def iter_scores(partition: Path) -> Iterator[pd.DataFrame]:
    """Read a published partition's scores back in batches (for reports and checks)."""
    yield from (b.to_pandas() for b in pq.ParquetFile(partition / SCORES_FILE).iter_batches())
