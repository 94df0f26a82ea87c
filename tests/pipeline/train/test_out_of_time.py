"""The out-of-time holdout: latest months kept out of training, scored, shifts flagged."""

import os

import numpy as np
import pandas as pd
import pytest

from delinq.models.champion import PromotionDecision
from delinq.pipeline.book.io import validate
from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.promote import _oot_gate
from delinq.pipeline.train.job import TrainingError, train
from delinq.pipeline.train.out_of_time import OOT_FILE, OutOfTimeError, split_out_of_time
from tests.conftest import one_family_config

MONTHS = ["2026-01", "2026-02", "2026-03"]


def _book(shock: bool) -> pd.DataFrame:
    """Three observation months of a simulated book; with ``shock`` the last month's limits
    are three times larger and half its outcomes no longer follow the inputs."""
    book = simulate_book(4_500, seed=3)
    book["month"] = np.repeat(MONTHS, 1_500)
    if shock:
        last = book["month"] == MONTHS[-1]
        book.loc[last, "LIMIT_BAL"] *= 3
        rng = np.random.default_rng(0)
        noise = last & (rng.random(len(book)) < 0.5)
        book.loc[noise, "default_next_month"] = rng.permutation(
            book.loc[noise, "default_next_month"].to_numpy()
        )
    return book


def _config(tmp_path, **cv):
    cfg = one_family_config(tmp_path, "logreg")
    return cfg.model_copy(
        update={
            "data": cfg.data.model_copy(update={"time": "month"}),
            "cv": cfg.cv.model_copy(update={"out_of_time": 1, **cv}),
        }
    )


@pytest.mark.slow
def test_a_shocked_last_month_scores_lower_and_its_shifted_input_is_named(tmp_path):
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    cfg = _config(tmp_path)
    result = train(cfg, validate(_book(shock=True), cfg.data, "book"))
    o = result.out_of_time
    assert result.out_of_time_months == ("2026-03",) and o["oot_rows"] == 1_500
    cv_auc = result.comparison.loc[result.champion, "roc_auc_mean"]
    assert o["oot_roc_auc"] < cv_auc - 0.05
    shift = pd.read_csv(result.output_dir / OOT_FILE, index_col=0)["psi"]
    assert shift.idxmax() == "LIMIT_BAL" and shift["LIMIT_BAL"] > 0.25
    assert any("LIMIT_BAL" in w and "shifted out of time" in w for w in result.warnings)
    # The version carries its out-of-time AUC, and the promotion gate reads it.
    tracking.connect(cfg.tracking)
    name = cfg.tracking.model_name
    tagged = float(tracking.version_tag(name, result.version, tracking.OOT_TAG))
    assert tagged == pytest.approx(o["oot_roc_auc"], abs=1e-6)
    passed = PromotionDecision(True, "CV AUC fine")
    assert not _oot_gate(0.99, name, result.version, passed).promote
    assert _oot_gate(0.5, name, result.version, passed).promote


@pytest.mark.slow
def test_without_a_shock_the_months_agree_within_the_folds_spread(tmp_path):
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    cfg = _config(tmp_path)
    result = train(cfg, validate(_book(shock=False), cfg.data, "book"))
    row = result.comparison.loc[result.champion]
    assert (
        abs(result.out_of_time["oot_roc_auc"] - row["roc_auc_mean"]) < 3 * row["roc_auc_std"] + 0.02
    )
    assert not any("out of time" in w for w in result.warnings)


def test_holdouts_that_cannot_be_taken_say_why(tmp_path):
    cfg = _config(tmp_path)
    data = validate(_book(shock=False), cfg.data, "book")
    with pytest.raises(OutOfTimeError, match="has only 3 value"):
        split_out_of_time(data, 3)
    no_time = validate(_book(shock=False), cfg.data.model_copy(update={"time": None}), "b")
    with pytest.raises(OutOfTimeError, match="needs data.time"):
        split_out_of_time(no_time, 1)
    book = _book(shock=False)
    book.loc[book["month"] == MONTHS[-1], "default_next_month"] = 0
    with pytest.raises(TrainingError, match="hold only one outcome"):
        train(cfg, validate(book, cfg.data, "book"))
