"""Training benchmarks on the real Taiwan data, each run side by side with its baseline.

    .venv/bin/python benchmarks/train_taiwan.py [--only NAME ...] [--data PATH]

Sections (all by default):
  baselines  plain 5-fold CV AUC of the four families on the raw columns (the reference figures)
  pycaret    PyCaret 3.3 compare_models, same families and data (its own venv: make bench-pycaret)
  quick      `delinq train --quick` wall time and AUCs (target: beat PyCaret's 0.762 / 30 s)
  versus     PyCaret and `delinq train --quick` alternately, --repeats times each (not run by
             default): median wall times and their ratio, each pair under the same load
  full       `delinq train` with nested search (target: every family >= baseline, champion
             >= 0.785, under 10 minutes)
  ablation   --quick with the history feature families added one at a time
  splits     XGBoost CV AUC on three 5-fold splits, with one piece of the defaults taken back
             (real Taiwan data, and make train's simulated book)
  transfer   a model trained only on a simulated book, scored on the real data (AUC)
  simulator  rows/s of `delinq make-book` for 1M rows, against pandas writing the same frame

Results print as markdown and are saved to data/bench/train_taiwan.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
DELINQ = str(Path(sys.executable).with_name("delinq"))
DEFAULT_DATA = REPO.parent / "shared" / "data" / "taiwan_credit_default.csv"
SECTIONS = (
    "baselines",
    "pycaret",
    "quick",
    "versus",
    "full",
    "ablation",
    "splits",
    "transfer",
    "simulator",
)
PYCARET_PYTHON = Path(os.environ.get("PYCARET_PYTHON", REPO / ".bench-pycaret" / "bin" / "python"))


def _raw(data: Path) -> tuple[pd.DataFrame, pd.Series]:
    frame = pd.read_csv(data)
    return frame.drop(columns=["ID", "default_next_month"]), frame["default_next_month"]


def baselines(data: Path) -> dict:
    """Plain library defaults on raw columns: the figures the targets are set against."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC
    from xgboost import XGBClassifier

    X, y = _raw(data)
    models = {
        "logreg": make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
        "svm": make_pipeline(StandardScaler(), CalibratedClassifierCV(LinearSVC())),
        "random_forest": RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=2),
        "xgboost": XGBClassifier(n_jobs=2, random_state=0),
    }
    folds = StratifiedKFold(5, shuffle=True, random_state=42)
    out = {}
    for name, model in models.items():
        start = time.perf_counter()
        auc = cross_val_score(model, X, y, cv=folds, scoring="roc_auc")
        out[name] = {
            "auc": float(auc.mean()),
            "std": float(auc.std()),
            "seconds": time.perf_counter() - start,
        }
    return out


def _train_cli(args: list[str], workdir: Path) -> dict:
    """Run `delinq train` in a scratch store and read back its comparison table."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    start = time.perf_counter()
    proc = subprocess.run(
        [DELINQ, "train", *args], cwd=workdir, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"delinq train failed:\n{proc.stderr[-3000:]}")
    table = pd.read_csv(next((workdir / "data" / "runs").glob("*/comparison.csv")), index_col=0)
    families = table.drop(index="reference", errors="ignore")  # the in-run plain reference
    return {
        "wall_seconds": seconds,
        "auc": table["roc_auc_mean"].round(4).to_dict(),
        "auc_std": table["roc_auc_std"].round(4).to_dict(),
        "ks": table["ks_mean"].round(4).to_dict(),
        "best_auc": float(families["roc_auc_mean"].max()),
    }


def pycaret(data: Path) -> dict:
    """Run benchmarks/pycaret_compare.py with PyCaret's own interpreter, if it is installed."""
    if not PYCARET_PYTHON.exists():
        return {"skipped": f"{PYCARET_PYTHON} missing; run `make bench-pycaret` to install it"}
    script = REPO / "benchmarks" / "pycaret_compare.py"
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:  # PyCaret writes logs.log into its cwd
        proc = subprocess.run(
            [str(PYCARET_PYTHON), str(script), str(data.resolve())],
            capture_output=True,
            text=True,
            check=True,
            cwd=scratch,
        )
    return {
        **json.loads(proc.stdout.strip().splitlines()[-1]),
        "wall_seconds": time.perf_counter() - start,
    }


