"""End to end: train into a real embedded MLflow store, register, promote, reload."""

import re

import numpy as np
import pandas as pd
import pytest

from delinq.models.boosting import fold_consensus
from delinq.models.fitted import fitted_pipeline
from delinq.pipeline.book.io import load_training_data
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.load import load_registered
from delinq.pipeline.registry.promote import promote
from delinq.pipeline.train.job import masked_example, train
from tests.conftest import one_family_config, quick_config

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
    assert sorted(children["tags.family"]) == sorted([*cfg.models.families, "reference"])
    for metric in ("roc_auc", "gini", "ks", "pr_auc", "f1", "brier", "log_loss"):
        assert f"metrics.cv_{metric}_mean" in children and f"metrics.cv_{metric}_std" in children
    by_family = children.set_index("tags.family")
    for family in cfg.models.families:
        lift = by_family.loc[family, "metrics.cv_roc_auc_lift_vs_reference"]
        expected = (
            result.comparison.loc[family, "roc_auc_mean"]
            - result.comparison.loc["reference", "roc_auc_mean"]
        )
        assert lift == pytest.approx(expected)
        low, high = by_family.loc[
            family, ["metrics.cv_roc_auc_ci_low", "metrics.cv_roc_auc_ci_high"]
        ]
        assert low < result.comparison.loc[family, "roc_auc_mean"] < high
    assert 0 < info["metrics"]["champion_vs_runner_up_p"] <= 1
    assert info["tags"]["runner_up"] in cfg.models.families
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


def _with_families(cfg, tmp_path, families, **params):
    models = cfg.models.model_copy(update={"families": families, **params})
    return cfg.model_copy(
        update={
            "models": models,
            "tracking": cfg.tracking.model_copy(update={"store_dir": tmp_path / "s"}),
            "output_dir": tmp_path / "runs",
        }
    )


def test_a_winning_reference_is_a_warning(tmp_path, trained):
    """Logistic regression cannot see an exclusive-or; the plain reference's trees can."""
    cfg, dataset, _ = trained
    rng = np.random.default_rng(0)
    X = dataset.X.assign(a=rng.normal(size=len(dataset.y)), b=rng.normal(size=len(dataset.y)))
    y = pd.Series(((X["a"] > 0) ^ (X["b"] > 0)).astype(int), name=dataset.y.name)
    xor = type(dataset)(X, y, dataset.ids, [*dataset.numeric, "a", "b"], dataset.categorical, "xor")
    result = train(_with_families(cfg, tmp_path, ["logreg"]), xor)
    assert result.comparison.loc["logreg", "roc_auc_lift_vs_reference"] < -0.2
    assert any("beats every model family" in w for w in result.warnings)


def test_repeated_rows_are_kept_together_and_the_plain_folds_flattery_is_named(tmp_path, trained):
    """Each applicant appears 8 times with one outcome that has nothing to do with the inputs:
    plain folds let the reference memorise the outcome, grouped folds show it knows nothing."""
    cfg, dataset, _ = trained
    rng = np.random.default_rng(0)
    people = dataset.X.iloc[:200].reset_index(drop=True)
    X = people.loc[np.repeat(people.index, 8)].reset_index(drop=True)
    y = pd.Series(np.repeat(rng.random(200) < 0.3, 8).astype(int), name=dataset.y.name)
    ids = pd.Series(np.arange(len(y)), name=dataset.ids.name)
    copies = type(dataset)(X, y, ids, dataset.numeric, dataset.categorical, "copies")
    result = train(_with_families(cfg, tmp_path, ["logreg"]), copies)
    assert "reference (other folds)" not in result.comparison.index
    assert any("they are kept together in one fold" in w for w in result.warnings)
    changed = [w for w in result.warnings if "grouping the repeated rows changes" in w]
    assert changed, result.warnings
    plain, grouped = (float(v) for v in re.findall(r"(\d\.\d{4}) \(", changed[0]))
    assert plain > 0.95 and grouped < 0.75  # noise: 0.37-0.65 over four seeds


