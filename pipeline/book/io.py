"""Reading a loan table and validating it into features, target and ids.

Every problem raises :class:`DataError` with a message naming the file and the column, and
nothing is dropped silently: a row or column that cannot be used stops the run.
"""

from __future__ import annotations

import bz2
import collections
import csv
import difflib
import gzip
import lzma
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from delinq.features.cleaning import coerce_types
from delinq.pipeline.book.personal import personal_columns
from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.config import Config, DataConfig

TRUE_LIKE = {"1", "1.0", "true", "yes", "y", "bad", "default", "defaulted"}


class DataError(ValueError):
    """A loan table that cannot be used as given."""


@dataclass(frozen=True)
class Dataset:
    """A validated loan table, split into model inputs, a 0/1 target and row ids."""

    X: pd.DataFrame
    y: pd.Series
    ids: pd.Series
    numeric: list[str]
    categorical: list[str]
    source: str
    # Columns kept out of the inputs because they identify a person: column -> why.
    personal: dict[str, str] = field(default_factory=dict)
    # What reading changed, in words that name columns and counts, never a value.
    notes: tuple[str, ...] = ()
    # The protected attributes (data.protected) as read, row-aligned: for the fairness report.
    protected: pd.DataFrame | None = None
    # data.group as read, row-aligned: rows of one group stay in one CV fold.
    groups: pd.Series | None = None
    # data.time as read (text), row-aligned: the out-of-time holdout takes its latest values.
    time: pd.Series | None = None

    @property
    def bad_rate(self) -> float:
        """Share of positive (bad) rows."""
        return float(self.y.mean())


# What a file is, by its first bytes (a gzip file named .csv is still gzip).
MAGIC = {
    b"PAR1": "parquet",
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"PK\x03\x04": "zip",
    b"\xfd7zXZ\x00": "xz",
}
DELIMITERS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class CsvLayout:
    """How a delimited text file is written: its compression (or ``None``), delimiter and
    header (the column names, as written)."""

    compression: str | None
    delimiter: str
    header: tuple[str, ...]

    def check_header(self, path: Path) -> None:
        """Refuse a header that names a column twice (readers would silently rename one)."""
        seen = collections.Counter(self.header)
        twice = [name for name, n in seen.items() if n > 1]
        if twice:
            raise DataError(
                f"{path}: the header names column(s) more than once: "
                + ", ".join(f"'{name}'" for name in twice)
            )


def file_kind(path: Path) -> str | None:
    """``parquet``, a compression name, or ``None`` (plain text), from the first bytes."""
    with open(path, "rb") as f:
        head = f.read(8)
    return next((kind for magic, kind in MAGIC.items() if head.startswith(magic)), None)


def csv_layout(path: Path, sep: str | None = None) -> CsvLayout:
    """The compression and delimiter of a CSV file, read from its bytes and its header line.

    The delimiter is ``sep`` when given, else the one of ``,``, ``;``, tab and ``|`` that the
    header holds most of.
    """
    kind = file_kind(path)
    try:
        with decompressed(path, kind) as f:
            header = f.readline(1 << 16).decode("utf-8-sig", errors="replace")
    except (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError) as exc:
        raise DataError(
            f"{path}: cannot read file ({kind} data is damaged: {type(exc).__name__})"
        ) from None
    if "\x00" in header or header.count("\ufffd") > len(header) // 10:
        raise DataError(f"{path}: not a CSV file: it holds binary data")
    counts = {d: header.count(d) for d in DELIMITERS}
    delimiter = sep or (max(DELIMITERS, key=counts.get) if any(counts.values()) else ",")
    names = next(csv.reader([header.rstrip("\r\n")], delimiter=delimiter), [])
    return CsvLayout(kind, delimiter, tuple(names))


def decompressed(path: Path, kind: str | None):
    """A binary reader of the file's bytes, decompressed (``kind`` from :func:`file_kind`)."""
    if kind == "zip":
        return _zip_member(path)
    return {"gzip": gzip.open, "bz2": bz2.open, "xz": lzma.open}.get(kind, open)(path, "rb")


def _zip_member(path: Path):
    archive = zipfile.ZipFile(path)
    names = [n for n in archive.namelist() if not n.endswith("/")]
    if len(names) != 1:
        raise DataError(f"{path}: a zip file must hold exactly one CSV file, it holds {len(names)}")
    return archive.open(names[0])


