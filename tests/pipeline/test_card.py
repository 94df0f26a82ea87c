"""The model card and the fairness report of a Taiwan run, through the real command line and a
real MLflow store, rendered in headless Chromium inside the HTML report."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from delinq.pipeline.cli import app
from tests.conftest import REPO
from tests.pipeline.test_report import _browser

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def taiwan_run(tmp_path_factory):
    from tests.conftest import SHARED_DATA

    path = SHARED_DATA / "taiwan_credit_default.csv"
    if not path.exists():
        pytest.skip("the Taiwan data lives outside the repo; CI has it")
    tmp = tmp_path_factory.mktemp("card")
    table = tmp / "taiwan.csv"
    pd.read_csv(path).head(4_000).to_csv(table, index=False)
    config = yaml.safe_load((REPO / "configs" / "taiwan.yaml").read_text())
    config["data"]["path"] = str(table)
    config["models"] = {"families": ["logreg", "xgboost"], "search": {"method": "none"}}
    config["cv"] = {"folds": 3, "bootstrap": 50}
    config["tracking"]["store_dir"] = str(tmp / "mlflow")
    config |= {
        "output_dir": str(tmp / "runs"),
        "policy": str(REPO / "configs" / "collection_policy.yaml"),
        "explain": {**config["explain"], "sample_rows": 300, "output_dir": str(tmp / "explain")},
        "scoring": {"output_dir": str(tmp / "scores")},
    }
    (tmp / "c.yaml").write_text(yaml.safe_dump(config))
    run = runner.invoke(app, ["train", "-c", str(tmp / "c.yaml")], env={"COLUMNS": "200"})
    assert run.exit_code == 0, run.output
    return tmp, run.output


def test_training_prints_the_fairness_table_and_keeps_protected_attributes_out(taiwan_run):
    tmp, output = taiwan_run
    assert "Champion by protected group" in output
    fairness = pd.read_csv(next((tmp / "runs").glob("*/fairness.csv")))
    assert set(fairness["attribute"]) == {"SEX", "MARRIAGE", "AGE"}
    assert {"under 25", "25 to under 35", "55 and over"} <= set(fairness["group"])
    assert fairness["rows"].groupby(fairness["attribute"]).sum().eq(4_000).all()
    judged = fairness[fairness["group"] != "other (small groups)"]
    assert judged["impact_ratio"].between(0, 1).all()
    assert judged.groupby("attribute")["impact_ratio"].max().eq(1).all()


def test_the_card_says_what_a_reviewer_asks(taiwan_run):
    tmp, _ = taiwan_run
    out = tmp / "card"
    run = runner.invoke(app, ["card", "-c", str(tmp / "c.yaml"), "-o", str(out)])
    assert run.exit_code == 0, run.output
    card = (out / "model_card.md").read_text()
    for heading in (
        "Purpose and intended use",
        "## Data",
        "## Inputs",
        "## Performance",
        "## Fairness",
        "## Known limits",
        "Promotion and change control",
        "Personal information (PIPL Arts. 55-56)",
    ):
        assert heading in card, heading
    assert "Protected attributes, not inputs: SEX, MARRIAGE, AGE" in card
    # The inputs table lists what the model used, not the protected attributes.
    assert "| SEX | categorical" not in card and "| PAY_0 | numeric |" in card
    assert "Last promotion decision: promoted" in card and "previous champion: version none" in card
    assert "git commit `" in card and "requirements.lock SHA-256 `" in card
    assert "legal, outsourced_collection before it happens" in card
    assert "`default_next_month`" in card and "Rows: 4,000" in card


def test_report_links_the_card_and_shows_fairness_in_chromium(taiwan_run):
    tmp, _ = taiwan_run
    out = tmp / "report" / "report.html"
    run = runner.invoke(app, ["report", "-c", str(tmp / "c.yaml"), "-o", str(out)])
    assert run.exit_code == 0, run.output
    browser = _browser()
    try:
        browser.get(out.resolve().as_uri())
        text = browser.find_element("tag name", "body").text
        assert "Fairness by protected group" in text and "impact_ratio" in text
        captions = browser.execute_script("return Array.from(document.images).map(i => i.alt)")
        assert "Calibration and adverse-impact ratio by group" in captions
        link = browser.find_element("link text", "model_card.html")
        link.click()
        assert "Model card: delinquency-risk version 1" in browser.title or (
            "Model card" in browser.find_element("tag name", "h1").text
        )
        assert "Personal information" in browser.find_element("tag name", "body").text
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
    finally:
        browser.quit()
