"""Reject-inference methods on simulated through-the-door populations whose truth is known.

    .venv/bin/python benchmarks/reject_inference.py [--rows 20000] [--seeds 0 1 2]

For each population (the old decision's judgement beyond the data 0 / 1 / 2, accept rate 50 %
and 70 %, three seeds) every method of models/reject_inference.py infers the rejects and
refits; reported per method: the mean AUC on all applicants, its mean gain over accepts only,
how often it had the best AUC, and the mean error of the rejects' inferred bad rate.
The default (reject_inference.method) must win here. Results: data/bench/reject_inference.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from panel import REPO  # noqa: E402


def main() -> None:
    from delinq.pipeline.config import RejectInferenceConfig
    from delinq.pipeline.train.reject_inference import compare_methods

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    ri = RejectInferenceConfig()
    runs = []
    for judgement in (0.0, 1.0, 2.0):
        for accept_rate in (0.5, 0.7):
            for seed in args.seeds:
                table = compare_methods(
                    args.rows, accept_rate, seed, ri.uplift, judgement=judgement, bands=ri.bands
                )
                table["gain"] = (
                    table["auc_through_the_door"]
                    - table.loc["accepts_only", "auc_through_the_door"]
                )
                table["best"] = table["auc_through_the_door"] == table["auc_through_the_door"].max()
                table = table.assign(judgement=judgement, accept_rate=accept_rate, seed=seed)
                runs.append(table.reset_index())
                print(
                    judgement,
                    accept_rate,
                    seed,
                    table["auc_through_the_door"].round(4).to_dict(),
                    flush=True,
                )
    runs = pd.concat(runs, ignore_index=True)
    summary = runs.groupby(["judgement", "method"]).agg(
        auc=("auc_through_the_door", "mean"),
        gain_vs_accepts_only=("gain", "mean"),
        best_share=("best", "mean"),
        reject_bad_rate_error=("bad_rate_error", "mean"),
    )
    overall = runs.groupby("method").agg(
        gain_vs_accepts_only=("gain", "mean"),
        best_share=("best", "mean"),
        reject_bad_rate_error=("bad_rate_error", "mean"),
    )
    print(summary.round(4).to_string())
    print(overall.round(4).to_string())
    out = REPO / "data" / "bench" / "reject_inference.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "by_judgement": summary.round(4).reset_index().to_dict(orient="records"),
                "overall": overall.round(4).reset_index().to_dict(orient="records"),
                "default": ri.method,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
