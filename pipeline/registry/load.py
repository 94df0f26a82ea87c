"""Loading a registered model version: the fitted champion and its scoring reference.

Every delinq command that needs a registered model (score, explain, report, notebooks) loads
it here. Models registered before the package was imported as ``delinq.*`` pickled their
classes as ``features.*`` and ``models.*``; they load through a renaming unpickler, so they
keep working from any folder (see docs/architecture.md).
"""

from __future__ import annotations

import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from delinq.models.raw_input import RawInputClassifier
from delinq.pipeline.config import Config
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.reference import ScoringReference, read_reference

_OLD_TOP_LEVEL = ("features", "models", "pipeline")


class _RenamingUnpickler(pickle.Unpickler):
    """Reads ``features.x`` / ``models.x`` (pre-``delinq`` pickles) as ``delinq.features.x``."""

    def find_class(self, module: str, name: str):
        if module.split(".", 1)[0] in _OLD_TOP_LEVEL:
            module = f"delinq.{module}"
        return super().find_class(module, name)


def load_model_files(model_dir: Path):
    """The fitted champion in an MLflow model folder (the estimator delinq scores with).

    Reads the sklearn flavour's pickle directly, with old module names mapped onto ``delinq``;
    a raw-input wrapper (what MLflow's own clients call) is unwrapped.
    """
    model_dir = Path(model_dir)
    try:
        flavour = yaml.safe_load((model_dir / "MLmodel").read_text())["flavors"]["sklearn"]
        with open(model_dir / flavour["pickled_model"], "rb") as f:
            model = _RenamingUnpickler(f).load()
    except (OSError, KeyError, TypeError, yaml.YAMLError, pickle.UnpicklingError) as exc:
        raise tracking.TrackingError(
            f"{model_dir}: not a delinq model folder ({type(exc).__name__}: {exc}); "
            "retrain with `delinq train`"
        ) from None
    return model.model if isinstance(model, RawInputClassifier) else model


def load_registered(model_uri: str) -> tuple[str, str, object, ScoringReference]:
    """(name, version, fitted model, scoring reference) of a registered version, fetched once.

    Assumes :func:`tracking.connect` ran.
    """
    with tempfile.TemporaryDirectory(prefix="delinq-model-") as tmp:
        name, version, model_dir = tracking.resolve_model(model_uri, Path(tmp))
        model = load_model_files(model_dir)
        reference = read_reference(model_dir / tracking.EXTRA_FILES)
    return name, version, model, reference


@dataclass(frozen=True)
class ChampionRun:
    """Where a registered version came from: its training run and what that run chose."""

    name: str
    version: str
    run_id: str
    experiment_id: str
    family: str


def champion_run(cfg: Config, model_uri: str | None = None) -> ChampionRun:
    """The training run behind ``model_uri`` (default ``scoring.model_uri``), read-only.

    For notebooks and reports: it connects to the configured store and looks things up, and
    never creates an experiment or a run.
    """
    tracking.connect(cfg.tracking)
    name, version = tracking.resolve_version(model_uri or cfg.scoring.model_uri)
    run_id = tracking.version_run_id(name, version)
    info = tracking.run_info(run_id)
    return ChampionRun(name, version, run_id, info["experiment_id"], info["tags"]["champion"])
