"""The privacy audit: personal values planted in a training table reach no artefact.

A table with names, e-mails, phones, national ids and loan numbers, none of them declared, is
trained, promoted, scored, explained, reported on and carded through the command line. Then every
byte written (the tracking database, the artifact store, run folders, scores, rejects, plots,
the report and the console output) is searched for the planted values: as UTF-8, UTF-16 and
UTF-32 (numpy keeps text as UTF-32), inside gzip and zip members and Parquet cells too.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.cli import app
from tests.conftest import REPO

runner = CliRunner()
FIRST = ["Wilhelmina", "Bartholomew", "Ottoline", "Peregrine", "Clementine", "Ignatius"]
LAST = ["Quarrington", "Fairweather", "Blackwood", "Ashcombe", "Thistlewood", "Marchbanks"]


def _plant(book: pd.DataFrame, seed: int = 3) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """``book`` with five undeclared personal columns; their values, as text, by column."""
    rng = np.random.default_rng(seed)
    n = len(book)
    first, last = rng.choice(FIRST, n), rng.choice(LAST, n)
    serial = rng.permutation(n)
    planted = {
        "customer_name": [f"{a} {b}-{i:04d}" for a, b, i in zip(first, last, serial, strict=True)],
        "email": [
            f"{a.lower()}.{i:04d}@mail-example.org" for a, i in zip(first, serial, strict=True)
        ],
        "phone": [f"+86 139{i:04d}{(7 * i) % 10000:04d}" for i in serial],
        "national_id": [
            f"1101051985{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}{'X' if i % 11 else i % 10}"
            for i in serial
        ],
    }
    table = book.copy()
    for column, values in planted.items():
        table[column] = values
    table["loan_number"] = 73129500000 + serial * 7919  # an undeclared, id-like integer
    planted["loan_number"] = [str(v) for v in table["loan_number"]]
    return table, planted


def _texts(path: Path) -> list[bytes]:
    """The bytes of ``path`` and of what it holds compressed or as Parquet cells."""
    raw = path.read_bytes()
    found = [raw]
    if raw[:2] == b"\x1f\x8b":
        found.append(gzip.decompress(raw))
    if raw[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            found += [archive.read(member) for member in archive.namelist()]
    if raw[:4] == b"PAR1":
        cells = pq.read_table(path).to_pandas().to_numpy().ravel()
        found.append("\n".join(map(str, cells)).encode())
    return found


def _leaks(root: Path, output: str, planted: dict[str, list[str]]) -> dict[str, list[str]]:
    """Planted values found in any file under ``root`` or in ``output``: value -> where."""
    blobs = [("console output", output.encode())]
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != "loans.csv"):
        blobs += [(str(path.relative_to(root)), blob) for blob in _texts(path)]
    leaks: dict[str, list[str]] = {}
    for values in planted.values():
        for value in values:
            needles = [value.encode(e) for e in ("utf-8", "utf-16-le", "utf-32-le")]
            where = sorted({name for name, blob in blobs if any(n in blob for n in needles)})
            if where:
                leaks[value] = where
    return leaks


@pytest.mark.slow
def test_no_planted_personal_value_reaches_any_artefact(tmp_path, monkeypatch, no_tracking_env):
    monkeypatch.chdir(tmp_path)
    table, planted = _plant(simulate_book(1_500, seed=11))
    table.to_csv(tmp_path / "loans.csv", index=False)
    (tmp_path / "config.yaml").write_text(
        f"""
data: {{path: loans.csv}}
models: {{families: [logreg, random_forest, xgboost], search: {{method: none}}}}
cv: {{folds: 3, bootstrap: 50}}
promotion: {{book_rows: 0}}  # whichever family wins; the night's speed is not audited here
policy: {REPO / "configs" / "collection_policy.yaml"}
explain: {{sample_rows: 300}}
"""
    )
    output = []
    commands = [
        ["train", "-c", "config.yaml"],
        ["promote", "-c", "config.yaml"],
        ["score", "-c", "config.yaml", "-i", "loans.csv", "--as-of", "2026-11-30"],
        ["explain", "-c", "config.yaml", "--loan-id", str(table["ID"].iloc[0])],
        ["report", "-c", "config.yaml"],
        ["card", "-c", "config.yaml"],
    ]
    for command in commands:
        result = runner.invoke(app, command)
        assert result.exit_code == 0, (command, result.output)
        output.append(result.output)
    console = "\n".join(output)

    for column in planted:
        assert f"column '{column}' kept out of the model inputs as personal data" in console
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "mlflow.db" for p in written)
    assert any(p.name == "model.pkl" for p in written)
    assert any(p.name == "scores.parquet" for p in written)
    assert any(p.suffix == ".html" for p in written)
    assert any(p.name == "model_card.md" for p in written)

    assert _leaks(tmp_path, console, planted) == {}


def test_the_audit_finds_a_planted_value_wherever_it_is_hidden(tmp_path):
    """The search itself must be able to fail: plain, UTF-32, gzip, zip and Parquet."""
    value = "Ottoline Ashcombe-0042"
    (tmp_path / "plain.txt").write_text(f"x {value} y")
    (tmp_path / "array.npy").write_bytes(np.array([value]).tobytes())
    (tmp_path / "log.gz").write_bytes(gzip.compress(value.encode()))
    with zipfile.ZipFile(tmp_path / "a.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("inner.json", f'["{value}"]')
    pd.DataFrame({"c": [value] * 50}).to_parquet(tmp_path / "t.parquet", compression="zstd")

    leaks = _leaks(tmp_path, "", {"name": [value, "Nobody Here-9999"]})
    assert leaks[value] == ["a.zip", "array.npy", "log.gz", "plain.txt", "t.parquet"]
    assert "Nobody Here-9999" not in leaks
