"""Training against a real `mlflow server` process on 127.0.0.1, started and stopped here."""

import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from pipeline import tracking
from pipeline.train import load_training_data, train
from tests.conftest import quick_config

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = _free_port()
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - closed in teardown
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'server.db'}",
            "--artifacts-destination",
            str(tmp_path / "server-artifacts"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            log.close()
            pytest.fail(f"mlflow server did not start:\n{(tmp_path / 'server.log').read_text()}")
        time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_train_register_and_load_through_server(tmp_path, monkeypatch, mlflow_server):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    cfg = quick_config(tmp_path)
    cfg = cfg.model_copy(
        update={"models": cfg.models.model_copy(update={"families": ["logreg", "xgboost"]})}
    )
    dataset = load_training_data(cfg)
    result = train(cfg, dataset)
    assert result.tracking_uri == mlflow_server
    assert tracking.alias_version(cfg.tracking.model_name, "champion") == result.version
    children = tracking.child_runs(result.experiment_id, result.run_id)
    assert sorted(children["tags.family"]) == ["logreg", "xgboost"]
    # Artifacts went through the server into its own artifact store, not the local folder.
    assert any((tmp_path / "server-artifacts").rglob("MLmodel"))
    assert not (tmp_path / "mlflow").exists()
    model = tracking.load_model(f"models:/{cfg.tracking.model_name}@champion")
    assert np.isfinite(model.predict_proba(dataset.X.head(50))).all()


def test_unreachable_server_fails_fast_and_logs_nothing(tmp_path, monkeypatch):
    url = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    cfg = quick_config(tmp_path)
    started = time.monotonic()
    with pytest.raises(tracking.TrackingError, match=f"{url} is not reachable"):
        train(cfg, load_training_data(cfg))
    assert time.monotonic() - started < 10
    assert not cfg.output_dir.exists()
