"""A shared MLflow tracking server on PostgreSQL, on this machine (``make mlflow-server``).

:class:`LocalPostgres` runs a private PostgreSQL cluster from Debian's ``postgresql``
package (``initdb`` / ``pg_ctl``; as the ``postgres`` user when started by root, which
PostgreSQL refuses to run as), with a ``mlflow`` role and database. :class:`MlflowServer`
runs ``mlflow server`` against it with a local artifact root, on 127.0.0.1, with MLflow's
basic-auth app on (:func:`auth_settings`): registered models are pickles that get loaded and
run, so nobody anonymous may write or read them. The team then sets
``MLFLOW_TRACKING_URI=http://127.0.0.1:PORT`` and ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD``. No secret is ever on a command line (``ps`` shows those to every
user): the backend URI, the admin password and the CSRF key go through the environment, and
live in 0600 files. Both are real processes, also used by tests.
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


ADMIN = "admin"


def _secret(path: Path) -> str:
    """The secret in ``path`` (0600), generated on first use."""
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(24))
    path.chmod(0o600)
    return path.read_text().strip()


def auth_settings(folder: Path) -> dict[str, str]:
    """Environment for ``mlflow server --app-name basic-auth``, its secrets kept in ``folder``.

    ``folder`` (0700) holds the generated admin password (``admin_password``, 0600), the
    Flask CSRF key, the auth config and the user database. MLflow creates the ``admin`` user
    from ``MLFLOW_AUTH_ADMIN_PASSWORD`` on first start.
    """
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    config = folder / "basic_auth.ini"
    config.write_text(
        "[mlflow]\n"
        "default_permission = READ\n"
        f"database_uri = sqlite:///{folder / 'basic_auth.db'}\n"
        f"admin_username = {ADMIN}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
    )
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": _secret(folder / "admin_password"),
        "MLFLOW_FLASK_SERVER_SECRET_KEY": _secret(folder / "flask_secret_key"),
    }


class MlflowServer:
    """``mlflow server`` on 127.0.0.1:``port`` over ``backend_uri``, artifacts in a folder.

    With ``auth`` (a folder for its secrets, :func:`auth_settings`) every request but the
    health check needs a user and password; ``credentials`` are the admin's.
    """

    def __init__(
        self,
        backend_uri: str,
        artifacts: Path,
        port: int = 5000,
        log: Path | None = None,
        auth: Path | None = None,
        host: str = "127.0.0.1",
    ):
        self.backend_uri, self.artifacts, self.port = backend_uri, Path(artifacts), port
        self.log = log or self.artifacts.parent / "mlflow-server.log"
        self.auth, self.host = auth, host
        self.proc: subprocess.Popen | None = None

    @property
    def credentials(self) -> tuple[str, str] | None:
        """(user, password) of the admin, or ``None`` without auth."""
        if self.auth is None:
            return None
        return ADMIN, (Path(self.auth) / "admin_password").read_text().strip()

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 120) -> MlflowServer:
        """Start the server and wait until it answers /health."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_BACKEND_STORE_URI": self.backend_uri,  # holds a password: never in argv
            **(auth_settings(self.auth) if self.auth is not None else {}),
        }
        app = ["--app-name", "basic-auth"] if self.auth is not None else []
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mlflow", "server", *app, "--host", self.host,
                 "--port", str(self.port), "--workers", "1",
                 "--artifacts-destination", str(self.artifacts)],
                stdout=log, stderr=subprocess.STDOUT, env=env,
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
