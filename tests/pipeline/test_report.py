"""The HTML report, opened in a real headless Chromium."""

from __future__ import annotations

import os
import shutil

import pytest
from typer.testing import CliRunner

from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.cli import app
from delinq.pipeline.score.local import score_book

runner = CliRunner()


def _browser():
    """Debian's chromium and chromium-driver; CI installs them, so it never skips there."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        if os.environ.get("CI"):
            pytest.fail("chromium and chromium-driver must be installed in CI (.ci/run)")
        pytest.skip("needs chromium and chromium-driver (apt install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def test_report_opens_offline_with_every_section(champion_env, tmp_path, no_tracking_env):
    cfg, config, result = champion_env
    book = tmp_path / "book.parquet"
    simulate_book(2_000, seed=5).to_parquet(book, index=False)
    score_book(book, cfg.scoring.output_dir, "2026-02-28", cfg.scoring.model_uri, cfg)
    out = tmp_path / "report" / "report.html"
    run = runner.invoke(app, ["report", "-c", str(config), "-o", str(out)])
    assert run.exit_code == 0, run.output
    page = out.read_text()
    assert "http://" not in page and "https://" not in page  # nothing to fetch: opens offline

    browser = _browser()
    try:
        browser.get(out.resolve().as_uri())
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        images = browser.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])"
        )
        assert len(images) >= 10
        assert all(done and width > 100 for _, done, width in images), images
        captions = " ".join(alt for alt, _, _ in images)
        for part in (
            "ROC",
            "Calibration",
            "KS",
            "Confusion",
            "beeswarm",
            "Roll rates",
            "stability",
        ):
            assert part in captions, part
        rows = browser.execute_script(
            "return Array.from(document.querySelector('table').tBodies[0].rows)"
            ".map(r => r.cells[0].textContent)"
        )
        # The models that were trained, and the run's plain reference.
        trained = [f for f in result.comparison.index if f != "reference"]
        assert sorted(rows) == sorted([*trained, "plain reference (XGBoost)"])
        text = browser.find_element("tag name", "body").text
        assert "Feature selection" in text and "As of 2026-02-28" in text
        assert "lift vs plain reference" in text and "95 % interval" in text
        assert "paired bootstrap p =" in text
    finally:
        browser.quit()


def test_report_without_a_champion_is_a_clear_error(tmp_path, no_tracking_env):
    config = tmp_path / "c.yaml"
    config.write_text(f"tracking: {{store_dir: {tmp_path / 'mlflow'}}}\n")
    run = runner.invoke(app, ["report", "-c", str(config), "-o", str(tmp_path / "r.html")])
    assert run.exit_code == 2 and "no version of model" in run.output
    assert not (tmp_path / "r.html").exists()
