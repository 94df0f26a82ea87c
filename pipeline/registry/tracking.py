"""Everything MLflow: stores, runs, artifacts, the model registry and its aliases.

This is the only module that imports mlflow. The default store is embedded (a SQLite file and
an artifact folder under ``tracking.store_dir``); ``MLFLOW_TRACKING_URI`` points it at a
tracking server instead.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import logging
import os
import shutil
import socket
import sqlite3
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from delinq.pipeline.config import TrackingConfig
from delinq.pipeline.registry.checksum import sha256

SQLITE = "sqlite:///"  # the embedded store's URIs
CHALLENGER, CHAMPION = "challenger", "champion"
AUC_TAG = "cv_roc_auc"
AUC_INTERVAL_TAGS = ("cv_roc_auc_ci_low", "cv_roc_auc_ci_high")
EXTRA_FILES = "extra_files"  # where MLflow puts a logged model's extra files
SCHEMA_TAG = "input_schema_sha256"  # the scoring reference's input contract, as a digest
SCHEMA_CHANGE_TAG = "promoted_with_schema_change"
SPEED_TAG = "scoring_rows_per_second"  # measured at training (predict + reason codes)
FILES_TAG = "files_sha256"  # the model's files as registered (checked before unpickling)
FEW_BADS_TAG = "trained_with_few_bads"  # --allow-few-bads: never promoted
FAIRNESS_TAG = "fairness_min_impact_ratio"  # lowest adverse-impact ratio of any group
OOT_TAG = "oot_roc_auc"  # AUC on the held-out latest months (cv.out_of_time)
# The last promotion decision on a version: promoted or refused, when, why, from which one.
PROMOTION_TAGS = ("promotion_decision", "promotion_decided_at", "promotion_reason", "promoted_from")
# MLflow writes this file into a models:/ download itself: it is not part of the model.
NOT_MODEL_FILES = ("registered_model_meta",)
REQUIREMENTS = (
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "xgboost-cpu",
    "imbalanced-learn",
    "pyarrow",
)


class TrackingError(RuntimeError):
    """The tracking store or registry cannot be used."""


# MLflow's set_tracking_uri also writes MLFLOW_TRACKING_URI (for subprocesses), so the variable
# alone cannot say whether the user chose a server: remember the value this module put there.
_SET_HERE: dict[str, str | None] = {"uri": None}


def _mlflow():
    # MLflow's own usage telemetry is off: scoring runs in closed networks.
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # our own bars only
    # A server that went away fails a call in ~10 s (3 quick retries), not after minutes.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "3")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    import mlflow

    return mlflow


def _check_server(uri: str, timeout: float = 3.0) -> None:
    parsed = urllib.parse.urlparse(uri)
    if parsed.scheme not in ("http", "https"):
        return
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        with socket.create_connection((parsed.hostname, port), timeout=timeout):
            pass
    except OSError as exc:
        raise TrackingError(
            f"MLflow tracking server {uri} is not reachable ({exc.strerror or exc}); "
            "start it (make mlflow-server / make ui) or unset MLFLOW_TRACKING_URI to use the "
            "embedded store. Nothing was logged."
        ) from None


def connect(cfg: TrackingConfig) -> str:
    """Point MLflow at the configured store; return the tracking URI in use.

    Fails fast with :class:`TrackingError` when a configured server cannot be reached.
    """
    mlflow = _mlflow()
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if uri and uri != _SET_HERE["uri"]:  # the user's own server
        _check_server(uri)
    else:
        store = cfg.store_dir.resolve()
        store.mkdir(parents=True, exist_ok=True)
        uri = f"{SQLITE}{store / 'mlflow.db'}"
        _SET_HERE["uri"] = uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "delinq"


def _empty_store(mlflow) -> Path:
    """An empty store with MLflow's tables, built once per MLflow version in the user's cache."""
    template = _cache_dir() / f"mlflow-{mlflow.__version__}-empty.db"
    if not template.exists():
        template.parent.mkdir(parents=True, exist_ok=True)
        building = template.with_name(f".{template.name}.{os.getpid()}.tmp")
        try:
            mlflow.MlflowClient(tracking_uri=SQLITE + str(building)).search_experiments()
            os.replace(building, template)  # whole or absent, even with two builders at once
        finally:
            building.unlink(missing_ok=True)
    return template


def seed_store(db: Path) -> None:
    """Give a store that does not exist yet MLflow's tables, copied from a cached empty store.

    MLflow creates them by running its ~60 schema migrations: 2-5 s of one core for every new
    store (every benchmark run, every test). A copy of an empty store of the same MLflow version
    is the same file, made in milliseconds; only its default experiment's artifact folder and
    dates are its own. An existing store is never touched, and anything unexpected (a cache
    that cannot be written) leaves the store to MLflow, as before.
    """
    if db.exists():
        return
    copy = db.with_name(f".{db.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(_empty_store(_mlflow()), copy)
        now = int(time.time() * 1000)
        with contextlib.closing(sqlite3.connect(copy)) as con, con:
            con.execute(
                "UPDATE experiments SET artifact_location = ?, creation_time = ?, "
                "last_update_time = ? WHERE experiment_id = 0",
                (str(db.parent / "artifacts" / "0"), now, now),
            )
        os.link(copy, db)  # fails rather than replace a store another process just made
    except Exception as exc:  # only a shortcut: MLflow makes the tables, and names a real fault
        logging.getLogger(__name__).debug("new store left to MLflow: %s", type(exc).__name__)
    finally:
        copy.unlink(missing_ok=True)


def ensure_experiment(cfg: TrackingConfig, uri: str) -> str:
    """Create the experiment if needed (artifacts beside the embedded store); return its id.

    A store that cannot be opened (e.g. a file that is not a database) is a
    :class:`TrackingError` naming it.
    """
    mlflow = _mlflow()
    if uri.startswith(SQLITE):
        seed_store(Path(uri.removeprefix(SQLITE)))
    try:
        client = mlflow.MlflowClient()
        experiment = client.get_experiment_by_name(cfg.experiment)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise TrackingError(
            f"cannot open the MLflow store {uri}: {type(exc).__name__}: {first}"
        ) from exc
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if uri.startswith("sqlite:"):
        location = (cfg.store_dir.resolve() / "artifacts").as_uri()
    return client.create_experiment(cfg.experiment, artifact_location=location)


@contextmanager
def parent_run(
    experiment_id: str, name: str, tags: dict[str, str], started: float | None = None
) -> Iterator[str]:
    """One parent run per training; yields its run id.

    ``started`` (seconds since the epoch) dates the run from when the training began, when
    the run is opened only after cross-validation.
    """
    mlflow = _mlflow()
    start_time = None if started is None else int(started * 1000)
    created = mlflow.MlflowClient().create_run(
        experiment_id, start_time=start_time, tags=tags, run_name=name
    )
    run = mlflow.start_run(run_id=created.info.run_id)
    try:
        yield run.info.run_id
    except BaseException:
        # Marking it failed needs the store too; the first error is the one to report, and
        # end_run has left the run either way.
        with contextlib.suppress(Exception):
            mlflow.end_run("FAILED")
        raise
    mlflow.end_run()


class Ledger:
    """What a training run has and has not logged, named when the tracking store fails.

    Wrap each logging step in :meth:`step`; a store failure inside one becomes a
    :class:`TrackingError` listing the steps done, the steps left, and the local folder that
    keeps everything.
    """

    def __init__(self, uri: str, planned: list[str], local: Path | None = None):
        self.uri, self.todo, self.done, self.local = uri, list(planned), [], local

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Run one logging step; on a store failure, raise a TrackingError that says all."""
        from mlflow.exceptions import MlflowException
        from requests import RequestException

        try:
            yield
        except (MlflowException, RequestException, ConnectionError) as exc:
            detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else repr(exc)
            raise TrackingError(
                f"MLflow tracking store {self.uri} failed while logging {name} ({detail}). "
                f"Logged: {', '.join(self.done) or 'nothing'}. "
                f"Not logged: {', '.join(self.todo)}. "
                + (f"Everything is kept locally in {self.local}." if self.local else "")
            ) from None
        self.todo.remove(name)
        self.done.append(name)


