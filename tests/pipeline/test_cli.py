"""The `delinq` command line, run in-process with real files and stores."""

import re
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from delinq.pipeline.cli import app
from tests.conftest import REPO

runner = CliRunner()


def _commands() -> dict:
    """Every command the app registers, by name (so a new command is tested without a list)."""
    return typer.main.get_command(app).commands


def _words(text: str) -> str:
    return " ".join(text.split())


def test_the_app_has_every_job_as_a_command():
    assert {"train", "score", "explain", "report", "promote"} <= set(_commands())


@pytest.mark.parametrize("name", sorted(_commands()))
def test_every_command_explains_itself(name):
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output
    summary = _commands()[name].help.strip().splitlines()[0]
    assert _words(summary) in _words(result.output)


def test_top_level_help_lists_every_command():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert all(name in result.output for name in _commands())


def test_make_book_writes_a_deterministic_book(tmp_path):
    out = tmp_path / "book.parquet"
    result = runner.invoke(app, ["make-book", "--rows", "1200", "--out", str(out), "--seed", "4"])
    assert result.exit_code == 0, result.output
    book = pd.read_parquet(out)
    assert len(book) == 1200 and book["ID"].is_unique
    runner.invoke(
        app, ["make-book", "-n", "1200", "-o", str(tmp_path / "again.parquet"), "--seed", "4"]
    )
    assert book.equals(pd.read_parquet(tmp_path / "again.parquet"))


def test_make_book_refuses_unknown_format(tmp_path):
    result = runner.invoke(app, ["make-book", "--rows", "10", "--out", str(tmp_path / "b.json")])
    assert result.exit_code == 2 and not (tmp_path / "b.json").exists()


def test_bad_inputs_give_one_clear_line_and_exit_2(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    missing = runner.invoke(app, ["train", "--data", "nope.csv"])
    assert missing.exit_code == 2 and "nope.csv: file not found" in missing.output
    (tmp_path / "bad.yaml").write_text("cv: {folds: one}\n")
    bad = runner.invoke(app, ["train", "--config", "bad.yaml"])
    assert bad.exit_code == 2 and "cv.folds" in bad.output and "Traceback" not in bad.output
    pd.DataFrame({"a": [1, 2], "b": [0, 1]}).to_csv("t.csv", index=False)
    no_target = runner.invoke(app, ["train", "--data", "t.csv", "--target", "y"])
    assert no_target.exit_code == 2 and "target column 'y' not found" in no_target.output


def test_promote_without_a_model_is_a_clear_error(tmp_path, monkeypatch, no_tracking_env):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["promote"])
    assert result.exit_code == 2 and "run `delinq train` first" in result.output


@pytest.mark.slow
def test_train_quick_on_an_unseen_table(tmp_path, monkeypatch, no_tracking_env, book):
    """A table the default config was not written for: text columns, no id, text target."""
    monkeypatch.chdir(tmp_path)
    table = book.drop(columns=["ID", "PAY_6"]).rename(columns={"default_next_month": "status"})
    table["status"] = table["status"].map({1: "defaulted", 0: "performing"})
    table["region"] = (
        pd.Series(["north", "south", None])
        .sample(len(table), replace=True, random_state=0)
        .to_numpy()
    )
    table.loc[::7, "AGE"] = None
    table.to_csv("loans.csv", index=False)
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            "loans.csv",
            "--target",
            "status",
            "--positive-label",
            "defaulted",
            "--quick",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "history columns not in data" in result.output
    assert (tmp_path / "data" / "mlflow" / "mlflow.db").exists()
    again = runner.invoke(app, ["promote"])
    if "promoted to champion" in result.output:
        assert again.exit_code == 0 and "already the champion" in again.output
    else:  # the SVM won: its reason codes are too slow for the default 1M-row night
        assert "Promotion: not promoted: it scores" in result.output, result.output
        assert again.exit_code == 3 and "rows/s with reason codes" in again.output


def test_analyze_writes_tables_and_charts(tmp_path, book):
    book.to_parquet(tmp_path / "book.parquet")
    out = tmp_path / "analysis"
    result = runner.invoke(
        app, ["analyze", "--data", str(tmp_path / "book.parquet"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Roll rates" in result.output
    rates = pd.read_csv(out / "roll_rates.csv", index_col=0)
    assert rates.drop(columns="accounts").sum(axis=1).dropna().round(9).eq(1).all()
    assert (out / "roll_rates.png").stat().st_size > 10_000
    types = pd.read_csv(out / "delinquent_types.csv", index_col=0)
    assert "Delinquent customers by type" in result.output and set(types.index) <= {
        "temporary",
        "structural",
        "stubborn",
    }
    assert types["share_of_late"].sum() == pytest.approx(1.0)


def test_analyze_without_history_is_a_clear_error(tmp_path):
    pd.DataFrame({"x": [1, 2, 3, 4], "default_next_month": [0, 1, 0, 1]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    (tmp_path / "c.yaml").write_text("data: {id: null, categorical: [], history: null}\n")
    result = runner.invoke(
        app, ["analyze", "-c", str(tmp_path / "c.yaml"), "-d", str(tmp_path / "t.csv")]
    )
    assert result.exit_code == 2 and "need a payment history" in result.output


def test_readme_commands_exist():
    readme = (REPO / "README.md").read_text()
    assert readme.index("make train") < readme.index("make test")  # the two set-up commands
    targets = set(re.findall(r"^([a-zA-Z_-]+):", (REPO / "Makefile").read_text(), re.M))
    named = set(re.findall(r"\bmake ([a-z][a-z-]*)", readme))
    assert {"train", "test"} <= named and named <= targets, named - targets
    commands = set(re.findall(r"\bdelinq ([a-z][a-z-]*)", readme))
    assert commands == set(_commands()), commands ^ set(_commands())


def test_too_few_bads_for_the_folds_stops_before_any_run(
    tmp_path, monkeypatch, no_tracking_env, book
):
    monkeypatch.chdir(tmp_path)
    table = book.copy()
    bads = table.index[table["default_next_month"] == 1]
    table.loc[bads[3:], "default_next_month"] = 0  # three bads left, five folds asked
    table.to_csv(tmp_path / "t.csv", index=False)
    result = runner.invoke(
        app, ["train", "--quick", "-d", "t.csv", "--target", "default_next_month"]
    )
    assert result.exit_code == 2
    assert "only 3 bad rows among 1,500" in result.output
    assert "--allow-few-bads" in result.output
    assert not (tmp_path / "data" / "mlflow").exists()  # no store, no run, nothing registered


def test_a_training_after_a_failed_one_elsewhere_writes_its_files_in_its_own_folder(
    tmp_path, monkeypatch, book
):
    """A failed training leaves the warm worker processes in its folder; the next training, in
    another folder, must not write its files into theirs."""
    (tmp_path / "first").mkdir()
    monkeypatch.chdir(tmp_path / "first")
    book.head(800).to_csv("loans.csv", index=False)
    failed = runner.invoke(app, ["train", "--data", "loans.csv", "--target", "no_such_column"])
    assert failed.exit_code != 0
    (tmp_path / "second").mkdir()
    monkeypatch.chdir(tmp_path / "second")
    book.head(800).to_csv("loans.csv", index=False)
    args = ["train", "--data", "loans.csv", "--target", "default_next_month", "--quick"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert list(Path("data/runs").glob("*/roc_curves.png"))
    assert not (tmp_path / "first" / "data").exists()
