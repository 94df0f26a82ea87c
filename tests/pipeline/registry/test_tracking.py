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


def test_a_new_store_is_a_copy_of_the_cached_empty_one_and_works(
    tmp_path, monkeypatch, no_tracking_env
):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    ids = {}
    for name in ("first", "second"):
        cfg = TrackingConfig(store_dir=tmp_path / name, experiment="e")
        ids[name] = tracking.ensure_experiment(cfg, tracking.connect(cfg))
        with mlflow.start_run(experiment_id=ids[name]):
            mlflow.log_metric("m", 1.0)
    assert list((tmp_path / "cache" / "delinq").glob("mlflow-*-empty.db"))
    client = mlflow.MlflowClient()  # the second store, seeded from the template
    default = client.get_experiment("0")
    assert default.artifact_location == str(tmp_path / "second" / "artifacts" / "0")
    runs = client.search_runs([ids["second"]])
    assert len(runs) == 1 and runs[0].data.metrics == {"m": 1.0}
    assert not list((tmp_path / "second").glob(".*.tmp"))


def test_seeding_never_touches_an_existing_store(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    db = tmp_path / "mlflow.db"
    db.write_bytes(b"someone's store")
    tracking.seed_store(db)
    assert db.read_bytes() == b"someone's store"
    assert not (tmp_path / "cache").exists()


def test_an_unwritable_cache_leaves_the_new_store_to_mlflow(tmp_path, monkeypatch):
    (tmp_path / "cache").write_text("a file where the cache folder would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    db = tmp_path / "store" / "mlflow.db"
    db.parent.mkdir()
    tracking.seed_store(db)
    assert not db.exists() and not list(db.parent.iterdir())