def versus(data: Path, repeats: int) -> dict:
    """PyCaret and our ``--quick``, alternately (who goes first alternates too): the machine
    is shared, so only runs side by side compare. Medians of the wall times and their ratio."""
    import statistics

    runs: dict[str, list[dict]] = {"pycaret": [], "quick": []}
    for i in range(repeats):
        for name in ("pycaret", "quick") if i % 2 == 0 else ("quick", "pycaret"):
            runs[name].append(pycaret(data) if name == "pycaret" else train_run(data, quick=True))
            print(f"  {name}: {runs[name][-1]['wall_seconds']:.1f} s", flush=True)
    if "skipped" in runs["pycaret"][0]:
        return {"skipped": runs["pycaret"][0]["skipped"]}
    seconds = {name: [r["wall_seconds"] for r in rs] for name, rs in runs.items()}
    median = {name: statistics.median(s) for name, s in seconds.items()}
    return {
        "seconds": seconds,
        "median_seconds": median,
        "pycaret_over_quick": median["pycaret"] / median["quick"],
        "best_auc": {name: rs[0]["best_auc"] for name, rs in runs.items()},
    }


# Feature families of the history stage, switched on cumulatively for the ablation.
FAMILIES = {
    "no history": None,
    "status (DPD) only": ("status",),
    "+ balance & limit": ("status", "balance", "limit"),
    "+ payments": ("status", "balance", "limit", "payment"),
    "+ month-by-month detail (all)": ("status", "balance", "limit", "payment", "detail"),
}
ALL_FAMILIES = FAMILIES["+ month-by-month detail (all)"]


def _config_copy(workdir: Path, name: str, history: tuple | None = ALL_FAMILIES):
    import yaml

    cfg = yaml.safe_load((REPO / "configs" / name).read_text())
    # The four families PyCaret's compare_models is given too; the scorecard family is
    # measured on its own (benchmarks/scorecard.py).
    cfg["models"]["families"] = ["logreg", "svm", "random_forest", "xgboost"]
    if history is None:
        cfg["data"]["history"] = None
    else:
        cfg["data"]["history"] = {
            k: v for k, v in cfg["data"]["history"].items() if k in history or k == "status_unit"
        }
        cfg["data"]["history"]["detail"] = "detail" in history
    path = workdir / name
    path.write_text(yaml.safe_dump(cfg))
    return path


def train_run(data: Path, quick: bool, history: tuple | None = ALL_FAMILIES) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cfg = _config_copy(work, "taiwan.yaml", history)
        args = ["--config", str(cfg), "--data", str(data.resolve())] + (
            ["--quick"] if quick else []
        )
        return _train_cli(args, work)


# What each piece of the 0.790 work is worth: today's defaults with one piece taken back.
SPLIT_VARIANTS = {
    "defaults": {},
    "without month-by-month detail": {"detail": False},
    "old selection (|r| 0.95, importance 10 %)": {
        "selection": {"max_inter_corr": 0.95, "min_importance_share": 0.1}
    },
    "old XGBoost (subsample 0.8, colsample 0.5, lambda 10)": {
        "xgboost": {"subsample": 0.8, "colsample_bytree": 0.5, "reg_lambda": 10.0}
    },
    "selection off": {"selection": {"chi2": False, "pearson": False, "tree_importance": False}},
}


