"""A shared tracking server: real PostgreSQL and `mlflow server` processes, started here.

Train, register, promote and score through the server, check the runs are rows in
PostgreSQL, and stop the server on purpose before and during a training run.
"""

from __future__ import annotations

import base64
import os
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from delinq.pipeline.book.io import load_training_data
from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.promote import promote
from delinq.pipeline.registry.server import LocalPostgres, MlflowServer, free_port, postgres_bin
from delinq.pipeline.score.local import score_book
from delinq.pipeline.score.publish import SCORES_FILE
from delinq.pipeline.train.job import Reporter, train
from tests.conftest import REPO, quick_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def postgres():
    """A private PostgreSQL cluster; CI installs Debian's postgresql, so it never skips there."""
    if postgres_bin() is None:
        reason = "PostgreSQL server programs not found (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        print(f"skipping: {reason}")
        pytest.skip(reason)
    # Under /tmp rather than pytest's folder: root runs PostgreSQL as the postgres user,
    # which must be able to pass through the path.
    root = Path(tempfile.mkdtemp(prefix="delinq-pg-"))
    root.chmod(0o711)
    pg = LocalPostgres(root / "postgres", free_port()).start()
    yield pg
    pg.stop()
    import shutil

    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def server(postgres, tmp_path, monkeypatch):
    """The server as `delinq mlflow-server` runs it: logins on; the tests log in as admin."""
    srv = MlflowServer(postgres.uri, tmp_path / "artifacts", free_port(), auth=tmp_path / "auth")
    srv.start()
    user, password = srv.credentials
    monkeypatch.setenv("MLFLOW_TRACKING_URI", srv.url)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", user)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    yield srv
    srv.stop()


def _status(url: str, auth: tuple[str, str] | None = None) -> int:
    request = urllib.request.Request(url)
    if auth is not None:
        token = base64.b64encode(":".join(auth).encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_server_asks_who_you_are_and_shows_no_secret(server, postgres, tmp_path):
    api = f"{server.url}/api/2.0/mlflow/experiments/search?max_results=5"
    user, password = server.credentials
    assert _status(api) == 401  # anonymous
    assert _status(api, (user, "wrong-password")) == 401
    assert _status(api, (user, password)) == 200
    assert _status(f"{server.url}/health") == 200  # the health check stays open

    # What `ps` shows every local user: the command lines of the server and its workers.
    secrets_ = [password, (postgres.root / "password").read_text().strip()]
    secrets_.append((tmp_path / "auth" / "flask_secret_key").read_text().strip())
    command_lines = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            command_lines.append(Path(f"/proc/{pid}/cmdline").read_bytes())
        except OSError:
            continue  # the process ended meanwhile
    assert any(b"basic-auth" in line for line in command_lines)  # the server is among them
    assert not [s for s in secrets_ if any(s.encode() in line for line in command_lines)]
    for secret in ("admin_password", "flask_secret_key"):
        assert (tmp_path / "auth" / secret).stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "auth").stat().st_mode & 0o777 == 0o700


def _config(tmp_path, model_name: str, **changes):
    cfg = quick_config(tmp_path)
    return cfg.model_copy(
        update={
            "models": cfg.models.model_copy(update={"families": ["logreg", "xgboost"]}),
            "tracking": cfg.tracking.model_copy(
                update={"model_name": model_name, "experiment": model_name}
            ),
            "policy": REPO / "configs" / "collection_policy.yaml",
            **changes,
        }
    )


