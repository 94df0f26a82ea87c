"""A shared MLflow tracking server on PostgreSQL, on this machine (``make mlflow-server``).

:class:`LocalPostgres` runs a private PostgreSQL cluster from Debian's ``postgresql``
package (``initdb`` / ``pg_ctl``; as the ``postgres`` user when started by root, which
PostgreSQL refuses to run as), with a ``mlflow`` role and database. :class:`MlflowServer`
runs ``mlflow server`` against it with a local artifact root, on 127.0.0.1. The team then sets
``MLFLOW_TRACKING_URI=http://127.0.0.1:PORT``. Both are real processes, also used by tests.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


class ServerError(RuntimeError):
    """PostgreSQL or the MLflow server could not be set up or started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_bin() -> Path | None:
    """Folder of the PostgreSQL server programs (Debian keeps them off PATH), or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class LocalPostgres:
    """A PostgreSQL cluster in ``root`` on 127.0.0.1:``port`` with an ``mlflow`` database."""

    def __init__(self, root: Path, port: int = 5433):
        self.root, self.port = Path(root).resolve(), port
        self.data = self.root / "cluster"
        self.bin = postgres_bin()
        if self.bin is None:
            raise ServerError(
                "PostgreSQL server programs not found; install Debian's postgresql "
                "(apt-get install postgresql)"
            )
        # PostgreSQL will not run as root: run its programs as the 'postgres' user then.
        self.user = "postgres" if os.geteuid() == 0 else None

    @property
    def uri(self) -> str:
        """SQLAlchemy URI of the mlflow database (what ``mlflow server`` is given)."""
        password = (self.root / "password").read_text().strip()
        return f"postgresql+psycopg2://mlflow:{password}@127.0.0.1:{self.port}/mlflow"

    def _run(self, *command: str) -> str:
        prefix = ["runuser", "-u", self.user, "--"] if self.user else []
        proc = subprocess.run(
            [*prefix, *command], capture_output=True, text=True, cwd="/", check=False
        )
        if proc.returncode != 0:
            raise ServerError(f"{Path(command[0]).name} failed: {proc.stderr.strip()[-2000:]}")
        return proc.stdout

    def _psql(self, sql: str) -> str:
        psql = str(self.bin / "psql")
        args = ["-h", str(self.data), "-p", str(self.port), "-U", "postgres", "-d", "postgres"]
        return self._run(psql, *args, "-tAc", sql).strip()

    def start(self) -> LocalPostgres:
        """Create the cluster on first use, start it, and make the mlflow role and database."""
        self.root.mkdir(parents=True, exist_ok=True)
        password_file = self.root / "password"
        if not password_file.exists():
            password_file.write_text(secrets.token_urlsafe(24))
            password_file.chmod(0o600)
        if self.user:
            self.root.chmod(0o711)  # the postgres user passes through, but cannot list it
            closed = [p for p in self.root.parents if not os.stat(p).st_mode & 0o001]
            if closed:
                raise ServerError(
                    f"the postgres user cannot reach {self.data}: {closed[0]} is closed to "
                    "other users; choose a folder under an open path"
                )
        if not (self.data / "PG_VERSION").exists():
            self.data.mkdir(parents=True, exist_ok=True)
            if self.user:
                owner = pwd.getpwnam(self.user)
                os.chown(self.data, owner.pw_uid, owner.pw_gid)
            self.data.chmod(0o700)
            # Local socket: trust (only its owner can reach the socket folder); TCP: password.
            self._run(
                str(self.bin / "initdb"),
                "-D", str(self.data), "-U", "postgres", "-E", "UTF8", "--locale=C",
                "--auth-local=trust", "--auth-host=scram-sha-256",
            )  # fmt: skip
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        log = self.data / "server.log"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(log), "-w",
                  "-t", "60", "-o", options, "start")  # fmt: skip
        password = password_file.read_text().strip()
        if not self._psql("SELECT 1 FROM pg_roles WHERE rolname = 'mlflow'"):
            self._psql(f"CREATE ROLE mlflow LOGIN PASSWORD '{password}'")
        if not self._psql("SELECT 1 FROM pg_database WHERE datname = 'mlflow'"):
            self._psql("CREATE DATABASE mlflow OWNER mlflow")
        return self

    def stop(self) -> None:
        """Stop the cluster (fast shutdown: open sessions are closed); data stays."""
        if (self.data / "postmaster.pid").exists():
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def query(self, sql: str) -> list[str]:
        """Rows of a query on the mlflow database, one '|'-joined line per row (for checks)."""
        psql = str(self.bin / "psql")
        args = ["-h", str(self.data), "-p", str(self.port), "-U", "postgres", "-d", "mlflow"]
        out = self._run(psql, *args, "-tAc", sql).strip()
        return out.splitlines() if out else []


class MlflowServer:
    """``mlflow server`` on 127.0.0.1:``port`` over ``backend_uri``, artifacts in a folder."""

    def __init__(
        self, backend_uri: str, artifacts: Path, port: int = 5000, log: Path | None = None
    ):
        self.backend_uri, self.artifacts, self.port = backend_uri, Path(artifacts), port
        self.log = log or self.artifacts.parent / "mlflow-server.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> MlflowServer:
        """Start the server and wait until it answers /health."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1",
                 "--port", str(self.port), "--workers", "1",
                 "--backend-store-uri", self.backend_uri,
                 "--artifacts-destination", str(self.artifacts)],
                stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self.healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text(errors="replace")[-3000:]
                raise ServerError(f"mlflow server did not start on {self.url}:\n{tail}")
            time.sleep(0.5)
        return self

    def healthy(self) -> bool:
        """Whether the server answers its health check."""
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        """Stop the server (and its workers)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
