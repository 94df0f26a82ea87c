"""The XGBoost family keeps its declared and default monotone directions inside the pipeline."""

import pandas as pd
import pytest

from delinq.features.history import RISK_RISES_WITH
from delinq.models.fitted import model_space
from delinq.pipeline.book.io import load_training_data
from delinq.pipeline.train.estimator import Columns, build_pipeline, tree_constraints
from tests.conftest import quick_config
from tests.models.test_boosting import sign_violations

pytestmark = pytest.mark.slow


def test_history_defaults_and_declared_directions_hold_after_selection(tmp_path):
    cfg = quick_config(tmp_path, simulate_rows=4_000)
    cfg = cfg.model_copy(
        update={"models": cfg.models.model_copy(update={"monotone": {"LIMIT_BAL": "decreasing"}})}
    )
    signs = tree_constraints(cfg)
    assert signs["LIMIT_BAL"] == -1 and all(signs[f] == 1 for f in RISK_RISES_WITH)
    data = load_training_data(cfg)
    pipe = build_pipeline(cfg, Columns(data.numeric, data.categorical), "xgboost")
    pipe.fit(data.X, data.y)
    Z = model_space(pipe).transform(data.X.sample(1_000, random_state=0))
    Z = pd.DataFrame(Z)
    clf = pipe.steps[-1][1]
    checked = [c for c in Z.columns if c in signs]
    assert "LIMIT_BAL" in checked and len(checked) >= 3
    for column in checked:
        assert sign_violations(clf, Z, column, signs[column]) == 0, column


def test_switching_the_history_defaults_off_leaves_only_what_is_declared(tmp_path):
    cfg = quick_config(tmp_path)
    off = cfg.model_copy(
        update={"models": cfg.models.model_copy(update={"monotone_history": False})}
    )
    assert tree_constraints(off) == {}
