"""One scoring run, whichever engine does the work: before the batches and after them.

:func:`open_run` takes the partition's lock for the run's life, resolves the model once and
checks every input file's columns and types (file-level faults raise
:class:`~delinq.pipeline.score.batch.ScoringError` before anything is published);
:func:`finish_run` checks the row balance and that the night is plausible (rejects, inputs
empty in every row), writes the manifest and the drift plot, and publishes the partition
atomically, or publishes nothing. The local engine
(:mod:`delinq.pipeline.score.local`) and the Spark engine (:mod:`delinq.pipeline.score.spark`)
run the batches in between.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from delinq.pipeline.book.io import (
    CsvLayout,
    DataError,
    csv_layout,
    decompressed,
    file_kind,
    parse_error,
)
from delinq.pipeline.config import Config
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.checksum import sha256
from delinq.pipeline.registry.load import load_registered
from delinq.pipeline.score.batch import (
    BatchScorer,
    BatchStats,
    ScoringError,
)
from delinq.pipeline.score.drift import drift_plot, drift_summary
from delinq.pipeline.score.publish import (
    DRIFT_PLOT,
    MANIFEST_FILE,
    REJECTS_FILE,
    SCORES_FILE,
    PartitionLocked,
    canonical_date,
    partition,
    partition_lock,
    previous_rows,
    publish,
    recover,
    staging_folder,
)


class LockedError(ScoringError):
    """Another live run is scoring the same date into the same output (exit 5)."""


class SanityError(ScoringError):
    """An implausible night: a book much smaller than the last, too many rejects, an input
    empty in every row. ``--force`` publishes it anyway (except when nothing was scored)."""


@dataclass(frozen=True)
class ScoreResult:
    partition: Path
    manifest: dict

    @property
    def drift_alert(self) -> bool:
        return self.manifest["drift"]["status"] == "alert"


def input_files(path: Path) -> list[Path]:
    path = Path(path)
    if not path.exists():
        raise ScoringError(f"{path}: input not found")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix == ".parquet")
        if not files:
            raise ScoringError(f"{path}: folder holds no .parquet files")
        return files
    if path.suffix.lower() not in TEXT_SUFFIXES + (".parquet", ".pq"):
        raise ScoringError(
            f"{path}: unsupported input type (use .csv, possibly compressed as .gz, .bz2, .xz "
            "or .zip, .parquet, or a folder of .parquet files)"
        )
    return [path]


TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".gz", ".bz2", ".xz", ".zip")


_UNSAFE = (pa.types.is_boolean, pa.types.is_temporal, pa.types.is_nested, pa.types.is_binary)


def open_file(path: Path, needed: list[str], numeric: set[str], batch_rows: int, sep: str | None):
    """Check a file's columns and types; return a function that yields its record batches.

    ``sep``: a CSV's delimiter, None to detect it."""
    if path.stat().st_size == 0:
        raise ScoringError(f"{path}: file is empty (0 bytes)")
    try:
        kind = file_kind(path)
        if kind != "parquet":
            if path.suffix.lower() in (".parquet", ".pq"):
                raise ScoringError(f"{path}: not a Parquet file (its first bytes say otherwise)")
            layout = csv_layout(path, sep)
            layout.check_header(path)
            header = list(layout.header)  # read once, by csv_layout
            # Everything as text: numbers are parsed per row, so one bad value rejects one row.
            columns = [c for c in needed if c in header]
            types = dict.fromkeys(columns, pa.string())

            def batches(only: list[str] | None = None):
                yield from _csv_reader(path, layout, only or columns, types)

            schema_names = header
        else:
            file = pq.ParquetFile(path)
            schema = file.schema_arrow
            schema_names = schema.names
            for col in needed:
                if col in schema_names and pa.types.is_null(schema.field(col).type):
                    raise ScoringError(
                        f"{path}: column '{col}' holds no values at all (Parquet type null); "
                        "the extract has lost it"
                    )
                if col in numeric and col in schema_names:
                    kind = schema.field(col).type
                    if any(check(kind) for check in _UNSAFE):
                        raise ScoringError(
                            f"{path}: column '{col}' has type {kind}, which cannot be safely "
                            "read as a number"
                        )
            columns = [c for c in needed if c in schema_names]

            def batches(only: list[str] | None = None):
                # pre_buffer keeps every row group read so far: memory would grow with the book.
                yield from pq.ParquetFile(path, pre_buffer=False).iter_batches(
                    batch_size=batch_rows, columns=only or columns
                )

    except ScoringError:
        raise
    except DataError as exc:
        raise ScoringError(str(exc)) from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise ScoringError(f"{path}: cannot read file ({parse_error(exc)})") from None
    missing = [c for c in needed if c not in schema_names]
    if missing:
        raise ScoringError(f"{path}: required column(s) missing: {', '.join(missing)}")
    return batches, [c for c in schema_names if c not in needed]


