"""Snapshots on Spark (real Spark, local[2]): the local engine's rows, exclusions and config."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from delinq.pipeline.book.io import DataError
from delinq.pipeline.book.panel import write_snapshots
from delinq.pipeline.book.panel_spark import spark_snapshots
from delinq.pipeline.book.simulate_panel import write_panel
from delinq.pipeline.config import load_config, with_overrides
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_spark_snapshots_are_the_local_ones(spark, tmp_path):
    write_panel(tmp_path / "panel.parquet", 3_000, 20, "2023-01", 4, None)
    cfg = with_overrides(
        load_config(REPO / "configs" / "panel.yaml"),
        panel={"bad": {"dpd_at_least": 3, "within_months": 3}},
    )
    local_report, local = write_snapshots(cfg, tmp_path / "panel.parquet", tmp_path / "a.parquet")
    report, files = spark_snapshots(
        spark, cfg, tmp_path / "panel.parquet", tmp_path / "b.parquet", groups=7
    )
    key = "snapshot_id"
    a = pd.read_parquet(local[0]).sort_values(key).reset_index(drop=True)
    b = pd.read_parquet(files[0]).sort_values(key).reset_index(drop=True)[a.columns]
    assert len(a) > 1_000
    pd.testing.assert_frame_equal(a, b, check_dtype=False)
    pd.testing.assert_frame_equal(local_report, report, check_dtype=False)
    local_cfg, spark_cfg = (yaml.safe_load(f[-1].read_text()) for f in (local, files))
    local_cfg["data"].pop("path"), spark_cfg["data"].pop("path")
    assert local_cfg == spark_cfg
    # The written config trains on the folder of parts as on the local file.
    assert load_config(files[-1]).data.path == files[0]
    assert np.isclose(report["bads"].sum() / report["kept"].sum(), a["bad"].mean())


def test_a_faulty_panel_is_one_line_and_writes_nothing(spark, tmp_path):
    frame = pd.DataFrame(
        {"account_id": ["a", "a"], "month": ["2024-01", "2024-01"], "status": [0, 0]}
    )
    frame.to_parquet(tmp_path / "panel.parquet", index=False)
    cfg = with_overrides(
        load_config(REPO / "configs" / "panel.yaml"),
        panel={
            "balance": None,
            "payment": None,
            "limit": None,
            "origination": None,
            "static": [],
        },
    )
    with pytest.raises(DataError, match="repeat an account's month"):
        spark_snapshots(spark, cfg, tmp_path / "panel.parquet", tmp_path / "out.parquet")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["panel.parquet"]
    frame.to_csv(tmp_path / "panel.csv", index=False)
    with pytest.raises(DataError, match="reads a Parquet panel"):
        spark_snapshots(spark, cfg, tmp_path / "panel.csv", tmp_path / "out.parquet")
