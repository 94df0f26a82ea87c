"""The multi-data-set benchmark: every default is judged on all of these tables, never on one.

For each table, on the same 5 stratified folds (seed 42), it cross-validates:

- the plain reference (400 trees, depth 4, learning rate 0.05, subsample and colsample 0.8,
  one-hot text, native missing values; ``delinq.pipeline.train.estimator.reference_pipeline``);
- each family as ``delinq train --quick`` builds it, and (``--modes full``) with its search;
- optionally FLAML (``--flaml``, its own virtual environment, never the product's) with the
  same wall-time budget as our ``--quick`` run, on the same folds.

Tables are read as a new user would train them: ``delinq train --data X --target Y`` with the
repository's default config adapted to the table (Taiwan also with its own config):

- ``taiwan``, ``german``, ``card_approval``: the real sets in ../shared/data;
- ``sim_default``: the simulator's book (make train's data);
- ``sim_interactions``: the simulator's accounts, with a default that depends on interactions
  (utilisation x lateness, age x limit, a payment drop only when revolving);
- ``sim_missing``: the simulator's book with 25-40 % of several inputs missing, more often for
  riskier accounts (missingness carries signal, as in real extracts);
- ``sim_application``: an application table with no payment history: text categoricals (one
  with 60 levels), skewed amounts, thresholds and a rare-ish target (8 %).

Run: ``.venv/bin/python benchmarks/datasets.py [--only NAME ...] [--modes quick full] [--flaml]``
(``--modes`` with no mode and ``--flaml full`` runs only FLAML, with stored timings).
Results: a markdown table on stdout and JSON in data/bench/datasets.json; docs/benchmarks.md
records them with the command.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
FLAML_PY = REPO / ".bench-flaml" / "bin" / "python"


def _simulated(seed: int = 1, rows: int = 20_000) -> pd.DataFrame:
    from delinq.pipeline.book.simulate import simulate_book

    return simulate_book(rows, seed)


def _interactions(seed: int = 2) -> pd.DataFrame:
    book = _simulated(seed)
    rng = np.random.default_rng(seed)
    util = (book["BILL_AMT1"] / book["LIMIT_BAL"]).clip(0, 1.5)
    late = book["PAY_0"].clip(lower=0)
    revolving = book["PAY_0"] == 0
    usual = book[[f"PAY_AMT{i}" for i in range(2, 7)]].mean(axis=1)
    dropped = (book["PAY_AMT1"] < 0.3 * usual) & (usual > 0)
    young_small = (book["AGE"] < 30) & (book["LIMIT_BAL"] < 50_000)
    logit = (
        -2.2
        + 1.8 * (util > 0.85) * (late >= 1)
        + 1.2 * young_small
        + 1.0 * dropped * revolving
        + 0.9 * (late >= 2)
        - 0.8 * (book["PAY_6"] <= -1) * (util < 0.3)
    )
    book["default_next_month"] = (rng.random(len(book)) < 1 / (1 + np.exp(-logit))).astype(int)
    return book


def _missing(seed: int = 3) -> pd.DataFrame:
    book = _simulated(seed)
    rng = np.random.default_rng(seed)
    risky = book["default_next_month"].to_numpy() == 1
    for col, share in (("LIMIT_BAL", 0.25), ("AGE", 0.3), ("BILL_AMT3", 0.35), ("EDUCATION", 0.4)):
        # Missing more often among the bads: an empty field is itself a signal.
        p = np.where(risky, share * 1.6, share * 0.85)
        book[col] = book[col].astype(float).mask(rng.random(len(book)) < p)
    for col in ("PAY_AMT4", "PAY_AMT5", "PAY_AMT6", "BILL_AMT5", "BILL_AMT6"):
        book[col] = book[col].mask(rng.random(len(book)) < 0.3)
    return book


def _application(seed: int = 4, rows: int = 15_000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    region = rng.choice([f"region {i:02d}" for i in range(60)], rows)
    region_risk = dict(zip(np.unique(region), rng.normal(0, 0.6, 60), strict=True))
    employment = rng.choice(
        ["salaried", "self-employed", "student", "retired", "none"],
        rows,
        p=[0.55, 0.2, 0.08, 0.12, 0.05],
    )
    income = np.round(rng.lognormal(10.3, 0.6, rows), -2)
    loan = np.round(income * rng.uniform(0.1, 1.5, rows), -2)
    age = rng.integers(19, 75, rows)
    inquiries = rng.poisson(1.2, rows)
    months_at_job = np.where(employment == "none", 0, rng.integers(0, 240, rows))
    housing = rng.choice(["rent", "own", "mortgage", "family"], rows)
    ratio = loan / income
    logit = (
        -3.3
        + 1.5 * (ratio > 0.9)
        + 0.35 * np.minimum(inquiries, 5)
        + np.vectorize(region_risk.get)(region)
        + 0.9 * (employment == "none")
        + 0.6 * (employment == "student") * (ratio > 0.5)
        - 0.5 * (housing == "own")
        + 0.8 * (age < 25) * (months_at_job < 12)
    )
    frame = pd.DataFrame(
        {
            "application_id": np.arange(1, rows + 1),
            "region": region,
            "employment": employment,
            "housing": housing,
            "income": income,
            "loan amount": loan,
            "age": age,
            "inquiries 6m": inquiries,
            "months at job": months_at_job.astype(float),
        }
    )
    frame.loc[rng.random(rows) < 0.15, "months at job"] = np.nan
    frame["bad"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


# name -> (loader, target, id column, positive label, repository config or None for default)
DATASETS = {
    "taiwan": (
        lambda: pd.read_csv(DATA / "taiwan_credit_default.csv"),
        "default_next_month",
        "ID",
        None,
        "taiwan.yaml",
    ),
    "german": (lambda: pd.read_csv(DATA / "german_credit.csv"), "creditability", None, "bad", None),
    "card_approval": (lambda: pd.read_csv(DATA / "card_approval.csv"), "Risk", "ID", None, None),
    "sim_default": (_simulated, "default_next_month", "ID", None, None),
    "sim_interactions": (_interactions, "default_next_month", "ID", None, None),
    "sim_missing": (_missing, "default_next_month", "ID", None, None),
    "sim_application": (_application, "bad", "application_id", None, None),
}


def _override(cfg, settings: list[str]):
    """``cfg`` with dotted ``key=value`` settings (YAML values), e.g. ``selection.chi2=false``."""
    import yaml

    raw = cfg.model_dump(mode="json")
    for setting in settings:
        key, _, value = setting.partition("=")
        *path, last = key.split(".")
        node = raw
        for part in path:
            node = node.setdefault(part, {})
        node[last] = yaml.safe_load(value)
    return type(cfg).model_validate(raw)


def load(name: str, settings: list[str] = ()):
    """(config, dataset) as ``delinq train --data X --target Y`` would build them."""
    from delinq.pipeline.book.io import adapt_to_columns, validate
    from delinq.pipeline.config import load_config, with_overrides

    loader, target, id_col, positive, config = DATASETS[name]
    frame = loader()
    cfg = load_config(REPO / "configs" / (config or "train.yaml"))
    cfg = with_overrides(cfg, data={"target": target, "id": id_col, "positive_label": positive})
    if config is None:  # the default config meets a table it was not written for
        data_cfg, _ = adapt_to_columns(cfg.data, list(frame.columns))
        cfg = cfg.model_copy(update={"data": data_cfg})
    cfg = _override(cfg, settings)
    return cfg, validate(frame, cfg.data, name)


def run_cv(cfg, dataset, mode: str) -> tuple[dict[str, float], float, float | None]:
    """AUC per family (and the reference) on the run's folds, the wall seconds, and the
    paired-bootstrap p-value of the best family against the reference (quick mode)."""
    from delinq.models.candidates import REFERENCE
    from delinq.pipeline.train.estimator import Columns, build_estimator, reference_pipeline
    from delinq.pipeline.train.evaluate import cross_validate
    from delinq.pipeline.train.job import cv_groups, positive_weight, training_rows

    if mode == "quick":
        search = cfg.models.search.model_copy(update={"method": "none"})
        cfg = cfg.model_copy(update={"models": cfg.models.model_copy(update={"search": search})})
    columns = Columns(dataset.numeric, dataset.categorical)
    weight = positive_weight(dataset)
    groups, _ = cv_groups(cfg, dataset)  # as the product: repeated rows kept in one fold
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        rows = training_rows(len(dataset.y), cfg.cv.folds)
        estimators = {
            f: build_estimator(cfg, columns, f, weight, cache, rows) for f in cfg.models.families
        }
        if mode == "quick":
            estimators[REFERENCE] = reference_pipeline(columns, cfg.seed)
        results = cross_validate(
            estimators, dataset.X, dataset.y, cfg.cv.folds, cfg.seed, cfg.cv.n_jobs, groups=groups
        )
    seconds = time.perf_counter() - started
    aucs = {f: r.summary()["roc_auc_mean"] for f, r in results.items()}
    p_value = None
    if REFERENCE in results:
        from delinq.pipeline.train.evaluate import paired_auc_test

        best = max((f for f in aucs if f != REFERENCE), key=aucs.get)
        y = results[best].y
        p_value = paired_auc_test(y, results[best].oof, results[REFERENCE].oof, 200, cfg.seed)[1]
    return aucs, seconds, p_value


def run_flaml(cfg, dataset, budget: float) -> float:
    """FLAML's CV AUC on the same folds, ``budget`` seconds per fold, in its own venv."""

    if not FLAML_PY.exists():
        raise SystemExit("FLAML is not installed: make bench-flaml")
    from delinq.pipeline.train.evaluate import cv_splits
    from delinq.pipeline.train.job import cv_groups

    splits = cv_splits(dataset.y.to_numpy(), cfg.cv.folds, cfg.seed, cv_groups(cfg, dataset)[0])
    oof = np.zeros(len(dataset.y))
    with tempfile.TemporaryDirectory() as tmp:
        X = dataset.X.copy()
        for col in dataset.categorical:
            X[col] = X[col].astype("category")
        X.to_parquet(Path(tmp) / "X.parquet")
        np.save(Path(tmp) / "y.npy", dataset.y.to_numpy())
        for i, (train, test) in enumerate(splits):
            np.save(Path(tmp) / "train.npy", train)
            np.save(Path(tmp) / "test.npy", test)
            subprocess.run(
                [
                    str(FLAML_PY),
                    str(REPO / "benchmarks" / "flaml_fold.py"),
                    tmp,
                    str(budget),
                    str(cfg.seed + i),
                ],
                check=True,
            )
            oof[test] = np.load(Path(tmp) / "proba.npy")
    from sklearn.metrics import roc_auc_score

    y = dataset.y.to_numpy()
    return float(np.mean([roc_auc_score(y[test], oof[test]) for _, test in splits]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--modes", nargs="*", default=["quick"], choices=["quick", "full"])
    parser.add_argument(
        "--flaml",
        nargs="*",
        choices=["quick", "full"],
        help="FLAML with the wall time per fold of our run in these modes (default: --modes); "
        "a mode not run now uses its stored seconds",
    )
    parser.add_argument("--set", nargs="*", default=[], help="config overrides, key=value")
    parser.add_argument("--label", default="", help="store the results under this variant name")
    args = parser.parse_args()

    out_file = REPO / "data" / "bench" / f"datasets{'-' + args.label if args.label else ''}.json"
    out_file.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(out_file.read_text()) if out_file.exists() else {}
    for name in args.only:
        cfg, dataset = load(name, args.set)
        row = results.setdefault(name, {})
        row["rows"], row["bad_rate"] = len(dataset.y), round(dataset.bad_rate, 4)
        for mode in args.modes:
            aucs, seconds, p_value = run_cv(cfg, dataset, mode)
            row[mode] = {"auc": aucs, "seconds": round(seconds, 1), "p_vs_reference": p_value}
            print(
                f"{name} {mode}: "
                + ", ".join(f"{k} {v:.4f}" for k, v in aucs.items())
                + f" ({seconds:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
        if args.flaml is not None:  # the same wall time per fold as our run in each mode
            for mode in args.flaml or args.modes:
                budget = row[mode]["seconds"] / cfg.cv.folds
                key = "flaml" if mode == "quick" else f"flaml_{mode}"
                row[key] = {"auc": run_flaml(cfg, dataset, budget), "budget_s": budget}
        out_file.write_text(json.dumps(results, indent=1))
    print(table(results, args.only))


def table(results: dict, names: list[str]) -> str:
    """The markdown table of ``results`` for ``names``: AUC per model, lift over the reference."""
    lines = [
        "| data set | rows | bad rate | reference | quick champion (family) | lift | p | "
        "full champion (family) | FLAML (quick / full budget) | quick s | full s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in names:
        r = results[name]
        if "quick" not in r:
            continue
        quick = dict(r["quick"]["auc"])
        ref = quick.pop("reference")
        best = max(quick, key=quick.get)
        full = r.get("full", {}).get("auc", {})
        full_family = max(full, key=full.get) if full else None
        full_best = f"{full[full_family]:.4f} ({full_family})" if full else ""
        full_s = f"{r['full']['seconds']:.0f}" if full else ""
        flaml = " / ".join(f"{r[k]['auc']:.4f}" for k in ("flaml", "flaml_full") if k in r)
        p_value = r["quick"].get("p_vs_reference")
        p_text = f"{p_value:.3f}" if p_value is not None else ""
        lines.append(
            f"| {name} | {r['rows']:,} | {r['bad_rate']:.1%} | {ref:.4f} | "
            f"{quick[best]:.4f} ({best}) | {quick[best] - ref:+.4f} | {p_text} | {full_best} | "
            f"{flaml} | {r['quick']['seconds']:.0f} | {full_s} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
