"""Nightly scoring throughput and peak memory, ours against the naive path, side by side.

    .venv/bin/python benchmarks/score_book.py [--rows 1000000 ...] [--book simulated|taiwan]
                                              [--model-uri URI] [--no-naive]

For each book size: a book is written once (``simulated``: the simulator's; ``taiwan``: the
real Taiwan rows resampled with replacement, amounts jittered by up to 10 %, new ids), then
each path runs in its own process (so peak RSS is that path's alone), interleaved, --repeats
times; medians are reported.
  ours   `delinq score` end to end: read, validate, features, predict, points, grade,
         segment, action, write, manifest (--no-reasons: the nightly-scoring target)
  ours_reasons_for_actioned   the same plus top-3 SHAP reason codes for the loans whose
         action is not "none" (--reasons --reasons-for actioned)
  ours_with_reason_codes   the same plus top-3 SHAP reason codes for every loan (--reasons);
         only on books up to --reasons-max-rows
  naive  mlflow.pyfunc.load_model(uri).predict(pd.read_parquet(book)), nothing written
Needs a registered champion (make train). Results: data/bench/score_book.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DELINQ = str(Path(sys.executable).with_name("delinq"))
NAIVE = """
import sys, time, resource, mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[3])
start = time.perf_counter()
model = mlflow.pyfunc.load_model(sys.argv[1])
book = pd.read_parquet(sys.argv[2])
# The signature wants text codes and float numbers: the casts a naive user must add.
for c in model.metadata.get_input_schema().inputs:
    kind = getattr(c.type, "name", None)  # MLflow 3: AnyType (no name) takes the column as is
    if kind is not None:
        book[c.name] = book[c.name].astype(str if kind == "string" else float)
p = model.predict(book)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def _ours(
    book: Path, out: Path, uri: str, reasons: bool, reasons_for: str = "all"
) -> tuple[float, int]:
    code = (
        "import sys, time, resource\n"
        "from delinq.pipeline.cli import app\n"
        "start = time.perf_counter()\n"
        "try:\n"
        f"    app(['score', '-i', {str(book)!r}, '-o', {str(out)!r}, '--as-of', '2026-01-01',"
        f" '--model-uri', {uri!r}, '--force', {'--reasons' if reasons else '--no-reasons'!r},"
        f" '--reasons-for', {reasons_for!r}])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
        "print(time.perf_counter() - start, rss)\n"
    )
    return _run([sys.executable, "-c", code])


def _taiwan_book(path: Path, rows: int, seed: int = 1) -> None:
    """The real Taiwan rows resampled to ``rows``: amounts jittered by up to 10 %, new ids."""
    import numpy as np
    import pandas as pd

    real = pd.read_csv(REPO.parent / "shared" / "data" / "taiwan_credit_default.csv")
    rng = np.random.default_rng(seed)
    book = real.iloc[rng.integers(0, len(real), rows)].reset_index(drop=True)
    amounts = [c for c in book if c.startswith(("BILL_AMT", "PAY_AMT")) or c == "LIMIT_BAL"]
    for col in amounts:
        book[col] = np.round(book[col] * rng.uniform(0.9, 1.1, rows))
    book["ID"] = np.arange(1, rows + 1)
    book.drop(columns="default_next_month").to_parquet(path, index=False)


def _run(command: list[str]) -> tuple[float, int]:
    proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:  # negative: killed by that signal (-9: out of memory)
        raise RuntimeError(f"exit {proc.returncode}\n{proc.stderr[-3000:]}")
    seconds, rss = proc.stdout.strip().splitlines()[-1].split()
    return float(seconds), int(rss)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="*", default=[1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--book", choices=["simulated", "taiwan"], default="simulated")
    parser.add_argument("--model-uri", default="models:/delinquency-risk@champion")
    parser.add_argument(
        "--reasons-max-rows",
        type=int,
        default=1_000_000,
        help="time the reason-code path only on books up to this size (it is ~4x slower)",
    )
    parser.add_argument(
        "--no-naive",
        action="store_true",
        help="leave out the naive pyfunc path (about 9x slower, 11 GB at 5M rows)",
    )
    args = parser.parse_args()
    tracking_uri = f"sqlite:///{REPO / 'data' / 'mlflow' / 'mlflow.db'}"
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            book = Path(tmp) / f"book-{rows}.parquet"
            if args.book == "taiwan":
                _taiwan_book(book, rows)
            else:
                make = [DELINQ, "make-book", "-n", str(rows), "-o", str(book), "--seed", "1"]
                subprocess.run(make, check=True, capture_output=True, cwd=REPO)
            runs = {
                "ours": [],
                "ours_reasons_for_actioned": [],
                "ours_with_reason_codes": [],
                "naive": [],
            }
            failed = {}
            if rows > args.reasons_max_rows:
                del runs["ours_with_reason_codes"]
            if args.no_naive:
                del runs["naive"]
            for _ in range(args.repeats):
                out = Path(tmp) / "out"
                runs["ours"].append(_ours(book, out, args.model_uri, reasons=False))
                runs["ours_reasons_for_actioned"].append(
                    _ours(book, out, args.model_uri, True, "actioned")
                )
                if "ours_with_reason_codes" in runs:
                    runs["ours_with_reason_codes"].append(_ours(book, out, args.model_uri, True))
                if "naive" not in runs:
                    continue
                try:
                    runs["naive"].append(
                        _run([sys.executable, "-c", NAIVE, args.model_uri, str(book), tracking_uri])
                    )
                except RuntimeError as err:  # a big book can exhaust memory on the naive path
                    failed["naive"] = str(err).splitlines()[0]
            summary = {}
            for name, values in runs.items():
                if not values:
                    summary[name] = {"failed": failed[name]}
                    continue
                seconds = statistics.median(v[0] for v in values)
                summary[name] = {
                    "median_seconds": round(seconds, 2),
                    "rows_per_s": round(rows / seconds),
                    "peak_rss_mb": round(max(v[1] for v in values) / 2**20),
                }
            if runs.get("naive"):
                summary["throughput_ratio_ours_over_naive"] = round(
                    summary["ours"]["rows_per_s"] / summary["naive"]["rows_per_s"], 2
                )
            results[f"{args.book}-{rows}" if args.book != "simulated" else rows] = summary
            print(rows, json.dumps(summary), flush=True)
    out = (
        REPO / "data" / "bench" / f"score_book{'' if args.book == 'simulated' else '_taiwan'}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
