"""Connecting to the tracking store: the user's server, or each config's own embedded store."""

import mlflow

from delinq.pipeline.config import TrackingConfig
from delinq.pipeline.registry import tracking


def test_each_connection_uses_its_own_embedded_store(tmp_path, no_tracking_env):
    first = tracking.connect(TrackingConfig(store_dir=tmp_path / "a"))
    # MLflow has now exported MLFLOW_TRACKING_URI; it is ours, not the user's.
    second = tracking.connect(TrackingConfig(store_dir=tmp_path / "b"))
    assert first.endswith("a/mlflow.db") and second.endswith("b/mlflow.db")
    assert mlflow.get_tracking_uri() == second == mlflow.get_registry_uri()


def test_a_store_the_user_names_wins_over_the_config(tmp_path, monkeypatch):
    tracking.connect(TrackingConfig(store_dir=tmp_path / "a"))
    mine = f"sqlite:///{tmp_path / 'mine.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mine)
    assert tracking.connect(TrackingConfig(store_dir=tmp_path / "b")) == mine
    assert mlflow.get_tracking_uri() == mine
