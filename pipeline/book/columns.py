"""Large input files handed over one column at a time, so only one column is ever in memory.

Parquet files are read a column at a time, texts named as ``dictionary`` as dictionaries (a
month or an account id repeats over many rows: each distinct text is held once). A CSV file is
read whole by :func:`~delinq.pipeline.book.io.read_table` (its reader is not columnar) and
then handed over the same way.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
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