def _csv_reader(path: Path, layout: CsvLayout, columns, types) -> pacsv.CSVStreamingReader:
    """A streaming reader of a (possibly compressed) delimited file, every cell as text."""
    source = (
        pa.input_stream(str(path), compression=layout.compression)
        if layout.compression in ("gzip", "bz2")
        else pa.PythonFile(decompressed(path, layout.compression), mode="r")
    )
    return pacsv.open_csv(
        source,
        read_options=pacsv.ReadOptions(block_size=32 << 20),
        parse_options=pacsv.ParseOptions(delimiter=layout.delimiter),
        convert_options=pacsv.ConvertOptions(
            column_types=types or {}, include_columns=columns or [], strings_can_be_null=True
        ),
    )


@dataclass
class Run:
    """One scoring run before its batches: the resolved model and the checked input files."""

    input_path: Path
    output: Path
    as_of: str
    model_uri: str
    cfg: Config
    scorer: BatchScorer
    files: list[Path]
    opened: list
    extra_columns: list[str]
    force: bool = False
    started: float = field(default_factory=time.perf_counter)
    timings: dict = field(default_factory=dict)

    @property
    def needed(self) -> list[str]:
        """Input columns every file must have: the id, then the model's."""
        reference = self.scorer.reference
        return [reference.id, *reference.names]

    def lap(self, name: str) -> None:
        """Record the seconds since the last lap as timing ``name``."""
        self.timings[name] = time.perf_counter() - self.started - sum(self.timings.values())


@contextmanager
def open_run(
    input_path: Path,
    output: Path,
    as_of: str,
    model_uri: str,
    cfg: Config,
    reasons: bool | None,
    force: bool = False,
) -> Iterator[Run]:
    """Lock ``as_of``'s partition, resolve the model once, check every input file.

    File-level faults raise :class:`ScoringError` here, before any scoring; so does a second
    run for the same date and output while this one lives. ``reasons`` (default
    ``cfg.explain.reasons_in_scores``) adds the top-k reason codes.
    """
    started = time.perf_counter()
    try:
        day = canonical_date(as_of)
    except ValueError:
        raise ScoringError(f"as-of date {as_of!r} is not a calendar date (YYYY-MM-DD)") from None
    output = _output_root(Path(output), day)
    with ExitStack() as stack:
        try:
            stack.enter_context(partition_lock(output, day, cfg.scoring.wait_for_lock))
        except PartitionLocked as exc:
            raise LockedError(
                f"another run ({exc.holder}) is scoring {day} into {output}; nothing was "
                "changed: wait for it with --wait, or score another date"
            ) from None
        recover(output, day)
        yield _start(input_path, output, day, model_uri, cfg, reasons, force, started)


def _output_root(output: Path, day: str) -> Path:
    """``output``, created if need be, once it is sure a partition can be published in it."""
    if output.is_symlink() and not output.exists():
        raise ScoringError(f"{output}: the output root is a symbolic link to nothing")
    if output.exists() and not output.is_dir():
        raise ScoringError(f"{output}: the output root is a file, not a folder")
    file_above = next((p for p in output.parents if p.exists() and not p.is_dir()), None)
    if file_above is not None:
        raise ScoringError(f"{output}: the output root lies under a file ({file_above})")
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ScoringError(f"{output}: cannot create the output root ({exc.strerror})") from None
    final = partition(output, day)
    if final.is_symlink():
        raise ScoringError(
            f"{final}: the partition is a symbolic link; remove it (scores are published as a "
            "folder renamed into place, never through a link)"
        )
    return output


def _start(input_path, output, as_of, model_uri, cfg, reasons, force, started) -> Run:
    tracking.connect(cfg.tracking)
    name, version, model, reference = load_registered(model_uri)
    if reference.id is None:
        raise ScoringError("the model was trained without an id column; scoring needs one")
    reasons = cfg.explain.reasons_in_scores if reasons is None else reasons
    # A model that cannot be explained (for reason codes) fails here, before any batch.
    scorer = BatchScorer(
        name=name,
        version=version,
        model=model,
        reference=reference,
        cfg=cfg,
        as_of=as_of,
        reasons=reasons,
    )
    run = Run(input_path, output, as_of, model_uri, cfg, scorer, [], [], [], force, started)
    run.lap("resolve_model_s")
    numeric = set(reference.numeric)
    run.files = input_files(input_path)
    run.opened = [
        open_file(f, run.needed, numeric, cfg.scoring.batch_rows, cfg.data.sep) for f in run.files
    ]
    run.extra_columns = sorted({c for _, extra in run.opened for c in extra})
    return run


