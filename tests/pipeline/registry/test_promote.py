"""Promotion checks the contract: a challenger with other inputs needs an explicit flag."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from delinq.pipeline.cli import app
from delinq.pipeline.config import load_config
from delinq.pipeline.registry import tracking
from tests.conftest import REPO

pytestmark = pytest.mark.slow
runner = CliRunner()


def _config(
    tmp_path, drop: list[str], family: str = "logreg", book_rows: int = 1_000_000, auto=True
) -> str:
    path = tmp_path / f"c{len(drop)}-{family}-{book_rows}-{auto}.yaml"
    path.write_text(
        f"""
data: {{simulate_rows: 800, drop: {drop}}}
models: {{families: [{family}], search: {{method: none}}}}
cv: {{folds: 3, bootstrap: 0}}
promotion: {{min_auc: 0.5, tolerance: 0.5, book_rows: {book_rows}, auto: {str(auto).lower()}}}
policy: {REPO / "configs" / "collection_policy.yaml"}
"""
    )
    return str(path)


def test_a_challenger_with_other_inputs_is_promoted_only_when_asked(
    tmp_path, monkeypatch, no_tracking_env
):
    monkeypatch.chdir(tmp_path)
    first = runner.invoke(app, ["train", "-c", _config(tmp_path, [])])
    assert first.exit_code == 0 and "promoted to champion" in first.output, first.output
    same = runner.invoke(app, ["train", "-c", _config(tmp_path, [])])
    assert same.exit_code == 0 and "Promotion: promoted" in same.output, same.output

    narrower = _config(tmp_path, ["AGE"])
    trained = runner.invoke(app, ["train", "-c", narrower])
    assert trained.exit_code == 0, trained.output
    assert "input 'AGE' removed" in trained.output and "--allow-schema-change" in trained.output

    refused = runner.invoke(app, ["promote", "-c", narrower])
    assert refused.exit_code == 3 and "input 'AGE' removed" in refused.output
    tracking.connect(load_config(narrower).tracking)
    assert tracking.alias_version("delinquency-risk", tracking.CHAMPION) == "2"

    allowed = runner.invoke(app, ["promote", "-c", narrower, "--allow-schema-change"])
    assert allowed.exit_code == 0 and "inputs changed" in allowed.output, allowed.output
    assert tracking.alias_version("delinquency-risk", tracking.CHAMPION) == "3"
    recorded = tracking.version_tag("delinquency-risk", "3", tracking.SCHEMA_CHANGE_TAG)
    assert recorded == "from version 2: input 'AGE' removed"


def test_a_champion_too_slow_for_the_night_is_refused_with_its_speed(
    tmp_path, monkeypatch, no_tracking_env
):
    """The speed measured at training decides: twice the night's capacity is refused, half
    of it is promoted, wherever the test runs."""
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path, [], "random_forest", auto=False)
    trained = runner.invoke(app, ["train", "-c", config])
    assert trained.exit_code == 0, trained.output
    tracking.connect(load_config(config).tracking)
    speed = float(tracking.version_tag("delinquency-risk", "1", tracking.SPEED_TAG))
    capacity = speed * 240 * 60  # rows a 240-minute night holds at that speed

    too_big = _config(tmp_path, [], "random_forest", int(2 * capacity) + 1)
    refused = runner.invoke(app, ["promote", "-c", too_big])
    assert refused.exit_code == 3, refused.output
    assert f"it scores {speed:,.0f} rows/s with reason codes" in refused.output
    fits = _config(tmp_path, [], "random_forest", max(int(capacity / 2), 1))
    promoted = runner.invoke(app, ["promote", "-c", fits])
    assert promoted.exit_code == 0 and f"scores {speed:,.0f} rows/s" in promoted.output