def parse_error(exc: Exception) -> str:
    """A CSV parser's complaint in one line and without the offending row's content."""
    text = str(exc)
    pandas = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if pandas:
        expected, line, found = pandas.groups()
        return f"line {line} has {found} fields, the header {expected}"
    arrow = re.search(r"Expected (\d+) columns, got (\d+)", text)
    if arrow:
        expected, found = arrow.groups()
        return f"a row has {found} fields, the header {expected}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte {exc.start})"
    first = (text.strip().splitlines() or [""])[0].split(":")[0][:120]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def read_table(path: Path, sep: str | None = None) -> pd.DataFrame:
    """Read a CSV (plain, gzip, bz2, xz or zip; comma, semicolon, tab or bar, or ``sep``) or
    Parquet file, turning every reader failure into a one-line :class:`DataError` that quotes
    no row."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty (0 bytes)")
    suffix = path.suffix.lower()
    try:
        if path.is_dir() or file_kind(path) == "parquet":
            frame = pd.read_parquet(path)
        elif suffix in {".parquet", ".pq"}:
            raise DataError(f"{path}: not a Parquet file (its first bytes say otherwise)")
        elif suffix in {".csv", ".txt", ".tsv", ".gz", ".bz2", ".xz", ".zip"}:
            layout = csv_layout(path, sep)
            layout.check_header(path)
            frame = pd.read_csv(
                _zip_member(path) if layout.compression == "zip" else path,
                sep=layout.delimiter,
                compression=None if layout.compression == "zip" else layout.compression,
                low_memory=False,
            )
        else:
            raise DataError(f"{path}: unsupported file type '{suffix}' (use .csv or .parquet)")
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file has no columns or rows") from None
    except (UnicodeDecodeError, pd.errors.ParserError, OSError, ValueError, EOFError) as exc:
        raise DataError(f"{path}: cannot read file ({parse_error(exc)})") from None
    if frame.empty:
        raise DataError(f"{path}: file has a header but no rows")
    return frame


def _missing_column(source: str, column: str, role: str, frame: pd.DataFrame) -> DataError:
    names = {str(c).lower(): str(c) for c in frame.columns}
    close = difflib.get_close_matches(column.lower(), list(names), n=3, cutoff=0.5)
    hint = [names[c] for c in close]
    suggestion = f"; did you mean {', '.join(hint)}?" if hint else ""
    return DataError(f"{source}: {role} column '{column}' not found{suggestion}")


def encode_target(raw: pd.Series, positive_label: str | None, source: str) -> pd.Series:
    """Map a two-valued target to 0/1, with ``positive_label`` (or 1/true) as the bad class."""
    name = raw.name
    if raw.isna().any():
        rows = np.flatnonzero(raw.isna().to_numpy())[:5].tolist()
        raise DataError(
            f"{source}: target column '{name}' is empty in {int(raw.isna().sum())} rows "
            f"(first at row positions {rows}); fill or remove them before training"
        )
    values = raw.astype(str).str.strip()
    distinct = sorted(values.unique())
    if len(distinct) != 2:
        shown = ", ".join(distinct[:6]) + (" ..." if len(distinct) > 6 else "")
        raise DataError(
            f"{source}: target column '{name}' must have exactly two values, found "
            f"{len(distinct)} ({shown})"
        )
    if positive_label is not None:
        if str(positive_label) not in distinct:
            raise DataError(
                f"{source}: positive label '{positive_label}' does not occur in target column "
                f"'{name}' (values: {', '.join(distinct)})"
            )
        positive = str(positive_label)
    else:
        likely = [v for v in distinct if v.lower() in TRUE_LIKE]
        if len(likely) != 1:
            raise DataError(
                f"{source}: cannot tell which value of target column '{name}' means default "
                f"({', '.join(distinct)}); pass --positive-label or set data.positive_label"
            )
        positive = likely[0]
    return (values == positive).astype(np.int64).rename(name)


def mostly_numeric(
    column: pd.Series, max_share: float, source: str
) -> tuple[pd.Series | None, str | None]:
    """(numbers, note) for a text column that holds numbers in at least half its cells.

    A numeric column with a few unparseable cells (one ``"twelve"`` among 1,000 durations)
    stays numeric: those cells become missing and the note counts them. Past ``max_share``
    of the filled cells, the column is neither clearly numeric nor clearly text and reading
    stops with an error naming it. (None, None) for numeric columns and real text columns.
    """
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return None, None
    filled = column.notna().to_numpy()
    if not filled.any():
        return None, None
    numbers = pd.to_numeric(column, errors="coerce")
    bad = filled & numbers.isna().to_numpy()
    n_bad, n_filled = int(bad.sum()), int(filled.sum())
    if n_bad > n_filled / 2:
        return None, None  # text, perhaps with a few number-like levels
    first = int(np.flatnonzero(bad)[0]) if n_bad else None
    where = f"'{column.name}'"
    if n_bad > max_share * n_filled:
        raise DataError(
            f"{source}: column {where} is numeric in {n_filled - n_bad:,} cells but not in "
            f"{n_bad:,} ({n_bad / n_filled:.1%}, first at row position {first}), over "
            f"data.max_unparseable_share ({max_share:.1%}); fix those cells, or list the "
            "column in data.categorical to read it as text"
        )
    note = None
    if n_bad:
        note = (
            f"column {where}: {n_bad:,} cell(s) are not numbers and were read as missing "
            f"(first at row position {first})"
        )
    return numbers.astype("float64"), note


def validate(frame: pd.DataFrame, cfg: DataConfig, source: str) -> Dataset:
    """Validate a raw loan table against the data config and split it into a :class:`Dataset`."""
    if cfg.target not in frame.columns:
        raise _missing_column(source, cfg.target, "target", frame)
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    y = encode_target(frame[cfg.target], cfg.positive_label, source)

    if cfg.id is not None:
        if cfg.id not in frame.columns:
            raise _missing_column(source, cfg.id, "id", frame)
        ids = frame[cfg.id]
        dup = ids.duplicated(keep=False)
        if dup.any() or ids.isna().any():
            what = "duplicated" if dup.any() else "missing"
            rows = np.flatnonzero((dup | ids.isna()).to_numpy())[:6].tolist()
            raise DataError(
                f"{source}: id column '{cfg.id}' has {what} values in "
                f"{int((dup | ids.isna()).sum())} rows (row positions {rows})"
            )
    else:
        ids = pd.Series(np.arange(len(frame)), name="row")

    for key in ("drop", "personal", "not_personal", "protected"):
        unknown = [c for c in getattr(cfg, key) if c not in frame.columns]
        if unknown:
            raise DataError(f"{source}: data.{key} columns not found: {', '.join(unknown)}")
    aside = {}  # the grouping and time columns: read, never inputs
    for role in ("group", "time"):
        column = getattr(cfg, role)
        if column is not None:
            if column not in frame.columns:
                raise _missing_column(source, column, role, frame)
            aside[role] = frame[column].astype(str).reset_index(drop=True)
    kept_out = [cfg.target, cfg.id, cfg.group, cfg.time, *cfg.drop]
    X = frame.drop(columns=[c for c in kept_out if c is not None])
    inputs = set(cfg.categorical) | set(cfg.history.columns() if cfg.history else ())
    for what, names in (
        ("inputs (categorical or history)", inputs),
        ("protected", set(cfg.protected)),
    ):
        both = sorted(names & set(cfg.personal))
        if both:
            raise DataError(
                f"{source}: data.personal columns are also declared as {what}: {', '.join(both)}"
            )
    protected = X[cfg.protected].reset_index(drop=True) if cfg.protected else None
    if not cfg.allow_protected_inputs:
        X = X.drop(columns=cfg.protected)
    inputs |= set(cfg.protected)  # declared, so never taken for personal data
    personal = personal_columns(X, cfg.personal, sorted(inputs | set(cfg.not_personal)))
    X = X.drop(columns=list(personal))
    # A number column with a few words in it stays numbers (personal data is gone by now).
    notes: list[str] = []
    for col in [c for c in X.columns if c not in inputs]:
        parsed, note = mostly_numeric(X[col], cfg.max_unparseable_share, source)
        if parsed is not None:
            X[col] = parsed
        if note:
            notes.append(note)
    if X.shape[1] == 0:
        raise DataError(f"{source}: no feature columns left besides target, id and personal data")
    empty = [c for c in X.columns if X[c].isna().all()]
    if empty:
        raise DataError(f"{source}: column(s) entirely empty: {', '.join(empty)}")

    missing_cat = [c for c in cfg.categorical if c not in X.columns and c not in cfg.protected]
    if missing_cat:
        raise _missing_column(source, missing_cat[0], "categorical", frame)
    categorical = [
        c for c in X.columns if c in cfg.categorical or not pd.api.types.is_numeric_dtype(X[c])
    ]
    numeric = [c for c in X.columns if c not in categorical]
    if cfg.history is not None:
        for col in cfg.history.columns():
            if col not in X.columns:
                raise _missing_column(source, col, "history", frame)
            if col not in numeric:
                bad = int(pd.to_numeric(X[col], errors="coerce").isna().sum() - X[col].isna().sum())
                raise DataError(
                    f"{source}: history column '{col}' must be numeric; {bad} values are not"
                )
    X = coerce_types(X, numeric, categorical)
    return Dataset(
        X=X.reset_index(drop=True),
        y=y.reset_index(drop=True),
        ids=ids.reset_index(drop=True),
        numeric=numeric,
        categorical=categorical,
        source=source,
        personal=personal,
        notes=tuple(notes),
        protected=protected,
        groups=aside.get("group"),
        time=aside.get("time"),
    )


def load_dataset(path: Path, cfg: DataConfig) -> Dataset:
    """Read ``path`` and validate it with ``cfg``."""
    return validate(read_table(path, cfg.sep), cfg, str(path))


def adapt_to_columns(cfg: DataConfig, columns: list[str]) -> tuple[DataConfig, list[str]]:
    """Drop dataset-specific settings whose columns are absent; return the notes on what changed.

    Lets ``--data foo.csv --target y`` run with the default config on a table it was not
    written for.
    """
    notes: list[str] = []
    present = set(columns)
    update: dict = {}
    if cfg.id is not None and cfg.id not in present:
        notes.append(f"id column '{cfg.id}' not in data: rows are identified by position")
        update["id"] = None
    categorical = [c for c in cfg.categorical if c in present]
    if categorical != cfg.categorical:
        notes.append("categorical columns not in data were ignored")
        update["categorical"] = categorical
    drop = [c for c in cfg.drop if c in present]
    if drop != cfg.drop:
        update["drop"] = drop
    if cfg.history is not None and not set(cfg.history.columns()) <= present:
        notes.append("history columns not in data: payment-history features are skipped")
        update["history"] = None
    return cfg.model_copy(update=update), notes


def model_rows(
    frame: pd.DataFrame,
    inputs: list[str],
    categorical: list[str],
    id_col: str | None,
    source: str,
) -> tuple[pd.DataFrame, pd.Series | None]:
    """(inputs, ids) of a raw table for a trained model: its input columns typed as training
    typed them, with the same :func:`coerce_types`, whatever the table's other columns are.

    Explain and report read tables through this, so a table that trained is a table that
    explains: no target is needed, and a model trained with ``--data X --target Y`` on the
    default config explains ``X`` without a config written for it. ``ids`` are row positions
    for a model trained without an id, and None when the table lacks the model's ``id_col``.
    """
    frame = frame.copy()
    frame.columns = [str(c) for c in frame.columns]
    missing = [c for c in inputs if c not in frame.columns]
    if missing:
        role = f"model input (1 of {len(missing)} missing)"
        raise _missing_column(source, missing[0], role, frame)
    if id_col is None:  # trained without an id: rows are named by position, as in training
        ids = pd.Series(np.arange(len(frame)), name="row")
    else:
        ids = frame[id_col].reset_index(drop=True) if id_col in frame.columns else None
    numeric = [c for c in inputs if c not in categorical]
    X = coerce_types(frame[inputs], numeric, categorical)
    return X.reset_index(drop=True), ids


def read_training_frame(cfg: Config) -> tuple[pd.DataFrame, str]:
    """(raw table, its name): the configured file, or the simulated book training would use."""
    if cfg.data.path is not None:
        return read_table(cfg.data.path, cfg.data.sep), str(cfg.data.path)
    rows, seed = cfg.data.simulate_rows, cfg.seed
    return simulate_book(rows, seed), f"simulated book ({rows:,} rows, seed {seed})"


def load_training_data(cfg: Config) -> Dataset:
    """The configured loan table, or a simulated book when no path is given."""
    frame, source = read_training_frame(cfg)
    return validate(frame, cfg.data, source)