def check_size(run: Run, rows_read: int) -> None:
    """Refuse a book much smaller than the previous run's (the sanity guard)."""
    sc = run.cfg.scoring
    previous = previous_rows(run.output, run.as_of)
    if previous and rows_read < sc.min_rows_fraction * previous and not run.force:
        raise SanityError(
            f"input has {rows_read:,} rows, below {sc.min_rows_fraction:.0%} of the previous "
            f"run's {previous:,}; check the extract, or pass --force to score it anyway"
        )


def check_plausible(run: Run, rows_read: int, stats: BatchStats) -> None:
    """Refuse a night with nothing scored, too many rejects, or inputs empty in every row."""
    sc = run.cfg.scoring
    reasons = ", ".join(f"{k}: {v:,}" for k, v in stats.reasons.most_common(3))
    if stats.scored == 0:
        raise SanityError(f"every one of the {rows_read:,} rows was rejected ({reasons})")
    if run.force:
        return
    share = stats.rejected / rows_read
    if share > sc.max_reject_share:
        raise SanityError(
            f"{share:.1%} of the rows were rejected ({reasons}), above "
            f"scoring.max_reject_share {sc.max_reject_share:.1%}; fix the extract, or pass "
            "--force to publish it anyway"
        )
    empty = [
        spec.name
        for spec in run.scorer.reference.columns
        if stats.drift[spec.name][-1] == stats.scored
    ]
    if len(empty) > sc.max_empty_inputs:
        raise SanityError(
            f"input(s) empty in every scored row: {', '.join(empty)} (scoring.max_empty_inputs "
            f"{sc.max_empty_inputs}); the extract has likely lost them, or pass --force"
        )


def new_staging(run: Run) -> Path:
    """An empty staging folder for this run (renamed into place at the end)."""
    return staging_folder(run.output, run.as_of)


def finish_run(
    run: Run, scorer: BatchScorer, staging: Path, rows_read: int, stats: BatchStats, engine: str
) -> ScoreResult:
    """Check the row balance and the night's plausibility, write the manifest and drift plot,
    and publish atomically; on any failure remove the staging folder and publish nothing."""
    try:
        if stats.scored + stats.rejected != rows_read:  # never lose or invent a row
            raise ScoringError(
                f"row count mismatch: read {rows_read}, scored {stats.scored}, "
                f"rejected {stats.rejected}"
            )
        check_plausible(run, rows_read, stats)
    except ScoringError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    sc = run.cfg.scoring
    drift = drift_summary(scorer.reference, stats.drift, stats.score, sc)
    explainer = scorer.explainer
    manifest = {
        "as_of_date": run.as_of,
        "engine": engine,
        # "lean": the fitted steps applied to arrays (pipeline/score/lean_model.py); "model": the
        # model's own predict_proba, for pipelines the lean path does not know.
        "predict_path": "lean" if scorer.lean is not None else "model",
        "model": {"requested": run.model_uri, "name": scorer.name, "version": scorer.version},
        "input": [{"file": f.name, "bytes": f.stat().st_size} for f in run.files],
        "rows": {"read": rows_read, "scored": stats.scored, "rejected": stats.rejected},
        # Rows whose action a person must review before it happens (the policy's `review`).
        "human_review_required": stats.review,
        # Which collection policy decided the actions, as it was tonight.
        "policy": {"file": str(Path(run.cfg.policy).resolve()), "sha256": sha256(run.cfg.policy)},
        "rejects_by_reason": dict(sorted(stats.reasons.items())),
        "unseen_categories": {k: v for k, v in sorted(stats.unseen.items()) if v},
        # Values past the range training saw, per column (scored or rejected as configured).
        "out_of_range": dict(sorted(stats.out_of_range.items())),
        "extra_columns_ignored": run.extra_columns,
        "reason_codes": {
            "top_k": scorer.top_k if explainer else 0,
            "method": explainer.method if explainer else None,
            "units": explainer.units if explainer else None,
        },
        "outputs": {f: {"sha256": sha256(staging / f)} for f in (SCORES_FILE, REJECTS_FILE)},
        "drift": drift,
        "timings": {k: round(v, 3) for k, v in run.timings.items()},
    }
    drift_plot(drift, staging / DRIFT_PLOT, sc.psi_watch, sc.psi_alert)
    manifest["timings"]["total_s"] = round(time.perf_counter() - run.started, 3)
    (staging / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2))
    final = partition(run.output, run.as_of)
    publish(staging, final)
    return ScoreResult(final, manifest)
