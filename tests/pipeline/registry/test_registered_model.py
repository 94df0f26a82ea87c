"""A registered model as its users load it: MLflow's own clients, the raw table, any folder.

Three models are trained on real tables: a sample of Taiwan with its config, German with its
config, and German again through `delinq train --data --target` with no config at all. Then:

- from a folder that holds a ``models.py``, a ``features/`` package and a ``pipeline.py`` (as
  a notebook's folder often does), ``mlflow.pyfunc`` and the notebooks' helpers load them;
- ``mlflow.pyfunc`` and ``mlflow models predict`` score the raw file as pandas reads it
  (integer amounts, numeric codes of categoricals, missing values), and agree with delinq;
- a model pickled under the names used before ``delinq.*`` still loads.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from delinq.features.cleaning import coerce_types
from delinq.pipeline.book.io import load_dataset
from delinq.pipeline.config import TrackingConfig, load_config
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.load import load_model_files, load_registered
from delinq.pipeline.train.job import train
from tests.conftest import REPO, SHARED_DATA, quick_config

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def _quick(name: str, tmp: Path):
    """A repository config, made quick (no search, 3 folds, two families), logging to ``tmp``."""
    base = quick_config(tmp)
    cfg = load_config(REPO / "configs" / name)
    models = cfg.models.model_copy(
        update={"search": base.models.search, "families": ["logreg", "xgboost"]}
    )
    return cfg.model_copy(
        update={
            "models": models,
            "cv": base.cv,
            "tracking": cfg.tracking.model_copy(update={"store_dir": tmp / "mlflow"}),
            "output_dir": base.output_dir,
        }
    )


def _env(tracking_uri: str | None = None) -> dict[str, str]:
    """This process's environment without the stores MLflow exported here, plus ``tracking_uri``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_") or "URI" not in k}
    return env | ({"MLFLOW_TRACKING_URI": tracking_uri} if tracking_uri else {})


def _with_gaps(frame: pd.DataFrame, columns: list[str], seed: int = 0) -> pd.DataFrame:
    """A copy with a few empty cells in each of ``columns`` (as a real extract has)."""
    out = frame.copy()
    rng = np.random.default_rng(seed)
    for col in columns:
        out.loc[rng.choice(out.index, 5, replace=False), col] = np.nan
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """{case: (tracking URI, model URI, raw CSV to score)} for the three trained models."""
    for name in ("taiwan_credit_default.csv", "german_credit.csv"):
        if not (SHARED_DATA / name).exists():
            pytest.skip(f"real dataset {name} not present")
    tmp = tmp_path_factory.mktemp("registered")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    out = {}

    taiwan = pd.read_csv(SHARED_DATA / "taiwan_credit_default.csv").sample(2_000, random_state=0)
    train_file, score_file = tmp / "taiwan_train.csv", tmp / "taiwan_rows.csv"
    taiwan.iloc[:1_500].to_csv(train_file, index=False)
    # Missing codes and amounts: pandas then reads SEX and BILL_AMT1 as floats.
    _with_gaps(taiwan.iloc[1_500:], ["SEX", "BILL_AMT1", "LIMIT_BAL"]).to_csv(
        score_file, index=False
    )
    cfg = _quick("taiwan.yaml", tmp)
    train(cfg, load_dataset(train_file, cfg.data))
    out["taiwan"] = (tracking.connect(cfg.tracking), f"models:/{cfg.tracking.model_name}@champion")
    out["taiwan"] += (score_file,)

    cfg = _quick("german.yaml", tmp)
    german = SHARED_DATA / "german_credit.csv"
    train(cfg, load_dataset(german, cfg.data))
    rows = tmp / "german_rows.csv"
    _with_gaps(pd.read_csv(german).head(200), ["duration_in_month", "purpose"]).to_csv(
        rows, index=False
    )
    out["german"] = (tracking.connect(cfg.tracking), f"models:/{cfg.tracking.model_name}@champion")
    out["german"] += (rows,)

    # No config: the user's first command on a table of their own.
    work = tmp / "noconfig"
    work.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "delinq.pipeline.cli", "train", "--quick", "--data", str(german)]
        + ["--target", "creditability", "--positive-label", "bad"],
        cwd=work,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    uri = f"sqlite:///{work / 'data' / 'mlflow' / 'mlflow.db'}"
    out["no_config"] = (uri, "models:/delinquency-risk@champion", rows)
    return out


@pytest.fixture(scope="module")
def notebook_folder(tmp_path_factory) -> Path:
    """A folder whose own modules shadow the bare names `models`, `features` and `pipeline`."""
    folder = tmp_path_factory.mktemp("notebook")
    (folder / "models.py").write_text("THRESHOLD = 0.5  # a user's own module\n")
    (folder / "pipeline.py").write_text("STEPS = []\n")
    (folder / "features").mkdir()
    (folder / "features" / "__init__.py").write_text("NAMES = []\n")
    return folder


