"""The nightly scorer as a Spark job: the local engine's batch scorer, run by ``mapInArrow``.

Nothing about scoring is reimplemented here. The driver does what the local engine does
before its batch loop (:func:`delinq.pipeline.score.local.open_run`: resolve the alias to a
version once, check every file's footer for missing columns and unsafe types), then:

1. counts rows from the Parquet footers and finds duplicated ids with a Spark aggregation;
2. broadcasts the :class:`~delinq.pipeline.score.batch.BatchScorer` (the fitted model travels with
   it; executors never talk to MLflow);
3. runs ``BatchScorer.score`` on every Arrow batch in ``mapInArrow``, each row carrying its
   position in the input (``_metadata.row_index`` plus the file's first row), so rejects
   name the same rows as the local engine's;
4. writes scores and rejects with Spark into the same staging folder, then the local
   engine's :func:`~delinq.pipeline.score.local.finish_run` checks the row balance, writes the
   manifest and drift plot, and publishes by rename.

Output layout: ``scores.parquet`` and ``rejects.parquet`` are folders of part files (read
them with ``pandas.read_parquet`` or ``pyarrow.dataset`` as one table).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from delinq.pipeline.config import Config, SparkConfig
from delinq.pipeline.score.batch import (
    REJECTS_SCHEMA,
    BatchScorer,
    BatchStats,
    ScoringError,
    repeat_text,
)
from delinq.pipeline.score.publish import REJECTS_FILE, SCORES_FILE
from delinq.pipeline.score.run import ScoreResult, check_size, finish_run, new_staging, open_run

_SPARK_TYPES = {
    pa.string(): "string",
    pa.float64(): "double",
    pa.int64(): "bigint",
    pa.bool_(): "boolean",
}


def spark_session(cfg: SparkConfig):
    """The Spark session to score with: the active one (spark-submit), or a new one from cfg."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ScoringError(
            "the Spark engine needs PySpark: pip install -e '.[spark]' (and a Java 17+ runtime)"
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    # Local mode: Python workers must run this interpreter (the one with our packages).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.appName("delinq-score")
    if cfg.master:
        builder = builder.master(cfg.master)
    for key, value in cfg.conf.items():
        builder = builder.config(key, value)
    try:
        return builder.getOrCreate()
    except Exception as exc:  # the JVM failed to start: say what to check
        raise ScoringError(
            f"Spark did not start ({_first_line(exc)}); is a Java 17+ runtime installed?"
        ) from None


def score_book_spark(
    input_path: Path,
    output: Path,
    as_of: str,
    model_uri: str,
    cfg: Config,
    force: bool = False,
    reasons: bool | None = None,
    spark=None,
) -> ScoreResult:
    """:func:`~delinq.pipeline.score.local.score_book` as a Spark job (same rows and manifest)."""
    with open_run(input_path, output, as_of, model_uri, cfg, reasons, force) as run:
        csv = [f for f in run.files if f.suffix.lower() != ".parquet"]
        if csv:
            raise ScoringError(
                f"{csv[0]}: the Spark engine reads Parquet; use --engine local for CSV"
            )
        spark = spark or spark_session(cfg.scoring.spark)
        from pyspark.sql import functions as F

        scorer = run.scorer
        id_col = scorer.id
        # Each row's position in the whole input, as the local engine numbers rows.
        first_row, rows_read = {}, 0
        for f in run.files:
            first_row[f.name] = rows_read
            rows_read += pq.ParquetFile(f).metadata.num_rows
        if rows_read == 0:
            raise ScoringError(f"{', '.join(map(str, run.files))}: input has a header but no rows")
        check_size(run, rows_read)
        offsets = F.create_map(*[F.lit(x) for kv in first_row.items() for x in kv])
        book = spark.read.parquet(*[str(f) for f in run.files]).select(
            *[F.col(f"`{c}`") for c in run.needed],
            (offsets[F.col("_metadata.file_name")] + F.col("_metadata.row_index")).alias("_row"),
        )
        ids = F.col(f"`{id_col}`").cast("string")
        duplicated = [
            r[0]
            for r in book.where(ids.isNotNull()).groupBy(ids).count().where("count > 1").collect()
        ]
        scorer.set_duplicated(duplicated)
        run.lap("validate_input_s")

        staging = new_staging(run)
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(cfg.scoring.batch_rows))
        shared = spark.sparkContext.broadcast(scorer)
        union = _union_schema(scorer)
        scored = book.mapInArrow(
            lambda batches: _score_partition(shared, batches, union), _ddl(union)
        )
        try:
            from pyspark import StorageLevel

            # Scores, rejects and counts come out of one pass; keep it so each is read, not rerun.
            scored = scored.persist(StorageLevel.DISK_ONLY)
            for name, columns in (
                (SCORES_FILE, scorer.schema.names),
                (REJECTS_FILE, REJECTS_SCHEMA.names),
            ):
                kind = "score" if name == SCORES_FILE else "reject"
                part = scored.where(F.col("_kind") == kind).select(
                    *[F.col(f"`{c}`") for c in columns]
                )
                part.write.option("compression", "zstd").parquet(str(staging / name))
                _tidy(staging / name)
            stats = BatchStats.empty(scorer.reference)
            for row in scored.where(F.col("_kind") == "stats").select("_stats").collect():
                stats.add(BatchStats.from_json(row[0]))
        except BaseException as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, Exception) and not isinstance(exc, ScoringError):
                raise ScoringError(f"Spark job failed: {_first_line(exc)}") from exc
            raise
        finally:
            scored.unpersist()
            shared.unpersist()
        run.lap("score_s")
        return finish_run(run, scorer, staging, rows_read, stats, engine="spark")


def _union_schema(scorer: BatchScorer) -> pa.Schema:
    """One output row type for scores, rejects and per-batch counts (told apart by _kind)."""
    extra = [f for f in REJECTS_SCHEMA if f.name not in scorer.schema.names]
    return pa.schema([*scorer.schema, *extra, ("_kind", pa.string()), ("_stats", pa.string())])


def _ddl(schema: pa.Schema) -> str:
    return ", ".join(f"`{f.name}` {_SPARK_TYPES[f.type]}" for f in schema)


def _score_partition(shared, batches, union: pa.Schema):
    """Executor side: score each Arrow batch and emit scores, rejects and counts as one type."""
    scorer = shared.value
    for batch in batches:
        rows = batch.column("_row").to_numpy(zero_copy_only=False)
        scores, rejects, stats = scorer.score(batch, rows)
        parts = [
            scores.append_column("_kind", repeat_text("score", scores.num_rows)),
            rejects.append_column("_kind", repeat_text("reject", rejects.num_rows)),
            pa.table({"_kind": ["stats"], "_stats": [stats.to_json()]}),
        ]
        table = pa.concat_tables(parts, promote_options="permissive").select(union.names)
        yield from table.cast(union).to_batches()


def _tidy(folder: Path) -> None:
    """Drop Spark's marker and checksum files; name parts by position, so a re-run is equal."""
    for extra in [*folder.glob("_*"), *folder.glob(".*")]:
        extra.unlink()
    for i, part in enumerate(sorted(folder.glob("part-*"))):
        part.rename(folder / f"part-{i:05d}.parquet")


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
