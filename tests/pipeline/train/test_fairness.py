"""The fairness report: groups, rates, impact ratios, the gate, and protected attributes kept
out of the inputs and out of every reason code."""

import numpy as np
import pandas as pd
import pytest

from delinq.pipeline.book.io import load_training_data
from delinq.pipeline.config import FairnessConfig
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.load import load_registered
from delinq.pipeline.train.fairness import OTHER, fairness_table, group_labels
from delinq.pipeline.train.job import train
from tests.conftest import one_family_config


def test_age_is_banded_and_small_groups_are_pooled():
    ages = pd.Series([22, 30, 30, 41, 60, np.nan] * 10 + [99])
    labels = group_labels(ages, [25, 35, 45, 55], min_rows=5)
    assert labels.iloc[:6].tolist() == [
        "under 25", "25 to under 35", "25 to under 35", "35 to under 45", "55 and over",
        "missing",
    ]  # fmt: skip
    levels = group_labels(pd.Series(["1", "2"] * 20 + ["3"] * 2), None, min_rows=5)
    assert set(levels) == {"1", "2", OTHER}


def test_a_group_flagged_twice_as_often_has_an_adverse_impact_ratio():
    rng = np.random.default_rng(0)
    n = 4_000
    sex = pd.DataFrame({"SEX": np.repeat(["1", "2"], n // 2)})
    y = rng.random(n) < 0.2
    pd_ = np.clip(0.2 + 0.3 * y + rng.normal(0, 0.1, n), 0, 1)
    flagged = np.r_[rng.random(n // 2) < 0.1, rng.random(n // 2) < 0.4]  # 10 % against 40 %
    table = fairness_table(sex, y, pd_, flagged, FairnessConfig()).set_index("group")
    assert table.loc["1", "impact_ratio"] == 1.0
    assert table.loc["2", "impact_ratio"] == pytest.approx(0.6 / 0.9, abs=0.03)
    assert table["auc"].between(0.8, 1).all() and (table["rows"] == n // 2).all()
    assert table["calibration_gap"].abs().max() < 0.2


@pytest.mark.slow
def test_protected_attributes_are_measured_not_used_and_never_reasons(tmp_path, no_tracking_env):
    cfg = one_family_config(tmp_path, "logreg")
    data = cfg.data.model_copy(update={"protected": ["SEX", "AGE"]})
    cfg = cfg.model_copy(update={"data": data})
    result = train(cfg, load_training_data(cfg))
    fairness = result.fairness
    assert set(fairness["attribute"]) == {"SEX", "AGE"}
    assert "25 to under 35" in set(fairness["group"])
    assert (result.output_dir / "fairness.csv").exists()
    assert "fairness.png" in tracking.artifact_names(result.run_id)
    _, _, model, reference = load_registered(f"models:/{cfg.tracking.model_name}/1")
    assert not {"SEX", "AGE"} & set(reference.names)

    # Allowed as inputs: a warning, and still never a reason code.
    allowed = cfg.model_copy(
        update={
            "data": data.model_copy(update={"allow_protected_inputs": True}),
            "fairness": cfg.fairness.model_copy(update={"min_impact_ratio": 0.999}),
            # Only the fairness gate is under test: any AUC against the first run passes.
            "promotion": cfg.promotion.model_copy(update={"tolerance": 1.0}),
        }
    )
    dataset = load_training_data(allowed)
    result = train(allowed, dataset)
    assert any("protected attributes are model inputs" in w for w in result.warnings)
    assert not result.promotion.promote and "fairness.min_impact_ratio" in result.promotion.reason
    from delinq.pipeline.explain.explainer import ModelExplainer

    _, _, model, reference = load_registered(f"models:/{cfg.tracking.model_name}/2")
    assert {"SEX", "AGE"} <= set(reference.names) and reference.protected == ["SEX", "AGE"]
    explainer = ModelExplainer(model, reference)
    values = explainer.contributions(explainer.transform(dataset.X))
    at = [explainer.inputs.index(c) for c in ("SEX", "AGE")]
    assert (values[:, at] > 0).any()  # the model does use them...
    codes = explainer.reason_codes(values, dataset.X, 5)
    used = set(codes.filter(like="_code").stack().dropna())
    assert used and not used & {"SEX", "AGE"}  # ...but they are never given as reasons


def test_the_pooled_small_groups_are_never_the_most_favoured():
    groups = pd.DataFrame({"MARRIAGE": ["1"] * 100 + ["2"] * 100 + ["0"] * 5})
    flagged = np.r_[np.arange(100) < 25, np.arange(100) < 20, np.zeros(5, bool)]
    y = np.tile([0, 1], 103)[:205]
    table = fairness_table(groups, y, np.full(205, 0.2), flagged, FairnessConfig())
    ratios = table.set_index("group")["impact_ratio"]
    assert ratios["2"] == 1.0 and ratios["1"] == pytest.approx(0.75 / 0.8)
    assert np.isnan(ratios[OTHER])  # too few rows to judge, and never the benchmark