def _run_python(code: str, cwd: Path, tracking_uri: str) -> dict:
    """Run ``code`` in a fresh interpreter started in ``cwd``; it prints one JSON object."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        env=_env(tracking_uri),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _load(models, case: str):
    """(model, reference, the case's rows as delinq types them), through delinq's loader."""
    tracking_uri, model_uri, rows = models[case]
    store = Path(tracking_uri.removeprefix("sqlite:///")).parent  # each case's embedded store
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    tracking.connect(TrackingConfig(store_dir=store))
    _, _, model, reference = load_registered(model_uri)
    frame = pd.read_csv(rows)[reference.names]
    return model, reference, coerce_types(frame, reference.numeric, reference.categorical)


def _delinq_proba(models, case: str) -> np.ndarray:
    """delinq's own probabilities of the case's rows (its loader and its type rules)."""
    model, _, frame = _load(models, case)
    return model.predict_proba(frame)[:, 1]


@pytest.mark.parametrize("case", ["taiwan", "german", "no_config"])
def test_pyfunc_scores_the_raw_file_from_a_folder_that_shadows_our_names(
    models, notebook_folder, case
):
    tracking_uri, model_uri, rows = models[case]
    result = _run_python(
        f"""
        import json, sys
        import mlflow, pandas as pd
        import models, features, pipeline  # the folder's own modules come first
        assert models.THRESHOLD == 0.5 and sys.path[0] in ("", "{notebook_folder}")
        model = mlflow.pyfunc.load_model("{model_uri}")
        p = model.predict(pd.read_csv("{rows}"))  # predict_proba: P(good), P(bad)
        print(json.dumps({{"p": p[:, 1].tolist()}}))
        """,
        notebook_folder,
        tracking_uri,
    )
    p = np.asarray(result["p"])
    assert len(p) == len(pd.read_csv(rows)) and np.all((p >= 0) & (p <= 1)) and p.std() > 0
    np.testing.assert_allclose(p, _delinq_proba(models, case), atol=1e-12)


def test_notebook_helpers_load_the_champion_from_such_a_folder(models, notebook_folder):
    tracking_uri, model_uri, rows = models["taiwan"]
    config = notebook_folder / "config.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                **yaml.safe_load((REPO / "configs" / "taiwan.yaml").read_text()),
                "scoring": {"model_uri": model_uri},
            }
        )
    )
    result = _run_python(
        f"""
        import json
        import pandas as pd
        import models
        from delinq.features.cleaning import coerce_types
        from delinq.pipeline.config import load_config
        from delinq.pipeline.explain.job import load_champion
        from delinq.pipeline.registry.load import champion_run

        cfg = load_config("{config}")
        champ = champion_run(cfg)
        name, version, explainer, reference = load_champion(cfg, cfg.scoring.model_uri)
        frame = coerce_types(
            pd.read_csv("{rows}")[reference.names], reference.numeric, reference.categorical
        )
        p = explainer.predict(explainer.transform(frame))
        print(json.dumps({{"family": champ.family, "version": version, "p": p.tolist()}}))
        """,
        notebook_folder,
        tracking_uri,
    )
    assert result["family"] in ("logreg", "xgboost") and result["version"] == "1"
    np.testing.assert_allclose(result["p"], _delinq_proba(models, "taiwan"), atol=1e-12)


@pytest.mark.parametrize("case", ["taiwan", "no_config"])
def test_mlflow_models_predict_cli_scores_the_raw_csv(models, notebook_folder, tmp_path, case):
    tracking_uri, model_uri, rows = models[case]
    out = tmp_path / "predictions.json"
    mlflow_cli = Path(sys.executable).parent / "mlflow"
    done = subprocess.run(
        [str(mlflow_cli), "models", "predict", "-m", model_uri, "-i", str(rows), "-t", "csv"]
        + ["--env-manager", "local", "-o", str(out)],
        cwd=notebook_folder,
        env=_env(tracking_uri),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    p = np.asarray(json.loads(out.read_text())["predictions"], dtype=float)[:, 1]
    np.testing.assert_allclose(p, _delinq_proba(models, case), atol=1e-12)


def test_a_model_pickled_under_the_old_module_names_still_loads(models, tmp_path, monkeypatch):
    """Versions registered before ``delinq.*`` name ``features.x`` and ``models.x`` classes."""
    model, _, frame = _load(models, "taiwan")
    # Pickle it as the old code did: its classes under their old module names.
    with monkeypatch.context() as patch:
        for module in [
            m for m in list(sys.modules) if m.startswith(("delinq.features", "delinq.models"))
        ]:
            old = module.removeprefix("delinq.")
            patch.setitem(sys.modules, old, sys.modules[module])
            for value in vars(sys.modules[module]).values():
                if isinstance(value, type) and value.__module__ == module:
                    patch.setattr(value, "__module__", old)
        data = pickle.dumps(model)
    assert b"features.history" in data and b"delinq.features" not in data
    folder = tmp_path / "old-model"
    folder.mkdir()
    (folder / "model.pkl").write_bytes(data)
    (folder / "MLmodel").write_text(
        yaml.safe_dump({"flavors": {"sklearn": {"pickled_model": "model.pkl"}}})
    )
    loaded = load_model_files(folder)
    np.testing.assert_array_equal(loaded.predict_proba(frame), model.predict_proba(frame))