def splits(data: Path, seeds: tuple[int, ...] = (42, 1, 2)) -> dict:
    """XGBoost CV AUC on three 5-fold splits (seed 42 is delinq train's), per variant.

    On the real Taiwan data, and on `make train`'s simulated book (20,000 accounts, seed 42).
    """
    from delinq.pipeline.book.io import load_dataset, validate
    from delinq.pipeline.book.simulate import simulate_book
    from delinq.pipeline.config import load_config, with_overrides
    from delinq.pipeline.train.estimator import Columns, build_pipeline
    from delinq.pipeline.train.evaluate import cross_validate

    taiwan = load_config(REPO / "configs" / "taiwan.yaml")
    simulated = load_config(REPO / "configs" / "train.yaml")
    books = {
        "taiwan": (taiwan, load_dataset(data, taiwan.data)),
        "simulated": (simulated, validate(simulate_book(20_000, seed=42), simulated.data, "sim")),
    }
    out: dict = {}
    for book, (base, ds) in books.items():
        for name, change in SPLIT_VARIANTS.items():
            history = base.data.history.model_copy(update={"detail": change.get("detail", True)})
            cfg = with_overrides(
                base, data={"history": history}, selection=change.get("selection", {})
            )
            xgb = cfg.models.xgboost.model_copy(update={"params": change.get("xgboost", {})})
            cfg = cfg.model_copy(update={"models": cfg.models.model_copy(update={"xgboost": xgb})})
            pipe = build_pipeline(cfg, Columns(ds.numeric, ds.categorical), "xgboost")
            aucs = out.setdefault(book, {}).setdefault(name, {})
            for seed in seeds:
                result = cross_validate({"xgboost": pipe}, ds.X, ds.y, 5, seed, 2)["xgboost"]
                aucs[f"split_{seed}"] = round(result.summary()["roc_auc_mean"], 4)
    return out


def transfer(data: Path) -> dict:
    """Train on 30,000 simulated accounts only; score the real 30,000."""
    from sklearn.metrics import roc_auc_score

    from delinq.pipeline.book.io import load_dataset, validate
    from delinq.pipeline.book.simulate import simulate_book
    from delinq.pipeline.config import load_config
    from delinq.pipeline.train.estimator import Columns, build_pipeline

    cfg = load_config(REPO / "configs" / "taiwan.yaml")
    real = load_dataset(data, cfg.data)
    sim = validate(simulate_book(30_000, seed=1), cfg.data, "simulated")
    out = {}
    for family in ("logreg", "xgboost"):
        model = build_pipeline(cfg, Columns(sim.numeric, sim.categorical), family).fit(sim.X, sim.y)
        out[family] = float(roc_auc_score(real.y, model.predict_proba(real.X)[:, 1]))
    out["simulated_bad_rate"] = sim.bad_rate
    out["real_bad_rate"] = real.bad_rate
    return out


def simulator(rows: int = 1_000_000) -> dict:
    """make-book throughput, against pandas writing the already-generated frame (I/O floor)."""
    from delinq.pipeline.book.simulate import simulate_book, write_book

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_book(Path(tmp) / "book.parquet", rows, seed=0)
        ours = time.perf_counter() - start
        frame = simulate_book(rows, seed=0)
        start = time.perf_counter()
        frame.to_parquet(Path(tmp) / "plain.parquet")
        write_only = time.perf_counter() - start
    return {
        "rows": rows,
        "seconds": ours,
        "rows_per_s": rows / ours,
        "pandas_write_only_s": write_only,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", nargs="*", choices=SECTIONS, default=[s for s in SECTIONS if s != "versus"]
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each side in versus")
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"{args.data} not found: the benchmarks need the real Taiwan data")
    results: dict = {}
    for section in args.only:
        print(f"== {section}", flush=True)
        if section == "baselines":
            results[section] = baselines(args.data)
        elif section == "pycaret":
            results[section] = pycaret(args.data)
        elif section == "quick":
            results[section] = train_run(args.data, quick=True)
        elif section == "versus":
            results[section] = versus(args.data, args.repeats)
        elif section == "full":
            results[section] = train_run(args.data, quick=False)
        elif section == "ablation":
            results[section] = {
                name: train_run(args.data, quick=True, history=fams)["auc"]
                for name, fams in FAMILIES.items()
            }
        elif section == "splits":
            results[section] = splits(args.data)
        elif section == "transfer":
            results[section] = transfer(args.data)
        elif section == "simulator":
            results[section] = simulator()
        print(json.dumps(results[section], indent=2, default=float), flush=True)
    out = REPO / "data" / "bench" / "train_taiwan.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**previous, **results}, indent=2, default=float))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
