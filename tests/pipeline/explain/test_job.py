"""`delinq explain` against a real champion in a real MLflow store."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from delinq.pipeline.cli import app
from delinq.pipeline.registry import tracking

runner = CliRunner()


def test_explain_writes_global_plots_logs_them_and_draws_waterfalls(
    champion_env, tmp_path, no_tracking_env
):
    cfg, config, result = champion_env
    out = tmp_path / "explain"
    run = runner.invoke(
        app, ["explain", "-c", str(config), "-o", str(out), "--loan-id", "7", "-l", "12"]
    )
    assert run.exit_code == 0, run.output
    assert "repayment status history" in run.output  # readable labels, not model columns
    importance = pd.read_csv(out / "shap_importance.csv")
    assert importance["mean_abs_shap"].is_monotonic_decreasing
    assert "status_history" in set(importance["input"])
    for name in ("shap_importance.png", "shap_beeswarm.png", "waterfall_7.png", "waterfall_12.png"):
        assert (out / name).stat().st_size > 10_000, name
    assert len(list(out.glob("shap_dependence_*.png"))) >= 2
    reasons = pd.read_csv(out / "loan_reasons.csv", dtype=str)
    assert reasons["ID"].tolist() == ["7", "12"]
    # Aggregates go to the champion's run; the named loans' waterfalls stay local.
    tracking.connect(cfg.tracking)
    logged = tracking.artifact_names(result.run_id, "explain")
    assert {"shap_importance.png", "shap_beeswarm.png", "shap_importance.csv"} <= set(logged)
    assert not any(name.startswith(("waterfall", "loan_")) for name in logged)


def test_explain_names_unknown_loans_clearly(champion_env, tmp_path, no_tracking_env):
    _, config, _ = champion_env
    run = runner.invoke(
        app, ["explain", "-c", str(config), "-o", str(tmp_path), "-l", "no-such-loan", "--no-log"]
    )
    assert run.exit_code == 2
    assert "1 of the requested loan ids are not in the data" in run.output


def test_a_table_that_trains_on_the_default_config_explains(
    german_path, tmp_path, monkeypatch, no_tracking_env
):
    # The new user's path: no config of their own, --data and --target on the command line.
    # Explain then reads the same table without a --target, through the model's own inputs.
    monkeypatch.chdir(tmp_path)
    table = tmp_path / "loans.csv"
    pd.read_csv(german_path).head(600).to_csv(table, index=False)
    train = [
        "train", "--data", str(table), "--target", "creditability",
        "--positive-label", "bad", "--quick",
    ]  # fmt: skip
    run = runner.invoke(app, train)
    assert run.exit_code == 0, run.output
    run = runner.invoke(app, ["explain", "--data", str(table), "--rows", "100", "-l", "3"])
    assert run.exit_code == 0, run.output
    importance = pd.read_csv(tmp_path / "data" / "explain" / "shap_importance.csv")
    assert "creditability" not in set(importance["input"])
    assert "duration_in_month" in set(importance["input"])
    assert (tmp_path / "data" / "explain" / "waterfall_3.png").exists()
