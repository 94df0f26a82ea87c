"""`delinq monitor` on two big nights: wall time and peak memory.

    .venv/bin/python benchmarks/monitor_nights.py [--rows 10000000]

A simulated book of --rows accounts and its next night (1 % closed, 1 % opened, 3 % a month
further behind) are scored with the champion (--no-reasons), then `delinq monitor` compares
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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

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


def _next_night(first: Path, second: Path) -> None:
    """The next night's book: 1 % of accounts closed, 1 % opened, 3 % a month further behind."""
    rng = np.random.default_rng(2)
    book = pq.read_table(first)
    n = book.num_rows
    book = book.filter(pc.invert(pc.less(pa.array(rng.random(n)), 0.01)))
    late = pa.array(rng.random(book.num_rows) < 0.03)
    pay = book["PAY_0"]
    worse = pc.if_else(late, pc.add(pc.max_element_wise(pay, 0), 1), pay)
    book = book.set_column(book.schema.get_field_index("PAY_0"), "PAY_0", worse)
    opened = book.slice(0, n // 100)
    ids = pc.add(opened["ID"], n * 10)
    opened = opened.set_column(opened.schema.get_field_index("ID"), "ID", ids)
    pq.write_table(pa.concat_tables([book, opened]), second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        scores = Path(tmp) / "scores"
        first, second = Path(tmp) / "2026-01-01.parquet", Path(tmp) / "2026-01-02.parquet"
        make = [DELINQ, "make-book", "-n", str(args.rows), "-o", str(first), "--seed", "1"]
        subprocess.run(make, check=True, capture_output=True, cwd=REPO)
        # In a child process: Linux keeps a process's peak RSS across fork and exec, so this
        # process must stay small for the monitor child's peak to be the monitor's own.
        night = (
            "import sys; from pathlib import Path; sys.path.insert(0, 'benchmarks')\n"
            "from monitor_nights import _next_night\n"
            "_next_night(Path(sys.argv[1]), Path(sys.argv[2]))"
        )
        subprocess.run([sys.executable, "-c", night, str(first), str(second)], check=True, cwd=REPO)
        for book in (first, second):
            score = [DELINQ, "score", "-i", str(book), "-o", str(scores), "--as-of", book.stem]
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