def log_family(
    family: str,
    params: dict,
    metrics: dict[str, float],
    fold_metrics: pd.DataFrame,
    artifacts: list[Path],
) -> str:
    """A nested run for one model family: params, ``cv_*`` metrics, per-fold values, files."""
    mlflow = _mlflow()
    # A nested run does not inherit its parent's experiment: name it, or it lands in Default.
    experiment_id = mlflow.active_run().info.experiment_id
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=family, nested=True, tags={"family": family}
    ) as run:
        mlflow.log_params({k: _short(v) for k, v in params.items()})
        mlflow.log_metrics({f"cv_{k}": v for k, v in metrics.items() if pd.notna(v)})
        for fold, row in fold_metrics.iterrows():
            mlflow.log_metrics({f"fold_{k}": float(v) for k, v in row.items()}, step=int(fold))
        for path in artifacts:
            mlflow.log_artifact(str(path))
        return run.info.run_id


def log_parent(
    params: dict, metrics: dict[str, float], tags: dict[str, str], artifacts: list[Path]
) -> None:
    """Params, metrics, tags and files of the active parent run."""
    mlflow = _mlflow()
    mlflow.log_params({k: _short(v) for k, v in params.items()})
    mlflow.log_metrics(metrics)
    mlflow.set_tags(tags)
    log_files(artifacts)


