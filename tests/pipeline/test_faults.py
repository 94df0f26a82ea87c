"""Fault injection: every bad input gets one line, its exit code, no traceback, and changes
nothing: no model registered, no run folder, every published partition byte-identical.

Each case builds a bad input in a fresh folder and runs one command through the real command
line against real stores. A bad input found later becomes a new case here.
"""

from __future__ import annotations

import gzip
import os
import sqlite3
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.cli import app
from delinq.pipeline.registry.checksum import sha256

pytestmark = pytest.mark.slow
runner = CliRunner()
SECRET = "Ottoline Quarrington"  # planted in bad rows: no message may quote it


def _book(rows: int = 600) -> pd.DataFrame:
    return simulate_book(rows, seed=5)


def _csv(tmp: Path, frame: pd.DataFrame, name: str = "t.csv") -> str:
    frame.to_csv(tmp / name, index=False)
    return name


def _yaml(tmp: Path, text: str) -> str:
    (tmp / "c.yaml").write_text(text)
    return "c.yaml"


def _text(tmp: Path, name: str, text: str) -> str:
    (tmp / name).write_text(text)
    return name


def _bytes(tmp: Path, name: str, data: bytes) -> str:
    (tmp / name).write_bytes(data)
    return name


def _extra_field_row(tmp: Path) -> str:
    lines = _book().to_csv(index=False).splitlines()
    lines[40] += f",{SECRET},1"
    return _text(tmp, "t.csv", "\n".join(lines) + "\n")


def _zip_of_two(tmp: Path) -> str:
    with zipfile.ZipFile(tmp / "t.zip", "w") as archive:
        archive.writestr("a.csv", _book().to_csv(index=False))
        archive.writestr("b.csv", _book().to_csv(index=False))
    return "t.zip"


def _train(*args: str) -> list[str]:
    return ["train", "--quick", *args]


def _target(frame: pd.DataFrame, values) -> pd.DataFrame:
    return frame.assign(default_next_month=values)


# name -> (build the command in a fresh folder, text the one line must hold)
TRAIN: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "no such file": (lambda t: _train("-d", "nope.csv"), "nope.csv: file not found"),
    "empty file": (lambda t: _train("-d", _text(t, "t.csv", "")), "file is empty"),
    "binary file": (
        lambda t: _train("-d", _bytes(t, "t.csv", bytes(range(256)) * 4)),
        "not a CSV file: it holds binary data",
    ),
    "header only": (
        lambda t: _train("-d", _text(t, "t.csv", "a,b,default_next_month\n")),
        "header but no rows",
    ),
    "row with extra fields": (
        lambda t: _train("-d", _extra_field_row(t)),
        "line 41 has 27 fields, the header 25",
    ),
    "header names a column twice": (
        lambda t: _train("-d", _text(t, "t.csv", "a,a,default_next_month\n1,2,0\n3,4,1\n")),
        "the header names column(s) more than once: 'a'",
    ),
    "not parquet": (
        lambda t: _train("-d", _text(t, "t.parquet", "id,x\n1,2\n")),
        "not a Parquet file",
    ),
    "unsupported type": (lambda t: _train("-d", _text(t, "t.json", "{}")), "unsupported file"),
    "zip of two files": (lambda t: _train("-d", _zip_of_two(t)), "exactly one CSV file"),
    "damaged gzip": (
        lambda t: _train("-d", _bytes(t, "t.csv.gz", b"\x1f\x8b broken")),
        "cannot read file",
    ),
    "no target column": (
        lambda t: _train("-d", _csv(t, _book()), "--target", "defualt_next_month"),
        "did you mean default_next_month",
    ),
    "three-class target": (
        lambda t: _train("-d", _csv(t, _target(_book(), np.arange(600) % 3))),
        "must have exactly two values",
    ),
    "missing target values": (
        lambda t: _train("-d", _csv(t, _target(_book(), [np.nan] + [0, 1] * 299 + [1]))),
        "target column 'default_next_month' is empty in 1 rows",
    ),
    "wrong positive label": (
        lambda t: _train("-d", _csv(t, _book()), "--positive-label", "yes"),
        "positive label 'yes' does not occur",
    ),
    "empty column": (
        lambda t: _train("-d", _csv(t, _book().assign(AGE=np.nan))),
        "entirely empty: AGE",
    ),
    "duplicated ids": (
        lambda t: _train("-d", _csv(t, _book().assign(ID=1))),
        "id column 'ID' has duplicated values",
    ),
    "too few bads": (
        lambda t: _train("-d", _csv(t, _target(_book(), [1, 1] + [0] * 598))),
        "only 2 bad rows among 600: 5-fold CV leaves about 0.4",
    ),
    "3 bads among 703": (
        lambda t: _train("-d", _csv(t, _target(_book(703), [1, 0, 1, 0, 1] + [0] * 698))),
        "only 3 bad rows among 703: 5-fold CV leaves about 0.6 in each test fold, fewer than "
        "cv.min_bads_per_fold (5), so its AUC would mean little; use more data, or pass "
        "--allow-few-bads",
    ),
    "a numeric column half text": (
        lambda t: _train("-d", _csv(t, _book().assign(AGE=["unknown"] * 100 + [30] * 500))),
        "column 'AGE' is numeric in 500 cells but not in 100 (16.7%, first at row position 0)",
    ),
    "separator that is not one character": (
        lambda t: _train("-d", _csv(t, _book()), "--sep", ";;"),
        "data.sep",
    ),
    "unknown config key": (
        lambda t: _train("-c", _yaml(t, "cv: {fold: 3}\n")),
        "cv.fold: unknown key",
    ),
    "config not yaml": (
        lambda t: _train("-c", _yaml(t, "cv: [unclosed\n")),
        "not valid YAML",
    ),
    "wrong parameter type": (
        lambda t: _train("-c", _yaml(t, "models: {xgboost: {params: {max_depth: deep}}}\n")),
        "models.xgboost.params.max_depth: must be a whole number, not 'deep'",
    ),
    "unknown parameter": (
        lambda t: _train("-c", _yaml(t, "models: {xgboost: {params: {max_deph: 3}}}\n")),
        "did you mean max_depth?",
    ),
    "parameter out of range": (
        lambda t: _train("-c", _yaml(t, "models: {random_forest: {params: {max_samples: 2.5}}}\n")),
        "models.random_forest.params.max_samples",
    ),
    "personal column not in data": (
        lambda t: _train("-c", _yaml(t, "data: {personal: [email]}\n")),
        "data.personal columns not found: email",
    ),
    "personal column declared an input": (
        lambda t: _train("-c", _yaml(t, "data: {personal: [SEX]}\n")),
        "also declared as inputs",
    ),
}


