"""End to end: train into a real embedded MLflow store, register, promote, reload."""

import numpy as np
import pandas as pd
import pytest

from delinq.pipeline.book.io import load_training_data
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.load import load_registered
from delinq.pipeline.registry.promote import promote
from delinq.pipeline.train.job import masked_example, train
from tests.conftest import quick_config

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_tracking_env")]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("train")
    import os

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    cfg = quick_config(tmp)
    dataset = load_training_data(cfg)
    return cfg, dataset, train(cfg, dataset)


def test_parent_and_nested_runs_are_logged(trained):
    cfg, _, result = trained
    info = tracking.run_info(result.run_id)
    assert info["tags"]["champion"] == result.champion
    assert info["metrics"]["champion_cv_roc_auc"] == pytest.approx(
        result.comparison.loc[result.champion, "roc_auc_mean"]
    )
    children = tracking.child_runs(result.experiment_id, result.run_id)
    assert sorted(children["tags.family"]) == sorted(cfg.models.families)
    for metric in ("roc_auc", "gini", "ks", "pr_auc", "f1", "brier", "log_loss"):
        assert f"metrics.cv_{metric}_mean" in children and f"metrics.cv_{metric}_std" in children
    assert result.tracking_uri.startswith("sqlite:")


def test_outputs_written(trained):
    _, _, result = trained
    names = {p.name for p in result.output_dir.iterdir()}
    assert {
        "comparison.csv",
        "roc_curves.png",
        "pr_curves.png",
        "calibration.png",
        "ks.png",
        "confusion_matrices.png",
        "champion_feature_selection.csv",
    } <= names
    table = pd.read_csv(result.output_dir / "comparison.csv", index_col="family")
    assert table["roc_auc_mean"].between(0.6, 1).all()


def test_portfolio_analytics_logged(trained):
    _, _, result = trained
    logged = set(tracking.artifact_names(result.run_id, "portfolio"))
    expected = {"aging.csv", "roll_rates.csv", "roll_rates.png", "aging.png", "bad_rates.png"}
    assert expected <= logged
    segments = pd.read_csv(result.output_dir / "portfolio" / "bad_rate_by_segment.csv")
    assert segments["accounts"].sum() == 1_500


def test_champion_registered_promoted_and_loadable(trained):
    cfg, dataset, result = trained
    name = cfg.tracking.model_name
    assert tracking.alias_version(name, "challenger") == result.version
    assert result.promotion is not None and result.promotion.promote
    assert tracking.alias_version(name, "champion") == result.version
    _, _, model, _ = load_registered(f"models:/{name}@champion")
    p = model.predict_proba(dataset.X.head(200))[:, 1]
    assert np.all((p >= 0) & (p <= 1)) and p.std() > 0


def test_second_run_respects_the_gates(trained):
    cfg, dataset, first = trained
    stricter = cfg.model_copy(
        update={"promotion": cfg.promotion.model_copy(update={"auto": False, "min_auc": 0.99})}
    )
    second = train(stricter, dataset)
    assert second.version != first.version and second.promotion is None
    decision, version = promote(stricter)
    assert not decision.promote and "below the minimum" in decision.reason
    assert tracking.alias_version(cfg.tracking.model_name, "champion") == first.version
    assert tracking.alias_version(cfg.tracking.model_name, "challenger") == version


def test_no_real_row_is_stored_as_input_example(trained):
    _, dataset, _ = trained
    example = masked_example(dataset.X)
    merged = example.merge(dataset.X, how="inner", on=list(dataset.X.columns))
    assert merged.empty


def test_same_seed_same_metrics(tmp_path, trained):
    cfg, dataset, first = trained
    again = train(
        cfg.model_copy(
            update={
                "tracking": cfg.tracking.model_copy(update={"store_dir": tmp_path / "s"}),
                "output_dir": tmp_path / "runs",
            }
        ),
        dataset,
    )
    metrics = [c for c in first.comparison.columns if not c.startswith("fit_seconds")]
    pd.testing.assert_frame_equal(first.comparison[metrics], again.comparison[metrics])