def test_train_register_promote_and_score_through_a_postgres_server(server, postgres, tmp_path):
    cfg = _config(tmp_path, "pg-risk")
    cfg = cfg.model_copy(update={"promotion": cfg.promotion.model_copy(update={"auto": False})})
    result = train(cfg, load_training_data(cfg))
    assert result.tracking_uri == server.url
    assert tracking.alias_version("pg-risk", tracking.CHAMPION) is None
    decision, version = promote(cfg)
    assert decision.promote and version == result.version
    assert tracking.alias_version("pg-risk", tracking.CHAMPION) == version

    # Scored with the model the server hands out (artifacts through the server).
    book = tmp_path / "book.parquet"
    simulate_book(800, seed=9).to_parquet(book, index=False)
    scored = score_book(book, tmp_path / "scores", "2026-03-31", "models:/pg-risk@champion", cfg)
    assert scored.manifest["model"]["version"] == version
    assert len(pd.read_parquet(scored.partition / SCORES_FILE)) == 800

    # The runs, the registered version and its alias are rows in PostgreSQL.
    runs = postgres.query(
        "SELECT r.name, r.status FROM runs r JOIN experiments e "
        "ON r.experiment_id = e.experiment_id WHERE e.name = 'pg-risk'"
    )
    names = {line.split("|")[0] for line in runs}
    assert {"logreg", "xgboost"} <= names  # the family runs
    assert any(name.startswith("train-") for name in names)  # and their parent
    assert all(line.endswith("|FINISHED") for line in runs)
    aliases = postgres.query("SELECT alias, version FROM registered_model_aliases "
                             "WHERE name = 'pg-risk'")  # fmt: skip
    assert f"champion|{version}" in aliases
    assert not (tmp_path / "mlflow").exists()  # nothing went to a local store


def test_server_stopped_before_training_fails_fast_and_loses_nothing(server, tmp_path):
    cfg = _config(tmp_path, "stopped-risk")
    keep = cfg.output_dir / "earlier-run.txt"
    keep.parent.mkdir(parents=True)
    keep.write_text("an earlier local result")
    server.stop()
    started = time.monotonic()
    with pytest.raises(tracking.TrackingError, match=f"{server.url} is not reachable"):
        train(cfg, load_training_data(cfg))
    assert time.monotonic() - started < 10
    assert keep.read_text() == "an earlier local result"
    assert [p.name for p in cfg.output_dir.iterdir()] == ["earlier-run.txt"]


class _StopServerAt(Reporter):
    def __init__(self, server: MlflowServer, stage: str):
        self.server, self.at = server, stage

    def stage(self, text: str) -> None:
        if text.startswith(self.at):
            self.server.stop()


def test_server_stopped_mid_run_names_what_was_and_was_not_logged(server, tmp_path):
    cfg = _config(tmp_path, "midrun-risk")
    with pytest.raises(tracking.TrackingError) as err:
        train(cfg, load_training_data(cfg), _StopServerAt(server, "Portfolio analytics"))
    message = str(err.value)
    assert f"{server.url} failed while logging portfolio analytics" in message
    assert "Logged: the 'logreg' run, the 'xgboost' run, the 'reference' run." in message
    assert (
        "Not logged: portfolio analytics, the parent run's config, metrics and plots, "
        "the champion model and its registry version." in message
    )
    # Everything is kept locally, in the folder the message names.
    local = Path(message.split("kept locally in ")[1].rstrip("."))
    assert (local / "comparison.csv").exists() and (local / "portfolio").is_dir()
    assert tracking._mlflow().active_run() is None  # the process can start another run


def test_mlflow_server_command_starts_both_and_stops_both_on_sigterm(postgres):
    """`make mlflow-server` (delinq mlflow-server), as a process, on its own cluster."""
    import signal
    import subprocess
    import sys
    import urllib.request

    root = Path(tempfile.mkdtemp(prefix="delinq-srv-"))
    root.chmod(0o711)
    port = free_port()
    delinq = str(Path(sys.executable).with_name("delinq"))
    command = [delinq, "mlflow-server", "--port", str(port), "--pg-port", str(free_port()),
               "--dir", str(root)]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        for line in proc.stdout:  # until it says how to point clients at it
            seen.append(line)
            if "export MLFLOW_TRACKING_URI" in line:
                break
        assert f"MLFLOW_TRACKING_URI=http://127.0.0.1:{port}" in "".join(seen), "".join(seen)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
            assert r.status == 200
        assert (root / "postgres" / "cluster" / "postmaster.pid").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output
    assert "stopping" in output
    assert not (root / "postgres" / "cluster" / "postmaster.pid").exists()  # PostgreSQL stopped
    assert oct((root / "postgres" / "password").stat().st_mode & 0o777) == "0o600"
    import shutil

    shutil.rmtree(root, ignore_errors=True)
