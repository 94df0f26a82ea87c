"""The local engine of the nightly scoring: stream the book's batches through the scorer.

The run's start and finish (:mod:`delinq.pipeline.score.run`) are shared with the Spark
engine. File-level faults (unreadable or empty input, a missing column, a column of an unsafe
type) raise :class:`ScoringError` before anything is published. Row-level faults go to the rejects
file with a reason and are counted; the rest is scored. Output is staged in a temporary folder
and swapped in by rename, so a killed run leaves the previous partition untouched, and a
re-run for the same as-of date rewrites the same bytes.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from delinq.pipeline.book.io import parse_error
from delinq.pipeline.config import Config
from delinq.pipeline.score.batch import (
    REJECTS_SCHEMA,
    BatchScorer,
    BatchStats,
    ScoringError,
)
from delinq.pipeline.score.ids import string_hashes
from delinq.pipeline.score.publish import (
    REJECTS_FILE,
    SCORES_FILE,
)
from delinq.pipeline.score.run import (
    Run,
    ScoreResult,
    check_size,
    finish_run,
    input_files,
    new_staging,
    open_file,
    open_run,
)


def _read_ids(files: list[Path], opened, id_col: str) -> tuple[int, list[str]]:
    """First pass over the id column only: row count and the ids that occur more than once.

    Reading every row once up front also finds a malformed or truncated file before any
    scoring starts. Memory stays small at any book size: each id is kept as a 64-bit hash of
    its text, and only ids whose hashes repeat are compared as text, in a second pass.
    """

    def id_batches():
        for path, (batches, _) in zip(files, opened, strict=True):
            try:
                for batch in batches([id_col]):
                    yield batch.column(id_col)
            except (pa.ArrowInvalid, OSError) as exc:
                raise ScoringError(f"{path}: cannot read file ({parse_error(exc)})") from None

    rows, parts = 0, []
    for ids in id_batches():
        rows += len(ids)
        parts.append(string_hashes(ids))
    if rows == 0:
        raise ScoringError(f"{', '.join(map(str, files))}: input has a header but no rows")
    hashes = np.concatenate(parts)
    del parts
    hashes.sort()
    repeated = np.unique(hashes[1:][hashes[1:] == hashes[:-1]])
    del hashes
    if not len(repeated):
        return rows, []
    seen: Counter = Counter()
    for ids in id_batches():
        ids = ids.cast(pa.string()).drop_null()
        seen.update(ids.filter(pa.array(np.isin(string_hashes(ids), repeated))).to_pylist())
    return rows, sorted(i for i, n in seen.items() if n > 1)


def _read_input_ids(input_path: Path, id_col: str, cfg: Config) -> tuple[int, list[str]]:
    """:func:`_read_ids` of the input's ``id_col``, opening the files for that column alone."""
    files = input_files(input_path)
    opened = [open_file(f, [id_col], set(), cfg.scoring.batch_rows, cfg.data.sep) for f in files]
    return _read_ids(files, opened, id_col)


@contextmanager
def _timed(spent: Counter, stage: str):
    started = time.perf_counter()
    yield
    spent[stage] += time.perf_counter() - started


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
    with ThreadPoolExecutor(1) as early:
        # The id pass reads the id column only, so it starts on the configured id's name while
        # the model loads (mostly imports, holding one core); a model with another id column
        # reads its own after loading. Errors surface only after the files were checked.
        ids_early = (
            early.submit(_read_input_ids, input_path, cfg.data.id, cfg) if cfg.data.id else None
        )
        with open_run(input_path, output, as_of, model_uri, cfg, reasons, force) as run:
            if ids_early is not None and run.scorer.id == cfg.data.id:
                rows_read, duplicated = ids_early.result()
            else:  # the model's id column is not the configured one: read it now
                rows_read, duplicated = _read_ids(run.files, run.opened, run.scorer.id)
            return _score(run, rows_read, duplicated, on_batch)


def _score(run: Run, rows_read: int, duplicated: list[str], on_batch) -> ScoreResult:
    """Stream the checked book's batches through the scorer into staging, then publish."""
    scorer = run.scorer
    check_size(run, rows_read)
    scorer.set_duplicated(duplicated)
    run.lap("validate_input_s")

    staging = new_staging(run)
    scores_writer = pq.ParquetWriter(
        staging / SCORES_FILE, scorer.schema, compression="zstd", **_unique_columns(scorer)
    )
    rejects_writer = pq.ParquetWriter(staging / REJECTS_FILE, REJECTS_SCHEMA, compression="zstd")
    stats = BatchStats.empty(scorer.reference)
    spent: Counter = Counter()  # seconds per stage of the batch loop
    try:
        for batch, (scores, rejects, counts) in _in_threads(scorer, _numbered(run.opened)):
            with _timed(spent, "write"):
                if scores.num_rows:
                    scores_writer.write_table(scores)
                if rejects.num_rows:
                    rejects_writer.write_table(rejects)
            stats.add(counts)
            if on_batch is not None:
                on_batch(batch.num_rows)
        scores_writer.close()
        rejects_writer.close()
    except BaseException:
        scores_writer.close()
        rejects_writer.close()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    run.lap("score_s")
    run.timings |= {f"{stage}_s": seconds for stage, seconds in spent.items()}
    return finish_run(run, scorer, staging, rows_read, stats, engine="local")


def _unique_columns(scorer: BatchScorer) -> dict:
    """Writer options for the columns whose values are (nearly) all distinct: id and PD.

    A dictionary of such a column overflows after the first page and is thrown away, and the
    min/max of random ids prunes nothing: skipping both writes 30 % faster and a quarter
    smaller (docs/benchmarks.md). Every other column repeats a few labels and keeps both.
    """
    names = scorer.schema.names
    return {
        "use_dictionary": [n for n in names if n not in ("id", "pd")],
        "write_statistics": [n for n in names if n != "id"],
    }


def _numbered(opened) -> Iterator[tuple[pa.RecordBatch, np.ndarray]]:
    """Every record batch of the input files, with its rows' positions in the input."""
    position = 0
    for batches, _ in opened:
        for batch in batches():
            yield batch, np.arange(position, position + batch.num_rows)
            position += batch.num_rows


def _in_threads(scorer: BatchScorer, batches, workers: int = 2):
    """(batch, scorer.score(batch)) in input order, scoring up to ``workers`` batches at once.

    Most of a batch's work (Arrow, NumPy, the numba kernels, XGBoost) releases the GIL, so a
    second batch fills the cores while the first is in single-threaded steps. At most
    ``workers`` batches are in memory. The threads run the SHAP kernel on one core each:
    two batches in flight already fill the cores (7 % faster end to end with reasons than
    each kernel starting its own threads, docs/benchmarks.md).
    """
    serial = None
    if scorer.explainer is not None:
        from delinq.models.treeshap import one_thread_here as serial
    with ThreadPoolExecutor(workers, initializer=serial) as pool:
        pending: deque = deque()
        for batch, rows in batches:
            pending.append((batch, pool.submit(scorer.score, batch, rows)))
            if len(pending) >= workers:
                done, future = pending.popleft()
                yield done, future.result()
        while pending:
            done, future = pending.popleft()
            yield done, future.result()
