"""The scorecard family and monotone XGBoost across the multi-data-set suite, and export parity.

1. ``auc``: on every table of ``benchmarks/datasets.py``, the same 5 folds, ``--quick``: the
   plain reference, the scorecard family, XGBoost as shipped (monotone history defaults) and,
   on tables with a payment history, XGBoost without constraints (``models.monotone_history
   = false``).
2. ``parity``: a scorecard champion trained (``--quick``, ``PAY_0``/``PAY_2`` = -2 as special
   values) on the simulated book and on Taiwan, then 100,000 rows (resampled with replacement,
   5 % of four inputs blanked so the missing bins are used) scored by ``score_book``: its
   published points against the sums read off the run's points table, its SQL run in DuckDB
   and SQLite, and its PMML run in PyPMML. Mismatches are counted, not sampled.
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
    """Train a scorecard champion (``train``), score ``rows`` rows with ``score_book`` as the
    nightly job does, then count rows whose published points differ from the sum read off the
    run's ``scorecard_table.csv``, from the run's ``scorecard.sql`` (DuckDB, SQLite) and from
    its ``scorecard.pmml`` (PyPMML)."""
    import os
    import tempfile

    import duckdb
    from pypmml import Model

    from delinq.features.cleaning import coerce_types
    from delinq.models.points_card import points_card
    from delinq.pipeline.registry.load import load_registered
    from delinq.pipeline.score.local import score_book
    from delinq.pipeline.score.publish import SCORES_FILE
    from delinq.pipeline.train.job import train
    from delinq.pipeline.train.scorecard import PMML_FILE, SQL_FILE, SQL_TABLE, TABLE_CSV

    # Months-late codes -2 ("no consumption") get bins of their own: the special-value path.
    specials = "models.special_values={PAY_0: [-2], PAY_2: [-2]}"
    results = {}
    for name in ("sim_default", "taiwan"):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            os.environ.pop("MLFLOW_TRACKING_URI", None)
            cfg, data = load(
                name,
                [
                    "models.families=[scorecard]",
                    "models.search.method=none",
                    specials,
                    f"tracking.store_dir={tmp / 'mlflow'}",
                    f"output_dir={tmp / 'runs'}",
                    f"scoring.output_dir={tmp / 'scores'}",
                    f"policy={REPO / 'configs' / 'collection_policy.yaml'}",
                ],
            )
            result = train(cfg, data)
            uri = f"models:/{result.model_name}/{result.version}"
            book = DATASETS[name][0]().sample(rows, replace=True, random_state=0)
            book = _blank(book, ["LIMIT_BAL", "BILL_AMT1", "PAY_AMT1", "AGE"], seed=1)
            book[cfg.data.id] = np.arange(rows)
            book.to_parquet(tmp / "book.parquet", index=False)
            started = time.perf_counter()
            res = score_book(tmp / "book.parquet", tmp / "scores", "2026-11-30", uri, cfg)
            score_s = time.perf_counter() - started
            scores = pd.read_parquet(res.partition / SCORES_FILE)
            published = scores.set_index("id")["points"].loc[book[cfg.data.id].astype(str)]
            published = published.to_numpy()

            _, _, model, reference = load_registered(uri)
            card = points_card(model, **cfg.scorecard.model_dump(exclude={"bands"}))
            X = coerce_types(
                book[reference.names],
                reference.numeric,
                [c for c in reference.names if c not in reference.numeric],
            )
            inputs = card.inputs(X)[list(card.points)]
            # The sum a person would make from the printed table: each input's bin, its points.
            table = pd.read_csv(result.output_dir / TABLE_CSV)
            by_table = np.full(rows, int(table.loc[0, "points"]))
            for col in card.points:
                pts = table.loc[table["input"] == col, "points"].to_numpy()
                by_table += pts[card.woe.bins_[col].bin_of(inputs[col])]
            query = (result.output_dir / SQL_FILE).read_text().rstrip().rstrip(";")
            loans = inputs.assign(**{cfg.data.id: np.arange(rows)})
            con = duckdb.connect()
            con.register("frame", loans)
            con.execute(f"CREATE TABLE {SQL_TABLE} AS SELECT * FROM frame")
            started = time.perf_counter()
            duck = con.execute(query).df().sort_values(cfg.data.id)["points"].to_numpy()
            duck_s = time.perf_counter() - started
            lite = sqlite3.connect(":memory:")
            loans.to_sql(SQL_TABLE, lite, index=False)
            sqlite = pd.read_sql_query(query, lite).sort_values(cfg.data.id)["points"].to_numpy()
            pmml = Model.fromFile(str(result.output_dir / PMML_FILE))
            started = time.perf_counter()
            by_pmml = pmml.predict(inputs)["points"].to_numpy()
            pmml_s = time.perf_counter() - started
            specials_used = int(sum((X[c] == -2).sum() for c in ("PAY_0", "PAY_2")))
        results[name] = {
            "rows": rows,
            "scored": len(scores),
            "missing_cells": int(X.isna().to_numpy().sum()),
            "special_cells": specials_used,
            "inputs_in_card": len(card.points),
            "bins": int(sum(len(p) for p in card.points.values())),
            "table_sum_mismatches": int((by_table != published).sum()),
            "duckdb_mismatches": int((duck != published).sum()),
            "sqlite_mismatches": int((sqlite != published).sum()),
            "pmml_mismatches": int((by_pmml != published).sum()),
            "score_book_s": score_s,
            "duckdb_s": duck_s,
            "pmml_s": pmml_s,
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
