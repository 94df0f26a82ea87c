"""Snapshots of a panel too big for one machine: the same snapshot function, run by Spark.

Nothing about snapshots is reimplemented here. The panel's rows are grouped by a hash of the
account id (every row of an account in one group) and each group goes through
:func:`~delinq.pipeline.book.panel.panel_from_frame` and
:func:`~delinq.pipeline.book.panel.iter_snapshots` in ``applyInPandas``, laid on the whole
panel's months so every group has the same observation months. Each group also returns its
exclusion counts (one extra row, as JSON); the driver sums them per month. The table is
written by Spark as a folder of Parquet part files, beside it the same exclusions and
training config as the local engine writes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa

from delinq.pipeline.book.io import DataError, file_kind
from delinq.pipeline.book.panel import (
    ACCOUNT,
    OBSERVED,
    SNAPSHOT_ID,
    TARGET,
    _names,
    _word_months,
    exclusion_report,
    iter_snapshots,
    panel_from_frame,
    write_companions,
)
from delinq.pipeline.config import Config, PanelConfig

COUNTS = "_counts"  # the extra column: a group's exclusion counts, or its error


def _history_names(cfg: PanelConfig) -> list[str]:
    flows = [k for k in ("balance", "payment") if getattr(cfg, k)]
    return [f"{k}_{i}" for k in ("status", *flows) for i in range(cfg.history_months)]


def _schema(cfg: PanelConfig, static_types: dict[str, str]) -> str:
    """The Spark schema (DDL) of the snapshot rows, in :func:`iter_snapshots`' order."""
    fields = [f"`{c}` string" for c in (SNAPSHOT_ID, ACCOUNT, OBSERVED)]
    fields += ["`months_on_book` bigint", *(f"`{c}` double" for c in _history_names(cfg))]
    fields += ["`limit` double"] if cfg.limit else []
    fields += [f"`{c}` {static_types[c]}" for c in cfg.static]
    return ", ".join([*fields, f"`{TARGET}` bigint", f"`{COUNTS}` string"])


def _group_snapshots(cfg: PanelConfig, span: tuple[int, int], schema: str):
    """The function each group of accounts runs: its snapshot rows, then one row of counts."""
    fields = [f.split("` ") for f in schema.split(", ")]
    columns = [name.strip("`") for name, _ in fields]
    text = [name.strip("`") for name, kind in fields if kind == "string"]

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        try:
            panel = panel_from_frame(frame, cfg, "panel", span)
            parts, counts = [], []
            for part, count in iter_snapshots(panel, cfg):
                parts.append(part)
                counts.append(count)
            note = {"counts": counts}
        except DataError as exc:  # said on the driver, once, as one line
            parts, note = [], {"error": str(exc)}
        rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        last = pd.DataFrame({COUNTS: [json.dumps(note)]}, dtype=object)
        out = pd.concat([rows, last], ignore_index=True).reindex(columns=columns)
        # Plain objects for text, None where empty: Spark's Arrow conversion takes no
        # Arrow-backed (pandas 3) str, and an all-empty column would come as numbers.
        for column in text:
            values = out[column].astype(object)
            out[column] = values.where(values.notna(), None)
        return out

    return run


def spark_snapshots(
    spark, cfg: Config, panel_path: Path, out: Path, groups: int | None = None
) -> tuple[pd.DataFrame, list[Path]]:
    """:func:`~delinq.pipeline.book.panel.write_snapshots` on Spark: the table at ``out`` (a
    folder of Parquet parts), its exclusions and training config beside it."""
    from pyspark.sql import functions as F

    pcfg = cfg.panel
    names = _names(pcfg)
    path = Path(panel_path)
    parquet = path.is_dir() or (path.is_file() and file_kind(path) == "parquet")
    if not parquet:
        raise DataError(f"{path}: the Spark engine reads a Parquet panel (a file or a folder)")
    frame = spark.read.parquet(str(panel_path))
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise DataError(f"{panel_path}: panel column '{missing[0]}' not found (panel:)")
    frame = frame.select(*names)
    # The whole panel's months (a few dozen distinct values), so every group shares them.
    words = [r[0] for r in frame.select(pcfg.month).distinct().collect()]
    months = _word_months(pa.array([str(w) for w in words]))
    if (months < 0).any() or not len(months):
        raise DataError(f"{panel_path}: '{pcfg.month}' holds values that are not months")
    span = (int(months.min()), int(months.max()))
    static_types = {f.name: f.dataType.simpleString() for f in frame.schema.fields}
    schema = _schema(pcfg, static_types)
    groups = groups or max(spark.sparkContext.defaultParallelism * 4, 1)
    keyed = frame.withColumn("_group", F.abs(F.hash(F.col(pcfg.id))) % groups)
    result = keyed.groupBy("_group").applyInPandas(
        lambda part: _group_snapshots(pcfg, span, schema)(part.drop(columns="_group")), schema
    )
    result = result.persist()
    try:
        found = result.where(F.col(COUNTS).isNotNull()).select(COUNTS).collect()
        notes = [json.loads(r[0]) for r in found]
        errors = [n["error"] for n in notes if "error" in n]
        if errors:
            raise DataError(f"{panel_path}: {errors[0]} (in a Spark group of accounts)")
        report = exclusion_report([c for n in notes for c in n["counts"]])
        if int(report["kept"].sum()) == 0:
            raise DataError(f"{panel_path}: no account is left in any snapshot")
        out = Path(out)
        staging = out.with_name(f".{out.name}.tmp")
        shutil.rmtree(staging, ignore_errors=True)
        rows = result.where(F.col(COUNTS).isNull()).drop(COUNTS)
        rows.write.parquet(str(staging), compression="zstd")
        if out.is_dir():
            shutil.rmtree(out)
        staging.replace(out)
    finally:
        result.unpersist()
        shutil.rmtree(Path(out).with_name(f".{Path(out).name}.tmp"), ignore_errors=True)
    text = {c for c in pcfg.static if static_types[c] == "string"}
    return report, [out, *write_companions(cfg, out, report, text)]