def _registered_versions(folder: Path) -> int:
    db = folder / "data" / "mlflow" / "mlflow.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as con:
        return con.execute("select count(*) from model_versions").fetchone()[0]


def _one_line(output: str, code: int) -> str:
    assert "Traceback" not in output, output
    flagged = [line for line in output.splitlines() if line.startswith(("error:", "refused:"))]
    assert len(flagged) == 1, output
    assert SECRET not in output
    return flagged[0]


@pytest.mark.parametrize("name", sorted(TRAIN))
def test_bad_training_input(name, tmp_path, monkeypatch, no_tracking_env):
    monkeypatch.chdir(tmp_path)
    build, message = TRAIN[name]
    result = runner.invoke(app, build(tmp_path))
    assert result.exit_code == 2, result.output
    assert message in _one_line(result.output, 2)
    assert _registered_versions(tmp_path) == 0
    assert not (tmp_path / "data" / "runs").exists()


def _null_column(tmp: Path) -> str:
    table = pa.Table.from_pandas(_book(), preserve_index=False)
    table = table.set_column(table.schema.get_field_index("PAY_0"), "PAY_0", pa.nulls(len(table)))
    pq.write_table(table, tmp / "t.parquet")
    return "t.parquet"


def _score(book: str, *args: str, out: str = "out") -> list[str]:
    return ["score", "-i", book, "-o", out, "--no-reasons", *args]


def _dangling(tmp: Path, link: str) -> str:
    (tmp / link).parent.mkdir(parents=True, exist_ok=True)
    os.symlink(tmp / "nowhere", tmp / link)
    return link


def _tenth_rejected(tmp: Path) -> list[str]:
    book = _book()
    book.loc[book.index < 60, "LIMIT_BAL"] = -1.0  # a negative limit rejects its row
    return _score(_csv(tmp, book))


def _into_dangling_partition(tmp: Path) -> list[str]:
    _dangling(tmp, "out/as_of_date=2026-02-01")
    return [*_score(_csv(tmp, _book())), "--as-of", "2026-02-01"]


