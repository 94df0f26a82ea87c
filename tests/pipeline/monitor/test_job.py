"""`delinq monitor` and `delinq backtest` on nights a real champion scored."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.cli import app
from delinq.pipeline.registry import tracking
from delinq.pipeline.score.local import score_book

pytestmark = pytest.mark.slow
runner = CliRunner()
FIRST, SECOND = "2026-03-30", "2026-03-31"


@pytest.fixture(scope="module")
def nights(champion_env, tmp_path_factory):
    """Two published nights: 300 accounts fell two months behind on the second, 100 left and
    50 joined."""
    cfg, config, _ = champion_env
    tmp = tmp_path_factory.mktemp("nights")
    book = simulate_book(3_000, seed=5)
    worse = book["ID"].iloc[:300]
    second = book.iloc[100:].copy()
    second.loc[second["ID"].isin(worse), ["PAY_0", "PAY_2"]] = [3, 2]
    joined = simulate_book(50, seed=6).assign(ID=lambda f: f["ID"] + 10_000_000)
    second = pd.concat([second, joined], ignore_index=True)
    out = tmp / "scores"
    for day, frame in ((FIRST, book), (SECOND, second)):
        frame.to_parquet(tmp / f"{day}.parquet", index=False)
        score_book(tmp / f"{day}.parquet", out, day, cfg.scoring.model_uri, cfg)
    return cfg, config, tmp, out, set(worse.astype(str))


def _cli(config, *args):
    return runner.invoke(app, [*args, "-c", str(config)])


def test_monitor_finds_the_accounts_that_worsened(nights):
    cfg, config, tmp, out, worse = nights
    run = _cli(config, "monitor", "--as-of", SECOND, "--scores", str(out))
    assert run.exit_code == 0, run.output
    assert f"{FIRST} -> {SECOND}" in run.output and "50 new, 100 gone" in run.output
    folder = cfg.monitor.output_dir / "migration" / f"as_of_date={SECOND}"
    watch = pd.read_parquet(folder / "watchlist.parquet")
    assert len(watch) > 50 and set(watch["id"]) <= worse  # only the accounts that worsened
    assert (watch["pd_rise"] > 0).all() and watch["pd_rise"].is_monotonic_decreasing
    assert watch["reason_1_code"].notna().all()
    migration = pd.read_csv(folder / "migration.csv", index_col=0)
    assert migration.to_numpy().sum() == 3_050
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["watchlist"] == len(watch) and summary["downgraded"] >= len(watch) // 2
    tracking.connect(cfg.tracking)
    run_id = tracking.version_run_id(*tracking.resolve_version(cfg.scoring.model_uri))
    logged = tracking.artifact_names(run_id, f"monitor/{SECOND}")
    assert "migration.png" in logged and "watchlist.parquet" not in logged  # ids stay local


def test_backtest_lights_follow_the_truth(nights):
    cfg, config, tmp, out, _ = nights
    scores = pd.read_parquet(out / f"as_of_date={FIRST}" / "scores.parquet")
    rng = np.random.default_rng(0)
    for name, scale, code in (("fair", 1.0, 0), ("harsh", 3.0, 6)):
        bad = rng.random(len(scores)) < np.clip(scores["pd"] * scale, 0, 1)
        outcomes = tmp / f"{name}.csv"
        pd.DataFrame({"id": scores["id"], "bad": bad.astype(int)}).to_csv(outcomes, index=False)
        run = _cli(config, "backtest", "--as-of", FIRST, "--outcomes", str(outcomes),
                   "--scores", str(out))  # fmt: skip
        assert run.exit_code == code, run.output
    summary = json.loads(
        (cfg.monitor.output_dir / "backtests" / f"as_of_date={FIRST}" / "summary.json").read_text()
    )
    assert summary["light"] == "red" and summary["matured"] == 3_000
    assert summary["calibration_intercept"] > 0.5 and summary["development_auc"] > 0.6


@pytest.mark.parametrize(
    "case, message",
    [
        ("no previous night", "no published night before 2026-03-30"),
        ("duplicated ids", "has duplicated values in 2 rows"),
        ("ids never scored", "1 outcome(s) are for accounts not scored on 2026-03-30"),
        ("empty outcomes", "file is empty"),
        ("no such night", "no published scores for 2026-01-01"),
    ],
)
def test_bad_input_is_one_line_and_publishes_nothing(nights, case, message):
    cfg, config, tmp, out, _ = nights
    scores = pd.read_parquet(out / f"as_of_date={FIRST}" / "scores.parquet")[["id"]]
    scores["bad"] = 0
    outcomes = tmp / f"{case}.csv"
    if case == "duplicated ids":
        scores.iloc[[0, 0]].to_csv(outcomes, index=False)
    elif case == "ids never scored":
        pd.concat([scores, pd.DataFrame({"id": ["nobody"], "bad": [1]})]).to_csv(outcomes)
    elif case == "empty outcomes":
        outcomes.write_text("")
    else:
        scores.to_csv(outcomes, index=False)
    before = sorted(p.name for p in cfg.monitor.output_dir.rglob("*"))
    if case == "no previous night":
        run = _cli(config, "monitor", "--as-of", FIRST, "--scores", str(out))
    else:
        day = "2026-01-01" if case == "no such night" else FIRST
        run = _cli(config, "backtest", "--as-of", day, "--outcomes", str(outcomes),
                   "--scores", str(out))  # fmt: skip
    assert run.exit_code == 2, run.output
    assert message in run.output and "Traceback" not in run.output
    assert sorted(p.name for p in cfg.monitor.output_dir.rglob("*")) == before


def test_the_report_shows_migration_and_backtests(nights, tmp_path):
    cfg, config, tmp, scores, _ = nights
    assert _cli(config, "monitor", "--as-of", SECOND, "--scores", str(scores)).exit_code == 0
    night = pd.read_parquet(scores / f"as_of_date={FIRST}" / "scores.parquet")
    pd.DataFrame({"id": night["id"], "bad": 1}).to_csv(tmp_path / "all_bad.csv", index=False)
    run = _cli(config, "backtest", "--as-of", FIRST, "--outcomes", str(tmp_path / "all_bad.csv"),
               "--scores", str(scores))  # fmt: skip
    assert run.exit_code == 6, run.output
    out = tmp_path / "report.html"
    run = runner.invoke(app, ["report", "-c", str(config), "-o", str(out)])
    assert run.exit_code == 0, run.output
    page = out.read_text()
    assert "on the early-warning watchlist" in page and "Grade migration" in page
    assert "Backtests against matured outcomes" in page and "<td>red</td>" in page


def test_with_both_books_each_watched_account_says_why_its_risk_rose(nights):
    cfg, config, tmp, out, _ = nights
    run = _cli(config, "monitor", "--as-of", SECOND, "--scores", str(out), "--no-log",
               "--book", str(tmp / f"{SECOND}.parquet"),
               "--previous-book", str(tmp / f"{FIRST}.parquet"))  # fmt: skip
    assert run.exit_code == 0, run.output
    folder = cfg.monitor.output_dir / "migration" / f"as_of_date={SECOND}"
    watch = pd.read_parquet(folder / "watchlist.parquet")
    assert watch["why_1"].notna().all()
    # The accounts fell two months behind: the repayment status is what changed.
    assert watch["why_1"].str.contains("repayment status").mean() > 0.9
    first = watch["why_1"].iloc[0]
    assert " → " in first and "log-odds)" in first and "(+" in first
    run = _cli(config, "monitor", "--as-of", SECOND, "--scores", str(out), "--no-log",
               "--book", str(tmp / f"{SECOND}.parquet"))  # fmt: skip
    assert run.exit_code == 2 and "--previous-book" in run.output


def test_the_monitoring_page_renders_in_chromium(nights, tmp_path):
    from tests.pipeline.test_report import _browser

    cfg, config, tmp, scores, _ = nights
    assert _cli(config, "monitor", "--as-of", SECOND, "--scores", str(scores)).exit_code == 0
    out = tmp_path / "monitoring.html"
    run = _cli(config, "monitor-page", "--scores", str(scores), "-o", str(out))
    assert run.exit_code == 0, run.output
    browser = _browser()
    try:
        browser.get(out.resolve().as_uri())
        assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
        images = browser.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
        )
        assert {alt for alt, _, _ in images} >= {
            "Volume and reject rate per night", "Grade mix per night", "PSI trends",
            "Migration per night",
        }  # fmt: skip
        assert all(done and width > 100 for _, done, width in images)
        text = browser.find_element("tag name", "body").text
        assert "the last 2 nights" in text and FIRST in text and SECOND in text
    finally:
        browser.quit()
    empty = _cli(config, "monitor-page", "--scores", str(tmp_path / "none"), "-o", str(out))
    assert empty.exit_code == 2 and "no published nights" in empty.output


def test_backtest_derives_outcomes_from_a_panel(nights):
    cfg, config, tmp, out, _ = nights
    scores = pd.read_parquet(out / f"as_of_date={FIRST}" / "scores.parquet")
    rng = np.random.default_rng(1)
    bad = rng.random(len(scores)) < scores["pd"]
    rows = []
    for i, (account, is_bad) in enumerate(zip(scores["id"], bad, strict=True)):
        months = 6 if i % 10 else 4  # every tenth account leaves the book early
        for k in range(1, months + 1):
            dpd = 120 if is_bad and k == 3 else 0
            rows.append((account, f"2026-{3 + k:02d}", dpd))
    rows.append(("opened-later", "2026-05", 0))  # on the panel, never scored that night
    panel = pd.DataFrame(rows, columns=["account_id", "month", "dpd"])
    panel.to_parquet(tmp / "panel.parquet", index=False)
    raw = yaml.safe_load(config.read_text())
    raw["monitor"]["panel"] = {"within_months": 6}
    cfg_file = tmp / "panel.yaml"
    cfg_file.write_text(yaml.safe_dump(raw))
    run = _cli(cfg_file, "backtest", "--as-of", FIRST, "--panel", str(tmp / "panel.parquet"),
               "--scores", str(out))  # fmt: skip
    assert run.exit_code in (0, 6), run.output
    assert "not yet matured" in run.output
    folder = cfg.monitor.output_dir / "backtests" / f"as_of_date={FIRST}"
    summary = json.loads((folder / "summary.json").read_text())
    early = np.arange(len(scores)) % 10 == 0
    # Early leavers matured only if they turned bad (month 3, before they left).
    assert summary["immature_accounts"] == int((early & ~bad).sum())
    assert summary["matured"] == int((~early | bad).sum())
    assert summary["panel_accounts_not_scored"] == 1
    assert summary["performance_window"] == ["2026-04", "2026-09"]