def log_files(paths: list[Path], folder: str | None = None) -> None:
    """Attach files to the active run, optionally under an artifact ``folder``."""
    mlflow = _mlflow()
    for path in paths:
        mlflow.log_artifact(str(path), artifact_path=folder)


def _short(value) -> str:
    text = str(value)
    return text if len(text) <= 500 else text[:497] + "..."


def _requirements() -> list[str]:
    pins = []
    for name in REQUIREMENTS:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins


def log_champion(
    model,
    example: pd.DataFrame,
    model_name: str,
    cv_auc: float,
    family: str,
    extra_files: list[Path] | None = None,
    auc_interval: tuple[float, float] | None = None,
    schema_digest: str | None = None,
    rows_per_second: float | None = None,
    tags: dict[str, str] | None = None,
) -> str:
    """Log and register the champion in the active run; alias it ``challenger``.

    The input example must be synthetic (see :func:`delinq.pipeline.train.job.masked_example`):
    it is stored with the model. ``model`` takes raw table columns (MLflow's own clients call it
    on what pandas reads from a file), so every input is declared ``Any`` in the signature and
    the model coerces types itself. Returns the registered version.
    """
    mlflow = _mlflow()
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types.schema import AnyType, ColSpec, Schema

    # predict is predict_proba: a column per class, the second the probability of default.
    outputs = infer_signature(example, model.predict_proba(example)).outputs
    # Integer amounts, numeric codes of declared categoricals and missing values must all pass.
    inputs = Schema([ColSpec(AnyType(), str(name)) for name in example.columns])
    signature = ModelSignature(inputs=inputs, outputs=outputs)
    # Its cloudpickle caution is answered below; keep it out of every training log.
    logging.getLogger("mlflow.sklearn").setLevel(logging.ERROR)
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=signature,
        input_example=example,
        registered_model_name=model_name,
        pip_requirements=_requirements(),
        pyfunc_predict_fn="predict_proba",
        # skops cannot hold the project's own estimators; models only come from our registry.
        serialization_format="cloudpickle",
        extra_files=[str(p) for p in extra_files or []],
    )
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    client.set_model_version_tag(model_name, version, AUC_TAG, f"{cv_auc:.6f}")
    client.set_model_version_tag(model_name, version, "family", family)
    for tag, value in zip(AUC_INTERVAL_TAGS, auc_interval or (), strict=False):
        client.set_model_version_tag(model_name, version, tag, f"{value:.6f}")
    if schema_digest is not None:
        client.set_model_version_tag(model_name, version, SCHEMA_TAG, schema_digest)
    if rows_per_second is not None:
        client.set_model_version_tag(model_name, version, SPEED_TAG, f"{rows_per_second:.1f}")
    for tag, value in (tags or {}).items():
        client.set_model_version_tag(model_name, version, tag, value)
    with tempfile.TemporaryDirectory(prefix="delinq-register-") as tmp:
        files = download_version(model_name, version, Path(tmp), verify=False)
        client.set_model_version_tag(
            model_name, version, FILES_TAG, sha256(files, skip=NOT_MODEL_FILES)
        )
    client.set_registered_model_alias(model_name, CHALLENGER, version)
    return version


def alias_version(model_name: str, alias: str) -> str | None:
    """Version number behind ``alias``, or ``None`` if the alias (or model) does not exist."""
    mlflow = _mlflow()
    try:
        return str(mlflow.MlflowClient().get_model_version_by_alias(model_name, alias).version)
    except mlflow.exceptions.MlflowException:
        return None


def parse_model_uri(uri: str) -> tuple[str, str | None, str | None]:
    """``models:/name@alias`` or ``models:/name/version`` -> (name, alias, version)."""
    if not uri.startswith("models:/"):
        raise TrackingError(f"model URI must look like models:/NAME@ALIAS or models:/NAME/N: {uri}")
    rest = uri[len("models:/") :]
    if "@" in rest:
        name, alias = rest.split("@", 1)
        return name, alias, None
    name, _, version = rest.rpartition("/")
    if not name or not version.isdigit():
        raise TrackingError(f"model URI must look like models:/NAME@ALIAS or models:/NAME/N: {uri}")
    return name, None, version


def resolve_version(uri: str) -> tuple[str, str]:
    """(name, version) behind ``models:/name@alias`` or ``models:/name/version``."""
    name, alias, version = parse_model_uri(uri)
    if alias is not None:
        version = alias_version(name, alias)
        if version is None:
            raise TrackingError(
                f"no version of model '{name}' has alias '{alias}'; train and promote one first"
            )
    return name, str(version)


