"""The panel simulator: reproducible, accounts that open, roll, charge off; a shock that an
out-of-time check finds and a quiet book where it finds nothing."""

import html
import os

import numpy as np
import pandas as pd
import pytest

from delinq.pipeline.book.io import load_training_data
from delinq.pipeline.book.simulate_panel import CHARGE_OFF, simulate_panel, write_panel
from delinq.pipeline.config import load_config, with_overrides
from delinq.pipeline.portfolio.vintage import snapshots_with_views
from delinq.pipeline.report import build_report
from delinq.pipeline.train.job import train
from tests.conftest import REPO


def test_the_same_arguments_give_the_same_panel():
    a = simulate_panel(2_000, 12, seed=4)
    b = simulate_panel(2_000, 12, seed=4)
    assert a.equals(b) and not a.equals(simulate_panel(2_000, 12, seed=5))


def test_accounts_open_roll_and_leave_after_charge_off():
    panel = simulate_panel(3_000, 24, start="2024-01", seed=1)
    assert not panel.duplicated(["account_id", "month"]).any()
    assert panel["status"].between(-2, 8).all()
    first = panel.groupby("account_id")["month"].transform("min")
    opened_inside = (panel["origination"] == panel["month"]) & (first == panel["month"])
    assert (panel.loc[opened_inside, "status"] == 0).all()  # a new account starts current
    charged = panel[panel["status"] >= CHARGE_OFF].groupby("account_id")["month"].min()
    last = panel.groupby("account_id")["month"].max()
    assert (last.loc[charged.index] == charged).all()  # no row after a charge-off
    cohorts = panel.drop_duplicates("account_id")["origination"]
    assert cohorts.nunique() > 24  # seasoned accounts and monthly cohorts


def _out_of_time(tmp_path, shock):
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    write_panel(tmp_path / "panel.parquet", 12_000, 24, "2023-01", 1, shock)
    cfg = with_overrides(
        load_config(REPO / "configs" / "panel.yaml"),
        panel={"bad": {"dpd_at_least": 3, "within_months": 3}},
        cv={"out_of_time": 2, "bootstrap": 0, "folds": 3},
        models={"families": ["logreg"]},
        tracking={"store_dir": tmp_path / "mlflow"},
    ).model_copy(update={"output_dir": tmp_path / "runs"})
    _, files = snapshots_with_views(cfg, tmp_path / "panel.parquet", tmp_path / "snap.parquet")
    snap = load_config(files[-1])
    return train(snap, load_training_data(snap)), snap


@pytest.mark.slow
def test_a_macro_shock_lowers_the_out_of_time_auc_and_moves_the_limits(tmp_path):
    result, _ = _out_of_time(tmp_path, "2024-07")
    o = result.out_of_time
    assert o["oot_roc_auc"] < result.comparison.loc["logreg", "roc_auc_mean"]
    psi = pd.read_csv(result.output_dir / "out_of_time.csv", index_col=0)["psi"]
    assert psi.drop("score").idxmax() == "limit" and psi["limit"] > 0.1


@pytest.mark.slow
def test_without_a_shock_out_of_time_agrees_within_chance(tmp_path):
    result, snap = _out_of_time(tmp_path, None)
    o, row = result.out_of_time, result.comparison.loc["logreg"]
    noise = np.hypot(row["roc_auc_std"], o["oot_roc_auc_se"])
    assert abs(o["oot_roc_auc"] - row["roc_auc_mean"]) < 2 * noise
    assert not any("more than chance" in w for w in result.warnings)
    # The panel's vintage curves travel with the snapshots into the run and its report.
    assert (result.output_dir / "portfolio" / "vintage.png").exists()
    assert (result.output_dir / "portfolio" / "bad_definition.txt").exists()
    challenger = f"models:/{snap.tracking.model_name}@challenger"
    page = build_report(snap, challenger, tmp_path / "report.html").read_text()
    advice = (result.output_dir / "portfolio" / "bad_definition.txt").read_text().strip()
    assert "Vintage curves" in page and html.escape(advice) in page
