"""`delinq decide` on a night a real champion scored."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.cli import app
from delinq.pipeline.score.local import score_book

pytestmark = pytest.mark.slow
runner = CliRunner()
NIGHT = "2026-04-30"


@pytest.fixture(scope="module")
def night(champion_env, tmp_path_factory):
    cfg, config, _ = champion_env
    tmp = tmp_path_factory.mktemp("decide")
    book = tmp / "book.parquet"
    simulate_book(4_000, seed=11).to_parquet(book, index=False)
    scores = tmp / "scores"
    score_book(book, scores, NIGHT, cfg.scoring.model_uri, cfg)
    return config, book, scores, tmp


def _decide(night, *extra):
    config, book, scores, tmp = night
    args = ["decide", "-c", str(config), "--as-of", NIGHT, "--book", str(book)]
    return runner.invoke(app, [*args, "--scores", str(scores), *extra])


def test_decisions_respect_capacity_caps_and_beat_the_ladder(night, tmp_path):
    out = tmp_path / "decisions"
    strict = tmp_path / "strict.yaml"
    strict.write_text("credit: {cut_from_pd: 0.05, cut_factor: 0.5, raise_up_to_pd: 0.01}\n")
    result = _decide(
        night,
        "-o",
        str(out),
        "--capacity",
        "call=40",
        "--capacity",
        "field_visit=5",
        "--what-if",
        str(strict),
    )
    assert result.exit_code == 0, result.output
    folder = out / f"as_of_date={NIGHT}"
    decisions = pd.read_parquet(folder / "decisions.parquet")
    summary = json.loads((folder / "summary.json").read_text())
    assert len(decisions) == 4_000 and decisions["id"].is_unique
    counts = decisions["collection_action"].value_counts()
    assert counts.get("call", 0) <= 40 and counts.get("field_visit", 0) <= 5
    assert summary["collection"]["channels"]["call"]["capacity"] == 40
    c = summary["collection"]
    assert c["margin_over_ladder"] > 0 and "margin" in result.output
    assert (decisions["rate"] <= 0.24).all()
    assert (decisions.loc[decisions["dpd_bucket"] != "current", "limit_action"] != "raise").all()
    assert summary["what_if"]["limit_cut"] > summary["credit"]["limit_cut"]
    assert summary["what_if"]["expected_loss"] < summary["credit"]["expected_loss"]
    assert (folder / "rate_card.csv").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--capacity", "call=lots"], "expected ACTION=ACCOUNTS"),
        (["--capacity", "drone=5"], "unknown action 'drone'"),
        (["--capacity", "call=-3"], "never below zero"),
        (["--as-of", "2026-05-01"], "no published scores for 2026-05-01"),
    ],
)
def test_bad_input_is_one_line_and_publishes_nothing(night, tmp_path, extra, message):
    out = tmp_path / "decisions"
    result = _decide(night, "-o", str(out), *extra)
    assert result.exit_code == 2 and message in result.output, result.output
    assert not out.exists() or not any(p.name.startswith("as_of_date") for p in out.iterdir())


def test_collection_backtest_measures_cure_rates_per_action_and_cell(night, tmp_path):
    out = tmp_path / "decisions"
    assert _decide(night, "-o", str(out), "--capacity", "call=300").exit_code == 0
    decisions = pd.read_parquet(out / f"as_of_date={NIGHT}" / "decisions.parquet")
    late = decisions[decisions["cell"] != ""]
    # Outcomes drawn from the priors the assignment used: the backtest must find them again.
    rng = np.random.default_rng(0)
    cured = (rng.random(len(late)) < late["p_cure"].to_numpy()).astype(int)
    outcomes = tmp_path / "outcomes.csv"
    pd.DataFrame({"account": late["id"], "cured": cured}).to_csv(outcomes, index=False)

    def backtest(outcomes, folder):
        return runner.invoke(
            app,
            [
                "collection-backtest",
                "--as-of",
                NIGHT,
                "--decisions",
                str(out),
                "--outcomes",
                str(outcomes),
                "--id",
                "account",
                "-o",
                str(folder),
            ],
        )

    result = backtest(outcomes, tmp_path / "bt")
    assert result.exit_code == 0, result.output
    rates = pd.read_csv(tmp_path / "bt" / f"as_of_date={NIGHT}" / "collection_cure_rates.csv")
    assert rates["accounts"].sum() == len(late)
    big = rates[rates["accounts"] >= 200]
    assert len(big) and np.allclose(big["cure_rate"], big["prior"], atol=0.08)
    holdout = rates[rates["cell"] == "holdout"]
    assert np.allclose(holdout["uplift_vs_holdout"], 0)

    bad = tmp_path / "bad.csv"
    for frame, message in (
        (pd.DataFrame({"account": ["nobody"], "cured": [1]}), "do not have"),
        (pd.DataFrame({"account": [late["id"].iloc[0]] * 2, "cured": [1, 0]}), "duplicated"),
        (pd.DataFrame({"account": [], "cured": []}), "no rows"),
    ):
        frame.to_csv(bad, index=False)
        failed = backtest(bad, tmp_path / "bt2")
        assert failed.exit_code == 2 and message in failed.output, failed.output
    assert not (tmp_path / "bt2").exists() or not any((tmp_path / "bt2").glob("as_of_date=*"))
