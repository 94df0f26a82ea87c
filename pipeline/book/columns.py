"""Large input files handed over one column at a time, so only one column is ever in memory.

Parquet files are read a column at a time, texts named as ``dictionary`` as dictionaries (a
month or an account id repeats over many rows: each distinct text is held once). A CSV file is
read whole by :func:`~delinq.pipeline.book.io.read_table` (its reader is not columnar) and
then handed over the same way. Beside it, the checks and conversions every such column
goes through: numbers, ids without gaps, ids as codes into their sorted distinct texts.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from delinq.pipeline.book.io import DataError, file_kind, read_table


class Columns:
    """The columns of one or more files (or a table in memory), one at a time."""

    def __init__(self, table: pa.Table | None = None, files=(), dictionary=()):
        self.table, self.files, self.dictionary = table, list(files), set(dictionary)
        self.num_rows = (
            table.num_rows
            if table is not None
            else sum(pq.ParquetFile(f).metadata.num_rows for f in self.files)
        )

    def __call__(self, name: str) -> pa.ChunkedArray:
        if self.table is not None:
            return self.table[name]
        dictionary = [name] if name in self.dictionary else None
        parts = [pq.read_table(f, columns=[name], read_dictionary=dictionary) for f in self.files]
        if len(parts) == 1:
            return parts[0][name]
        return pa.concat_tables(parts, promote_options="permissive")[name]

    def batches(self, names: list[str], rows: int) -> Iterator[pa.Table]:
        """The columns ``names``, about ``rows`` rows at a time, in file and row order (of a
        Parquet file only the batch in hand is ever in memory)."""
        if self.table is not None:
            for batch in self.table.select(names).to_batches(max_chunksize=rows):
                yield pa.Table.from_batches([batch])
            return
        for file in self.files:
            for batch in pq.ParquetFile(file).iter_batches(batch_size=rows, columns=names):
                yield pa.Table.from_batches([batch])


def read_columns(
    path: Path, sep: str | None, columns: list[str], dictionary=(), role: str = "panel",
    section: str = "panel:",
) -> Columns:  # fmt: skip
    """One file, or a folder of files (CSV or Parquet, in name order), checked for
    ``columns``: a missing one is an error naming the ``role`` and config ``section``."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    files = [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in {".csv", ".parquet"})
        if not files:
            raise DataError(f"{path}: no .csv or .parquet files in the folder")
    if all(f.stat().st_size and file_kind(f) == "parquet" for f in files):
        for file in files:
            names = pq.read_schema(file).names
            missing = [c for c in columns if c not in names]
            if missing:
                raise DataError(f"{file}: {role} column '{missing[0]}' not found ({section})")
        return Columns(files=files, dictionary=dictionary)
    parts = []
    for file in files:
        frame = read_table(file, sep)
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"{file}: {role} column '{missing[0]}' not found ({section})")
        parts.append(pa.Table.from_pandas(frame[columns], preserve_index=False))
    table = pa.concat_tables(parts, promote_options="permissive") if len(parts) > 1 else parts[0]
    return Columns(table=table)


def row_positions(mask, positions: np.ndarray | None = None) -> list[int]:
    """The first six rows where ``mask`` holds: what an error names instead of a value.
    ``positions``: each row's position in the whole input, when ``mask`` covers a part."""
    at = np.flatnonzero(np.asarray(mask))[:6]
    return (at if positions is None else np.asarray(positions)[at]).tolist()


def numbers(values: pa.ChunkedArray) -> np.ndarray:
    """A column as floats; text that is not a number becomes NaN (the caller says so)."""
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return values.cast(pa.float64()).to_numpy(zero_copy_only=False)
    return pd.to_numeric(values.to_pandas(), errors="coerce").to_numpy(dtype=float)


def ids_of(
    source: Columns, column: str, where: str, positions: np.ndarray | None = None
) -> pa.ChunkedArray:
    """The id column of ``source``; a row without an id is an error naming its position."""
    ids = source(column)
    if ids.null_count:
        empty = ids.is_null().to_numpy(zero_copy_only=False)
        raise DataError(
            f"{where}: {int(empty.sum())} row(s) have no '{column}' (row positions "
            f"{row_positions(empty, positions)})"
        )
    return ids


def distinct_texts(values: pa.ChunkedArray) -> pa.Array:
    """The distinct texts of a column, sorted (a dictionary chunk's dictionary read once)."""
    parts = [
        (c.dictionary if pa.types.is_dictionary(c.type) else c).cast(pa.string())
        for c in values.chunks
    ]
    uniques = pc.unique(pa.chunked_array(parts, type=pa.string()))
    return uniques.take(pc.sort_indices(uniques))


def codes_in(values: pa.ChunkedArray, uniques: pa.Array) -> np.ndarray:
    """Each row's position in ``uniques`` (-1: not there). One lookup for the whole column
    (each lookup hashes ``uniques`` anew); dictionary chunks look up their texts, not rows."""
    if not values.num_chunks:
        return np.zeros(0, np.int32)
    chunks = values.chunks
    coded = pa.types.is_dictionary(values.type)
    texts = [(c.dictionary if coded else c).cast(pa.string()) for c in chunks]
    found = pc.index_in(pa.chunked_array(texts, type=pa.string()), value_set=uniques)
    found = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
    if not coded:
        return found
    ends = np.cumsum([len(d) for d in texts])
    return np.concatenate(
        [found[end - len(c.dictionary) : end][c.indices.to_numpy(zero_copy_only=False)]
         for c, end in zip(chunks, ends, strict=True)]
    )  # fmt: skip