# name -> (command, the line's text, exit code); every case scores into a folder that already
# holds a published night.
SCORE: dict[str, tuple[Callable[[Path], list[str]], str, int]] = {
    "no such input": (lambda t: _score("nope.parquet"), "nope.parquet: input not found", 2),
    "empty input": (lambda t: _score(_text(t, "e.csv", "")), "file is empty", 2),
    "header only": (
        lambda t: _score(_text(t, "h.csv", _book(5).to_csv(index=False).splitlines()[0] + "\n")),
        "header but no rows",
        2,
    ),
    "missing column": (
        lambda t: _score(_csv(t, _book().drop(columns="PAY_0"))),
        "required column(s) missing: PAY_0",
        2,
    ),
    "row with extra fields": (
        lambda t: _score(_extra_field_row(t)),
        "a row has 27 fields, the header 25",
        2,
    ),
    "header names a column twice": (
        lambda t: _score(_text(t, "d.csv", "ID,ID,AGE\n1,2,3\n")),
        "more than once: 'ID'",
        2,
    ),
    "unsupported type": (lambda t: _score(_text(t, "b.json", "{}")), "unsupported input type", 2),
    "null-typed parquet column": (
        lambda t: _score(_null_column(t)),
        "'PAY_0' holds no values at all",
        2,
    ),
    "output root is a file": (
        lambda t: _score(_csv(t, _book()), out=_text(t, "file.txt", "x")),
        "the output root is a file",
        2,
    ),
    "output under a file": (
        lambda t: _score(_csv(t, _book()), out=_text(t, "file.txt", "x") + "/sub"),
        "lies under a file",
        2,
    ),
    "output is a dangling link": (
        lambda t: _score(_csv(t, _book()), out=_dangling(t, "gone")),
        "symbolic link to nothing",
        2,
    ),
    "partition is a dangling link": (_into_dangling_partition, "partition is a symbolic link", 2),
    "empty date": (lambda t: [*_score(_csv(t, _book())), "--as-of", ""], "not a calendar", 2),
    "impossible date": (
        lambda t: [*_score(_csv(t, _book())), "--as-of", "2026-02-30"],
        "not a calendar date",
        2,
    ),
    "every row rejected": (
        lambda t: _score(_csv(t, _book().assign(PAY_0=-9))),
        "every one of the 600 rows was rejected",
        3,
    ),
    "too many rejects": (_tenth_rejected, "10.0% of the rows were rejected", 3),
    "input empty in every row": (
        lambda t: _score(_csv(t, _book().assign(AGE=np.nan))),
        "empty in every scored row: AGE",
        3,
    ),
    "much smaller book": (lambda t: _score(_csv(t, _book(100))), "below 50% of the previous", 3),
}


def _published(out: Path) -> dict[str, str]:
    return {str(f.relative_to(out)): sha256(f) for f in sorted(out.glob("as_of_date=*/*"))}


@pytest.mark.parametrize("name", sorted(SCORE))
def test_bad_nightly_input(name, tmp_path, monkeypatch, champion_env):
    _, config, _ = champion_env
    monkeypatch.chdir(tmp_path)
    night = ["score", "-c", str(config), "-i", _csv(tmp_path, _book(), "good.csv"), "-o", "out"]
    assert runner.invoke(app, [*night, "--as-of", "2026-01-30", "--no-reasons"]).exit_code == 0
    before = _published(tmp_path / "out")
    build, message, code = SCORE[name]
    args = build(tmp_path)
    result = runner.invoke(app, [*args, "-c", str(config), *([] if "--as-of" in args else [
        "--as-of", "2026-01-31"])])  # fmt: skip
    assert result.exit_code == code, result.output
    assert message in _one_line(result.output, code)
    assert "nothing was published" in result.output
    assert _published(tmp_path / "out") == before


def _gz_named_csv(tmp: Path) -> str:
    (tmp / "g.csv").write_bytes(gzip.compress(_book().to_csv(index=False).encode()))
    return "g.csv"


@pytest.mark.parametrize(
    "build",
    [
        lambda t: _text(t, "s.csv", _book().to_csv(index=False, sep=";")),
        _gz_named_csv,
        lambda t: (_book().to_csv(t / "b.csv.gz", index=False), "b.csv.gz")[1],
    ],
    ids=["semicolons", "gzip-named-csv", "csv.gz"],
)
def test_a_book_is_read_whatever_its_separator_or_compression(build, tmp_path, champion_env):
    _, config, _ = champion_env
    book = build(tmp_path)
    result = runner.invoke(
        app,
        ["score", "-c", str(config), "-i", str(tmp_path / book), "-o", str(tmp_path / "out"),
         "--as-of", "2026-01-31", "--no-reasons"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Scored 600 of 600 rows" in result.output


OTHER: dict[str, tuple[list[str], str]] = {
    "explain a missing table": (["explain", "-d", "nope.csv"], "nope.csv: file not found"),
    "report from a missing table": (["report", "-d", "nope.csv"], "nope.csv: file not found"),
    "analyze a missing table": (["analyze", "-d", "nope.csv"], "nope.csv: file not found"),
}


@pytest.mark.parametrize("name", sorted(OTHER))
def test_bad_input_to_the_other_commands(name, tmp_path, monkeypatch, champion_env):
    _, config, _ = champion_env
    monkeypatch.chdir(tmp_path)
    args, message = OTHER[name]
    result = runner.invoke(app, [*args, "-c", str(config)])
    assert result.exit_code == 2, result.output
    assert message in _one_line(result.output, 2)


def test_promote_with_nothing_trained(tmp_path, monkeypatch, no_tracking_env):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["promote"])
    assert result.exit_code == 2
    assert "run `delinq train` first" in _one_line(result.output, 2)


def test_the_suite_is_as_wide_as_promised():
    assert len(TRAIN) + len(SCORE) + len(OTHER) + 1 >= 30