def resolve_model(uri: str, dst: Path) -> tuple[str, str, Path]:
    """Resolve an alias to a version once, and download that version's files into ``dst``.

    Returns (name, version, local model folder). Later alias moves do not affect the caller.
    """
    name, version = resolve_version(uri)
    return name, str(version), download_version(name, str(version), dst)


def version_run_id(model_name: str, version: str) -> str:
    """The training run that logged a registered version."""
    return _mlflow().MlflowClient().get_model_version(model_name, version).run_id


def log_to_run(run_id: str, paths: list[Path], folder: str) -> None:
    """Add files to a finished run (e.g. explanations of the champion, made later)."""
    client = _mlflow().MlflowClient()
    for path in paths:
        client.log_artifact(run_id, str(path), folder)


def download_run(run_id: str, dst: Path) -> Path:
    """Copy every artifact of a run into ``dst``; returns the local folder."""
    return Path(_mlflow().artifacts.download_artifacts(run_id=run_id, dst_path=str(dst)))


def version_tag(model_name: str, version: str, tag: str) -> str | None:
    """A tag of a registered version, or ``None``."""
    return _mlflow().MlflowClient().get_model_version(model_name, version).tags.get(tag)


def version_info(model_name: str, version: str) -> dict:
    """Tags, aliases, training run and registration time (UTC, ISO) of a registered version."""
    import datetime as dt

    mv = _mlflow().MlflowClient().get_model_version(model_name, version)
    created = dt.datetime.fromtimestamp(mv.creation_timestamp / 1000, dt.UTC)
    return {
        "tags": dict(mv.tags),
        "aliases": list(mv.aliases),
        "run_id": mv.run_id,
        "registered_at": created.isoformat(timespec="seconds"),
    }


def set_version_tag(model_name: str, version: str, tag: str, value: str) -> None:
    """Set a tag on a registered version."""
    _mlflow().MlflowClient().set_model_version_tag(model_name, version, tag, value)


def download_version(model_name: str, version: str, dst: Path, verify: bool = True) -> Path:
    """The files of one registered version, downloaded into ``dst``.

    With ``verify`` they must match the digest recorded when the version was registered
    (versions registered before digests were recorded have none and pass): files changed
    in the artifact store since are refused before anything unpickles them.
    """
    mlflow = _mlflow()
    try:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{model_name}/{version}", dst_path=str(dst)
        )
    except mlflow.exceptions.MlflowException as exc:
        raise TrackingError(f"cannot fetch models:/{model_name}/{version}: {exc}") from None
    if verify:
        recorded = version_tag(model_name, version, FILES_TAG)
        if recorded is not None and sha256(Path(local), skip=NOT_MODEL_FILES) != recorded:
            raise TrackingError(
                f"the files of models:/{model_name}/{version} differ from those registered "
                "(checksum mismatch); they were changed in the artifact store, so they are "
                "not loaded. Retrain and register a new version"
            )
    return Path(local)


def verify_version(model_name: str, version: str) -> None:
    """Refuse (``TrackingError``) a version whose files differ from those registered."""
    with tempfile.TemporaryDirectory(prefix="delinq-verify-") as tmp:
        download_version(model_name, version, Path(tmp))


def version_auc(model_name: str, version: str) -> float | None:
    """The cross-validated AUC recorded on a registered version."""
    mlflow = _mlflow()
    tags = mlflow.MlflowClient().get_model_version(model_name, version).tags
    return float(tags[AUC_TAG]) if AUC_TAG in tags else None


def version_auc_interval(model_name: str, version: str) -> tuple[float, float] | None:
    """The bootstrap 95 % interval of a registered version's CV AUC, if it was recorded."""
    tags = _mlflow().MlflowClient().get_model_version(model_name, version).tags
    if not all(t in tags for t in AUC_INTERVAL_TAGS):
        return None
    low, high = (float(tags[t]) for t in AUC_INTERVAL_TAGS)
    return low, high


def set_alias(model_name: str, alias: str, version: str) -> None:
    """Point ``alias`` at ``version``."""
    _mlflow().MlflowClient().set_registered_model_alias(model_name, alias, version)


def run_info(run_id: str) -> dict:
    """Params, metrics, tags and experiment of a run (for summaries and tests)."""
    run = _mlflow().MlflowClient().get_run(run_id)
    return {
        "params": run.data.params,
        "metrics": run.data.metrics,
        "tags": run.data.tags,
        "experiment_id": run.info.experiment_id,
    }


def artifact_names(run_id: str, folder: str | None = None) -> list[str]:
    """File names stored with a run (in ``folder``)."""
    client = _mlflow().MlflowClient()
    return [Path(a.path).name for a in client.list_artifacts(run_id, folder)]


def child_runs(experiment_id: str, parent_id: str) -> pd.DataFrame:
    """Nested runs of a parent run as a frame (one row per family)."""
    return _mlflow().search_runs(
        experiment_ids=[experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'"
    )
