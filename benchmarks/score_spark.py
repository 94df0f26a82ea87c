"""The Spark engine (local[2]) against the local engine on the same book, side by side.

    .venv/bin/python benchmarks/score_spark.py [--rows 10000000] [--repeats 1]

Both engines run `delinq score --no-reasons` on one simulated Parquet book, each in its own
process (Spark's JVM and Python workers included in its wall time), interleaved; medians.
Also checks the two outputs hold the same rows. Needs a registered champion (make train)
and the spark extra. Results: data/bench/score_spark.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow.dataset as ds

REPO = Path(__file__).resolve().parents[1]
DELINQ = str(Path(sys.executable).with_name("delinq"))


def _score(book: Path, out: Path, engine: str) -> float:
    started = time.perf_counter()
    command = [DELINQ, "score", "-i", str(book), "-o", str(out), "--as-of", "2026-01-01",
               "--force", "--no-reasons", "--engine", engine,
               "--spark-master", "local[2]"]  # fmt: skip
    proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
    return time.perf_counter() - started


def _same_rows(a: Path, b: Path) -> bool:
    def load(p):
        return ds.dataset(p / "as_of_date=2026-01-01" / "scores.parquet").to_table().sort_by("id")

    return load(a).equals(load(b))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "book.parquet"
        subprocess.run([DELINQ, "make-book", "-n", str(args.rows), "-o", str(book), "--seed", "1"],
                       check=True, capture_output=True, cwd=REPO)  # fmt: skip
        times = {"local": [], "spark_local2": []}
        for _ in range(args.repeats):
            times["local"].append(_score(book, Path(tmp) / "local", "local"))
            times["spark_local2"].append(_score(book, Path(tmp) / "spark", "spark"))
        same = _same_rows(Path(tmp) / "local", Path(tmp) / "spark")
    summary = {
        engine: {
            "median_seconds": round(statistics.median(v), 1),
            "rows_per_s": round(args.rows / statistics.median(v)),
        }
        for engine, v in times.items()
    }
    summary["spark_over_local_time"] = round(
        summary["spark_local2"]["median_seconds"] / summary["local"]["median_seconds"], 2
    )
    summary["identical_rows"] = same
    print(args.rows, json.dumps(summary), flush=True)
    out = REPO / "data" / "bench" / "score_spark.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({args.rows: summary}, indent=2))


if __name__ == "__main__":
    main()
