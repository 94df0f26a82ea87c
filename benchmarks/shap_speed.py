"""Reason-code speed: our lookup-table TreeSHAP against shap.TreeExplainer, side by side.

Both explain the same rows of the real Taiwan data with the same XGBoost booster, in the same
process, alternating, with the same thread count; the figure is the median of the repeats.
Two boosters: the issue's reference model (400 trees, depth 4) and our champion's defaults
(500 trees, depth 3). ``shap.TreeExplainer`` hands XGBoost boosters to XGBoost's own C++
TreeSHAP (``pred_contribs``), so that is the baseline actually timed.

    .venv/bin/python benchmarks/shap_speed.py [--rows 60000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import shap
import xgboost as xgb

from delinq.models.candidates import DEFAULTS
from delinq.models.treeshap import TreeShap

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "taiwan_credit_default.csv"
MODELS = {
    "reference (400 trees, depth 4)": {"n_estimators": 400, "max_depth": 4, "learning_rate": 0.05},
    "champion defaults (500 trees, depth 3)": {
        k: v
        for k, v in DEFAULTS["xgboost"].items()
        if k not in ("n_jobs", "tree_method", "depth_candidates", "validation_fraction")
    },
}


def _timed(fn) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=60_000, help="rows explained per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    frame = pd.read_csv(DATA)
    y = frame["default_next_month"].to_numpy()
    X = frame.drop(columns=["ID", "default_next_month"]).to_numpy(np.float32)
    rows = np.resize(X, (args.rows, X.shape[1]))  # the real rows, repeated to the size asked
    print(
        f"{args.rows:,} rows x {X.shape[1]} inputs, {args.threads} threads, "
        f"median of {args.repeats}"
    )
    for label, params in MODELS.items():
        booster = xgb.XGBClassifier(**params, n_jobs=args.threads, random_state=0).fit(X, y)
        booster = booster.get_booster()
        build_s, ours = _timed(lambda b=booster: TreeShap(b))
        ours.shap_values(rows[:100])  # JIT compile (cached on disk after the first run)
        theirs = shap.TreeExplainer(booster)
        t_ours, t_shap = [], []
        for _ in range(args.repeats):
            s, ours_values = _timed(lambda o=ours: o.shap_values(rows))
            t_ours.append(s)
            s, shap_values = _timed(lambda t=theirs: t.shap_values(rows))
            t_shap.append(s)
        diff = float(np.abs(ours_values - shap_values).max())
        m_ours, m_shap = statistics.median(t_ours), statistics.median(t_shap)
        print(
            f"{label}: ours {args.rows / m_ours:,.0f} rows/s, shap.TreeExplainer "
            f"{args.rows / m_shap:,.0f} rows/s, ratio {m_shap / m_ours:.1f}x; "
            f"max |diff| {diff:.1e}; tables {ours.table_mb:.1f} MB built in {build_s:.2f} s"
        )


if __name__ == "__main__":
    main()