def test_a_family_that_cannot_fit_is_skipped_and_the_run_goes_on(tmp_path, trained):
    cfg, dataset, _ = trained
    broken = cfg.models.svm.model_copy(update={"params": {"C": -1.0}})
    result = train(_with_families(cfg, tmp_path, ["svm", "logreg"], svm=broken), dataset)
    assert result.champion == "logreg" and "svm" not in result.comparison.index
    assert any("'svm' failed to fit (InvalidParameterError on fold 1" in w for w in result.warnings)


def test_when_every_family_fails_nothing_is_registered(tmp_path, trained):
    from delinq.pipeline.train.job import TrainingError

    cfg, dataset, _ = trained
    broken = cfg.models.svm.model_copy(update={"params": {"C": -1.0}})
    run_cfg = _with_families(cfg, tmp_path, ["svm"], svm=broken)
    with pytest.raises(TrainingError, match="every model family failed"):
        train(run_cfg, dataset)
    assert tracking.alias_version(run_cfg.tracking.model_name, "challenger") is None


def test_too_few_bads_stop_training_unless_allowed_and_then_never_promote(tmp_path, trained):
    # The table: 3 bads among 703 rows, 5-fold CV, registered and promoted before.
    from delinq.pipeline.train.job import TrainingError

    cfg, dataset, _ = trained
    y = pd.Series(np.zeros(703, dtype=np.int64), name=dataset.y.name)
    y[[5, 300, 600]] = 1
    few = type(dataset)(
        dataset.X.head(703), y, dataset.ids.head(703), dataset.numeric, dataset.categorical, "t"
    )
    run_cfg = _with_families(cfg, tmp_path, ["logreg"])
    run_cfg = run_cfg.model_copy(update={"cv": run_cfg.cv.model_copy(update={"folds": 3})})
    with pytest.raises(TrainingError, match=r"only 3 bad rows among 703: 3-fold CV leaves about"):
        train(run_cfg, few)
    tracking.connect(run_cfg.tracking)
    assert tracking.alias_version(run_cfg.tracking.model_name, "challenger") is None

    allowed = run_cfg.model_copy(
        update={"cv": run_cfg.cv.model_copy(update={"allow_few_bads": True})}
    )
    result = train(allowed, few)
    assert any("trained anyway (--allow-few-bads)" in w for w in result.warnings)
    assert result.version and not result.promotion.promote
    assert "never promoted" in result.promotion.reason
    assert tracking.alias_version(run_cfg.tracking.model_name, "champion") is None


def test_the_xgboost_champion_is_fitted_once_with_the_trees_and_depth_its_folds_chose(tmp_path):
    cfg = one_family_config(tmp_path, "xgboost")
    dataset = load_training_data(cfg)
    result = train(cfg, dataset)

    folds = pd.read_csv(result.output_dir / "xgboost_folds.csv")
    assert folds["trees"].between(1, 1000).all() and set(folds["depth"]) <= {3, 6}
    rows = len(dataset.y) - len(dataset.y) // cfg.cv.folds  # about, per training fold
    grown = [(t, d, rows) for t, d in zip(folds["trees"], folds["depth"], strict=True)]
    expected = fold_consensus(grown, len(dataset.y), 1000)
    _, _, model, _ = load_registered(f"models:/{cfg.tracking.model_name}@champion")
    booster = fitted_pipeline(model).named_steps["clf"]
    assert booster.get_params()["max_depth"] == expected["max_depth"]
    # Each fold's own training rows may differ from the round figure by one.
    assert abs(booster.get_booster().num_boosted_rounds() - expected["n_estimators"]) <= 1


def test_a_store_that_cannot_be_opened_stops_the_run_and_nothing_is_written(tmp_path, trained):
    # The store opens while the folds are fitted: its error must still end the run cleanly.
    _, dataset, _ = trained
    cfg = quick_config(tmp_path)
    (tmp_path / "mlflow").mkdir()
    (tmp_path / "mlflow" / "mlflow.db").write_text("not a database")
    with pytest.raises(tracking.TrackingError, match="cannot open the MLflow store sqlite:"):
        train(cfg, dataset)
    assert not cfg.output_dir.exists()
