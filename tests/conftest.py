"""Shared fixtures: small real and simulated data, and configs writing into tmp stores."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.config import Config, load_config

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def _real(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real dataset {path} not present (it lives outside the repo; CI has it)")
    return path


@pytest.fixture
def taiwan_path() -> Path:
    """The UCI Taiwan credit-card default data (30,000 rows)."""
    return _real("taiwan_credit_default.csv")


@pytest.fixture
def german_path() -> Path:
    """The UCI German credit data (1,000 rows, text categoricals, good/bad target)."""
    return _real("german_credit.csv")


@pytest.fixture
def card_approval_path() -> Path:
    """A real card-approval table (24,257 rows, 1.7 % bad, 89 % of rows repeat another's)."""
    return _real("card_approval.csv")


@pytest.fixture(scope="session")
def book() -> pd.DataFrame:
    """A small simulated loan book."""
    return simulate_book(1_500, seed=7)


def quick_config(tmp_path: Path, **data) -> Config:
    """A fast config (no search, 3 folds) that logs into a SQLite store under ``tmp_path``."""
    cfg = load_config(REPO / "configs" / "train.yaml")
    return cfg.model_copy(
        update={
            "data": cfg.data.model_copy(update={"simulate_rows": 1_500, **data}),
            "models": cfg.models.model_copy(
                update={"search": cfg.models.search.model_copy(update={"method": "none"})}
            ),
            "cv": cfg.cv.model_copy(update={"folds": 3}),
            "tracking": cfg.tracking.model_copy(update={"store_dir": tmp_path / "mlflow"}),
            "output_dir": tmp_path / "runs",
        }
    )


def one_family_config(tmp_path: Path, family: str, **promotion) -> Config:
    """:func:`quick_config` training one family, without bootstrap intervals."""
    cfg = quick_config(tmp_path)
    return cfg.model_copy(
        update={
            "models": cfg.models.model_copy(update={"families": [family]}),
            "cv": cfg.cv.model_copy(update={"bootstrap": 0}),
            "promotion": cfg.promotion.model_copy(update=promotion),
            "policy": REPO / "configs" / "collection_policy.yaml",
        }
    )


@pytest.fixture(scope="session", autouse=True)
def _own_cache(tmp_path_factory):
    """The session's own user cache (the empty MLflow store new stores copy): the developer's
    is left alone, and the session builds and uses one as a first run does."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before


@pytest.fixture(autouse=True)
def _tracking_uri_never_leaks():
    """``tracking.connect`` exports MLFLOW_TRACKING_URI, and the variable wins over a config's
    store: a test that trained into its own store must not send the next test's commands
    there."""
    yield
    os.environ.pop("MLFLOW_TRACKING_URI", None)


@pytest.fixture
def no_tracking_env(monkeypatch):
    """Make sure a developer's MLFLOW_TRACKING_URI never leaks into a test."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="session")
def champion_env(tmp_path_factory):
    """A working folder with a config file and a champion trained from it (logreg, xgboost).

    For the commands that read a registered champion: explain, report, the notebooks.
    """
    from delinq.pipeline.book.io import load_training_data
    from delinq.pipeline.train.job import train

    tmp = tmp_path_factory.mktemp("champion")
    config = tmp / "config.yaml"
    config.write_text(
        f"""
data: {{simulate_rows: 1500}}
models: {{families: [logreg, xgboost], search: {{method: none}}}}
cv: {{folds: 3}}
tracking: {{store_dir: {tmp / "mlflow"}}}
output_dir: {tmp / "runs"}
policy: {REPO / "configs" / "collection_policy.yaml"}
scoring: {{output_dir: {tmp / "scores"}}}
monitor: {{output_dir: {tmp / "monitor"}}}
explain: {{sample_rows: 300, output_dir: {tmp / "explain"}, labels: {{EDUCATION: education level}}}}
"""
    )
    cfg = load_config(config)
    # mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI; an earlier test's store must not win.
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    result = train(cfg, load_training_data(cfg))
    return cfg, config, result


def output_entries(out: Path) -> list[str]:
    """What a scoring output root holds besides its partitions' locks (kept on purpose)."""
    return sorted(p.name for p in Path(out).iterdir() if p.name != ".locks")


@pytest.fixture(scope="module")
def spark():
    """A local[2] Spark session; CI installs PySpark and Java, so it never skips there."""
    if importlib.util.find_spec("pyspark") is None or shutil.which("java") is None:
        if os.environ.get("CI"):
            pytest.fail("PySpark and a Java runtime must be installed in CI (.ci/run)")
        pytest.skip("needs PySpark (pip install -e '.[spark]') and Java")
    from delinq.pipeline.config import SparkConfig
    from delinq.pipeline.score.spark import spark_session

    session = spark_session(SparkConfig(master="local[2]", conf={"spark.ui.enabled": "false"}))
    yield session
    session.stop()
