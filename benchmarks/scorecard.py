"""The scorecard family and monotone XGBoost across the multi-data-set suite, and export parity.

1. ``auc``: on every table of ``benchmarks/datasets.py``, the same 5 folds, ``--quick``: the
   plain reference, the scorecard family, XGBoost as shipped (monotone history defaults) and,
   on tables with a payment history, XGBoost without constraints (``models.monotone_history
   = false``).
2. ``parity``: a scorecard fitted and sigmoid-calibrated on the simulated book and on Taiwan,
   then 100,000 rows (Taiwan resampled with replacement, with 5 % of four inputs blanked so
   missing bins are used): the points ``delinq score`` publishes (the card's sums,
   :meth:`PointsCard.score`) against the exported SQL run in DuckDB and in SQLite, and the PMML
   document run in PyPMML. Mismatches are counted, not sampled.
3. ``sweep``: XGBoost as shipped, fitted on all of Taiwan: every constrained model column is
   swept over 50 grid points for 1,000 rows; rows whose log-odds move against the declared
   direction anywhere are counted.

Run: ``.venv/bin/python benchmarks/scorecard.py [--parts auc parity sweep] [--only NAME ...]``.
Results: markdown on stdout and JSON in data/bench/scorecard.json (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.datasets import DATASETS, load, run_cv  # noqa: E402

OUT = REPO / "data" / "bench" / "scorecard.json"


def auc_part(names: list[str]) -> dict:
    results = {}
    for name in names:
        cfg, data = load(name, ["models.families=[xgboost, scorecard]"])
        aucs, seconds, _ = run_cv(cfg, data, "quick")
        row = {**aucs, "seconds": seconds}
        if cfg.data.history is not None:
            free, _ = load(name, ["models.families=[xgboost]", "models.monotone_history=false"])
            row["xgboost_unconstrained"] = run_cv(free, data, "quick")[0]["xgboost"]
        results[name] = row
        print(name, {k: round(v, 4) for k, v in row.items()}, flush=True)
    return results


def _blank(frame: pd.DataFrame, columns: list[str], seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    out = frame.copy()
    for col in columns:
        if col in out:
            out[col] = out[col].astype(float).mask(rng.random(len(out)) < 0.05)
    return out


def parity_part(rows: int = 100_000) -> dict:
    import duckdb

    from delinq.features.cleaning import coerce_types
    from delinq.models.calibration import OOFCalibratedClassifier
    from delinq.models.points_card import points_card
    from delinq.models.scorecard_pmml import scorecard_pmml
    from delinq.models.scorecard_sql import scorecard_sql
    from delinq.pipeline.train.estimator import Columns, scorecard_pipeline

    results = {}
    for name in ("sim_default", "taiwan"):
        cfg, data = load(name)
        columns = Columns(data.numeric, data.categorical)
        model = OOFCalibratedClassifier(scorecard_pipeline(cfg, columns), cv=3)
        model.fit(data.X, data.y)
        card = points_card(
            model, cfg.scorecard.base_score, cfg.scorecard.base_odds, cfg.scorecard.pdo
        )
        book = data.X.sample(rows, replace=True, random_state=0).reset_index(drop=True)
        book = _blank(book, ["LIMIT_BAL", "BILL_AMT1", "PAY_AMT1", "AGE"], seed=1)
        book = coerce_types(book, columns.numeric, columns.categorical)
        started = time.perf_counter()
        published = card.score(book)
        python_s = time.perf_counter() - started
        inputs = card.inputs(book)[list(card.points)].assign(row_id=np.arange(rows))
        query = scorecard_sql(card, "loans", "row_id")
        con = duckdb.connect()
        con.register("frame", inputs)
        con.execute("CREATE TABLE loans AS SELECT * FROM frame")
        started = time.perf_counter()
        duck = con.execute(query).df().sort_values("row_id")["points"].to_numpy()
        duck_s = time.perf_counter() - started
        from pypmml import Model

        pmml = Model.fromString(scorecard_pmml(card))
        started = time.perf_counter()
        by_pmml = pmml.predict(inputs[list(card.points)])["points"].to_numpy()
        pmml_s = time.perf_counter() - started
        lite = sqlite3.connect(":memory:")
        inputs.to_sql("loans", lite, index=False)
        sqlite = pd.read_sql_query(query, lite).sort_values("row_id")["points"].to_numpy()
        results[name] = {
            "rows": rows,
            "inputs_in_card": len(card.points),
            "bins": int(sum(len(p) for p in card.points.values())),
            "duckdb_mismatches": int((duck != published).sum()),
            "sqlite_mismatches": int((sqlite != published).sum()),
            "pmml_mismatches": int((by_pmml != published).sum()),
            "pmml_s": pmml_s,
            "python_s": python_s,
            "duckdb_s": duck_s,
        }
        print(name, results[name], flush=True)
    return results


def sweep_part(grid: int = 50, rows: int = 1_000) -> dict:
    from delinq.models.fitted import model_space
    from delinq.pipeline.train.estimator import Columns, build_pipeline, tree_constraints

    cfg, data = load("taiwan", ["models.search.method=none"])
    signs = tree_constraints(cfg)
    pipe = build_pipeline(cfg, Columns(data.numeric, data.categorical), "xgboost")
    pipe.set_params(clf__n_jobs=2).fit(data.X, data.y)
    Z = pd.DataFrame(model_space(pipe).transform(data.X.sample(rows, random_state=0)))
    clf = pipe.steps[-1][1]
    out = {}
    for col in [c for c in Z.columns if c in signs]:
        margins = []
        for value in np.linspace(Z[col].min(), Z[col].max(), grid):
            swept = Z.copy()
            swept[col] = value
            margins.append(clf.predict(swept, output_margin=True))
        steps = np.diff(np.column_stack(margins), axis=1) * signs[col]
        out[col] = int((steps < -1e-9).any(axis=1).sum())
    print("sweep violations per constrained column:", out, flush=True)
    return {"grid": grid, "rows": rows, "violations": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", default=["auc", "parity", "sweep"])
    parser.add_argument("--only", nargs="+", default=list(DATASETS))
    args = parser.parse_args()
    stored = json.loads(OUT.read_text()) if OUT.exists() else {}
    if "auc" in args.parts:
        stored["auc"] = stored.get("auc", {}) | auc_part(args.only)
    if "parity" in args.parts:
        stored["parity"] = parity_part()
    if "sweep" in args.parts:
        stored["sweep"] = sweep_part()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(stored, indent=2))
    if "auc" in stored:
        print("\n| table | reference | scorecard | XGBoost (monotone) | XGBoost (free) |")
        print("|---|---|---|---|---|")
        for name, row in stored["auc"].items():
            free = row.get("xgboost_unconstrained")
            print(
                f"| {name} | {row['reference']:.4f} | {row['scorecard']:.4f} | "
                f"{row['xgboost']:.4f} | {'' if free is None else f'{free:.4f}'} |"
            )


if __name__ == "__main__":
    main()
