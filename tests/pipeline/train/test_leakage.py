"""No leakage: with shuffled labels the full pipeline (SMOTE and selection included) is at chance.

The same pipeline on the true labels scores well above chance, so the test can tell the two
apart: a preprocessing or selection step fitted outside the folds would lift the shuffled score.
"""

import numpy as np
import pytest

from delinq.pipeline.book.io import validate
from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.config import ImbalanceConfig
from delinq.pipeline.train.estimator import Columns, build_estimator
from delinq.pipeline.train.evaluate import cross_validate
from tests.conftest import quick_config


@pytest.mark.slow
@pytest.mark.parametrize("families", [["logreg", "xgboost"], ["svm", "random_forest"]])
def test_shuffled_labels_score_chance(tmp_path, families):
    cfg = quick_config(tmp_path)
    cfg = cfg.model_copy(
        update={
            "imbalance": ImbalanceConfig(method="smote"),
            "models": cfg.models.model_copy(update={"families": families}),
        }
    )
    book = simulate_book(3_000, seed=3)
    ds = validate(book, cfg.data, "book")
    cols = Columns(ds.numeric, ds.categorical)
    estimators = {f: build_estimator(cfg, cols, f) for f in families}
    assert "resample" in estimators[families[0]].named_steps
    assert "select" in estimators[families[0]].named_steps

    shuffled = ds.y.sample(frac=1.0, random_state=0).reset_index(drop=True)
    null = cross_validate(estimators, ds.X, shuffled, 5, cfg.seed, n_jobs=2)
    real = cross_validate(estimators, ds.X, ds.y, 5, cfg.seed, n_jobs=2)
    for family in families:
        null_auc = null[family].fold_metrics["roc_auc"].mean()
        real_auc = real[family].fold_metrics["roc_auc"].mean()
        assert abs(null_auc - 0.5) < 0.04, (family, null_auc)
        assert real_auc > 0.65, (family, real_auc)
        assert np.all(null[family].oof >= 0) and np.all(null[family].oof <= 1)
