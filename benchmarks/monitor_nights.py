"""`delinq monitor` on two big nights: wall time and peak memory.

    .venv/bin/python benchmarks/monitor_nights.py [--rows 10000000]

Two simulated books of --rows accounts (the same ids, drawn with different seeds, so many
accounts migrate) are scored with the champion (--no-reasons), then `delinq monitor` compares
them in its own process; its peak RSS is that of the comparison alone. Needs a registered
champion (make train). Results: data/bench/monitor_nights.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DELINQ = str(Path(sys.executable).with_name("delinq"))
MONITOR = """
import sys, time, resource
from delinq.pipeline.cli import app
start = time.perf_counter()
try:
    app(["monitor", "--as-of", "2026-01-02", "--scores", sys.argv[1], "--no-log"])
except SystemExit as e:
    assert not e.code, e.code
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scores = Path(tmp) / "scores"
        for day, seed in (("2026-01-01", 1), ("2026-01-02", 2)):
            book = Path(tmp) / f"{day}.parquet"
            make = [DELINQ, "make-book", "-n", str(args.rows), "-o", str(book), "--seed", str(seed)]
            subprocess.run(make, check=True, capture_output=True, cwd=REPO)
            score = [DELINQ, "score", "-i", str(book), "-o", str(scores), "--as-of", day]
            score += ["--no-reasons", "--force"]
            subprocess.run(score, check=True, capture_output=True, cwd=REPO)
            book.unlink()
        command = [sys.executable, "-c", MONITOR, str(scores)]
        proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO)
        if proc.returncode:
            raise SystemExit(proc.stderr[-3000:])
        seconds, rss = proc.stdout.strip().splitlines()[-1].split()
        summary = json.loads(
            (
                REPO / "data" / "monitor" / "migration" / "as_of_date=2026-01-02" / "summary.json"
            ).read_text()
        )
    result = {
        "rows_per_night": args.rows,
        "seconds": round(float(seconds), 1),
        "peak_rss_mb": round(int(rss) / 2**20),
        "watchlist": summary["watchlist"],
        "downgraded": summary["downgraded"],
    }
    print(json.dumps(result))
    out = REPO / "data" / "bench" / "monitor_nights.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
