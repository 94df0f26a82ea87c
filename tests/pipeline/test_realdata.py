"""The pipeline on the real public datasets in ../shared/data (skipped where absent)."""

import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from delinq.pipeline.book.io import load_dataset
from delinq.pipeline.config import load_config
from delinq.pipeline.score.local import score_book
from delinq.pipeline.train.job import train
from tests.conftest import REPO, quick_config

pytestmark = [pytest.mark.slow, pytest.mark.realdata, pytest.mark.usefixtures("no_tracking_env")]


def _quick(cfg_name, tmp_path):
    base = quick_config(tmp_path)
    cfg = load_config(REPO / "configs" / cfg_name)
    return cfg.model_copy(
        update={
            "models": cfg.models.model_copy(update={"search": base.models.search}),
            "tracking": base.tracking,
            "output_dir": base.output_dir,
        }
    )


def test_taiwan_sample_ranks_well(tmp_path, taiwan_path):
    cfg = _quick("taiwan.yaml", tmp_path)
    dataset = load_dataset(taiwan_path, cfg.data)
    assert len(dataset.y) == 30_000 and abs(dataset.bad_rate - 0.2212) < 1e-4
    sample = dataset.X.sample(6_000, random_state=0).index
    small = type(dataset)(
        X=dataset.X.loc[sample].reset_index(drop=True),
        y=dataset.y.loc[sample].reset_index(drop=True),
        ids=dataset.ids.loc[sample].reset_index(drop=True),
        numeric=dataset.numeric,
        categorical=dataset.categorical,
        source=dataset.source,
    )
    result = train(cfg, small)
    assert result.comparison["roc_auc_mean"].min() > 0.72
    assert result.comparison["roc_auc_mean"].max() > 0.76

    # The nightly scorer on the real file (CSV: every value parsed per row) with that model.
    cfg = cfg.model_copy(update={"policy": REPO / "configs" / "collection_policy.yaml"})
    uri = f"models:/{cfg.tracking.model_name}/{result.version}"
    scored = score_book(taiwan_path, tmp_path / "scores", "2005-10-31", uri, cfg, reasons=True)
    m = scored.manifest
    assert m["rows"] == {"read": 30_000, "scored": 30_000, "rejected": 0}
    assert m["predict_path"] == "lean"
    # The Taiwan config declares SEX, MARRIAGE and AGE protected: not inputs, so not read.
    assert m["extra_columns_ignored"] == ["AGE", "MARRIAGE", "SEX", "default_next_month"]
    scores = pd.read_parquet(scored.partition / "scores.parquet")
    truth = pd.read_csv(taiwan_path, usecols=["ID", "default_next_month"])
    both = scores.assign(ID=scores["id"].astype(int)).merge(truth, on="ID")
    unseen = ~both["ID"].isin(dataset.ids.loc[sample])  # the 24,000 rows training never saw
    assert roc_auc_score(both.loc[unseen, "default_next_month"], both.loc[unseen, "pd"]) > 0.76
    assert set(scores["dpd_bucket"]) >= {"current", "1-30", "31-60"}
    assert scores["reason_1"].dropna().str.contains(": ").all()


def test_german_text_categoricals_and_string_target(tmp_path, german_path):
    cfg = _quick("german.yaml", tmp_path)
    dataset = load_dataset(german_path, cfg.data)
    assert abs(dataset.bad_rate - 0.30) < 1e-9
    assert len(dataset.categorical) == 13
    result = train(cfg, dataset)
    assert result.comparison["roc_auc_mean"].max() > 0.74
