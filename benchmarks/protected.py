"""Protected attributes: what leaving them out costs on Taiwan, and that they never become a
reason code, even when a model is allowed to use them.

    .venv/bin/python benchmarks/protected.py [--rows 1000000] [--taiwan PATH]

1. Taiwan, `--quick` CV on the same folds, twice: SEX, MARRIAGE and AGE as inputs, then
   declared `data.protected` (not inputs). Champion CV AUC and each family's AUC, side by side.
2. A champion trained with the three *allowed* as inputs (`allow_protected_inputs`) scores a
   simulated book of --rows rows with reason codes through `delinq score`; every reason column
   is searched for a protected attribute (expected: 0), and the SHAP values of the same model
   on a sample say how often one would have been a top-3 reason without the rule.
Results: data/bench/protected.json.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import yaml

REPO = Path(__file__).resolve().parents[1]
PROTECTED = ["SEX", "MARRIAGE", "AGE"]


def _config(tmp: Path, name: str, **data):
    from delinq.pipeline.config import load_config, with_overrides

    cfg = load_config(REPO / "configs" / "taiwan.yaml")
    return with_overrides(
        cfg,
        data=data,
        models={"search": cfg.models.search.model_copy(update={"method": "none"})},
        tracking={"store_dir": tmp / name / "mlflow"},
    ).model_copy(update={"output_dir": tmp / name / "runs"})


def with_and_without(taiwan: Path, tmp: Path) -> dict:
    """Champion and per-family CV AUC on Taiwan with the attributes as inputs and without."""
    from delinq.pipeline.book.io import load_training_data
    from delinq.pipeline.train.job import train

    out = {}
    for name, protected in (("as_inputs", []), ("protected", PROTECTED)):
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        cfg = _config(tmp, name, path=taiwan, protected=protected)
        result = train(cfg, load_training_data(cfg))
        out[name] = {
            "champion": result.champion,
            "champion_auc": float(result.comparison.loc[result.champion, "roc_auc_mean"]),
            "auc": result.comparison["roc_auc_mean"].round(4).to_dict(),
        }
        if result.fairness is not None:
            out[name]["lowest_impact_ratio"] = float(result.fairness["impact_ratio"].min())
        print(name, json.dumps(out[name]), flush=True)
    return out


def reasons_on_a_book(rows: int, tmp: Path) -> dict:
    """Train with the attributes allowed as inputs, score ``rows`` rows with reason codes, and
    count protected attributes among the reasons."""
    from delinq.pipeline.book.io import load_training_data
    from delinq.pipeline.book.simulate import write_book
    from delinq.pipeline.cli import app
    from delinq.pipeline.config import load_config
    from delinq.pipeline.explain.explainer import ModelExplainer
    from delinq.pipeline.registry.load import load_registered
    from delinq.pipeline.train.job import train

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    raw = yaml.safe_load((REPO / "configs" / "train.yaml").read_text())
    raw["data"] |= {"protected": PROTECTED, "allow_protected_inputs": True}
    raw["models"] |= {"families": ["xgboost"], "search": {"method": "none"}}
    raw["tracking"]["store_dir"] = str(tmp / "allowed" / "mlflow")
    raw["scoring"] = {**raw.get("scoring", {}), "output_dir": str(tmp / "scores")}
    raw |= {"output_dir": str(tmp / "allowed" / "runs"), "policy": str(REPO / raw["policy"])}
    config = tmp / "allowed.yaml"
    config.write_text(yaml.safe_dump(raw))
    cfg = load_config(config)
    dataset = load_training_data(cfg)
    result = train(cfg, dataset)
    uri = f"models:/{result.model_name}/{result.version}"

    book = tmp / "book.parquet"
    write_book(book, rows, seed=11)
    try:
        app(["score", "-c", str(config), "-i", str(book), "-o", str(tmp / "scores"),
             "--as-of", "2026-11-30", "--model-uri", uri, "--reasons", "--force"])  # fmt: skip
    except SystemExit as exc:
        assert not exc.code, exc.code
    scores = pq.read_table(tmp / "scores" / "as_of_date=2026-11-30" / "scores.parquet")
    codes = [c for c in scores.column_names if c.startswith("reason_") and c.endswith("_code")]
    given = pd.concat([scores[c].to_pandas() for c in codes])
    protected_given = int(given.isin(PROTECTED).sum())

    # Without the rule: how often would a protected attribute have been a top-3 reason?
    _, _, model, reference = load_registered(uri)
    explainer = ModelExplainer(model, reference)
    sample = dataset.X.sample(20_000, random_state=0)
    values = explainer.contributions(explainer.transform(sample))
    top3 = np.argsort(-values, axis=1)[:, :3]
    raising = np.take_along_axis(values, top3, axis=1) > 0
    at = [explainer.inputs.index(c) for c in PROTECTED]
    would = float((np.isin(top3, at) & raising).any(axis=1).mean())
    out = {
        "rows_scored": scores.num_rows,
        "reason_codes_given": int(given.notna().sum()),
        "protected_among_reasons": protected_given,
        "share_of_rows_where_one_would_rank_top3_without_the_rule": round(would, 4),
    }
    print("reasons", json.dumps(out), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--taiwan", type=Path, default=REPO.parent / "shared" / "data" / "taiwan_credit_default.csv"
    )
    parser.add_argument("--only", choices=["taiwan", "reasons"], help="Run one part only.")
    args = parser.parse_args()
    out = REPO / "data" / "bench" / "protected.json"
    results = json.loads(out.read_text()) if out.exists() else {}
    with tempfile.TemporaryDirectory(prefix="delinq-protected-") as tmp:
        if args.only in (None, "taiwan"):
            results["taiwan"] = with_and_without(args.taiwan, Path(tmp))
        if args.only in (None, "reasons"):
            results["reasons"] = reasons_on_a_book(args.rows, Path(tmp))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
