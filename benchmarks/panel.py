"""Monthly panels at scale: `make-book --panel`, then `delinq snapshots`, each in its own process.

    .venv/bin/python benchmarks/panel.py [--accounts 100000 300000] [--months 36]

Reports wall time and peak RSS of each command, and the panel's and snapshot table's rows
(the issue's target: 1,000,000 accounts x 36 months written in <= 120 s, snapshotted in <= 120 s
within 3 GB, memory flat as the panel grows). Results: data/bench/panel.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TIMED = """
import sys, time, resource
from delinq.pipeline.cli import app
start = time.perf_counter()
try:
    app(sys.argv[1:])
except SystemExit as e:
    assert not e.code, e.code
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
"""


def _timed(args: list[str]) -> tuple[float, int]:
    proc = subprocess.run([sys.executable, "-c", TIMED, *args], capture_output=True, text=True,
                          cwd=REPO)  # fmt: skip
    if proc.returncode:
        raise SystemExit(proc.stderr[-3000:])
    seconds, rss = proc.stdout.strip().splitlines()[-1].split()
    return float(seconds), int(rss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--months", type=int, default=36)
    args = parser.parse_args()
    import pyarrow.parquet as pq

    results = {}
    for accounts in args.accounts:
        with tempfile.TemporaryDirectory() as tmp:
            panel, snap = Path(tmp) / "panel.parquet", Path(tmp) / "snap.parquet"
            make = ["make-book", "--panel", "--accounts", str(accounts)]
            write_s, write_rss = _timed([*make, "--months", str(args.months), "-o", str(panel)])
            cut = ["snapshots", "-c", "configs/panel.yaml", "--panel", str(panel)]
            snap_s, snap_rss = _timed([*cut, "-o", str(snap)])
            results[accounts] = {
                "panel_rows": pq.ParquetFile(panel).metadata.num_rows,
                "snapshot_rows": pq.ParquetFile(snap).metadata.num_rows,
                "make_book_s": round(write_s, 1),
                "make_book_peak_mb": round(write_rss / 2**20),
                "snapshots_s": round(snap_s, 1),
                "snapshots_peak_mb": round(snap_rss / 2**20),
            }
        print(accounts, json.dumps(results[accounts]), flush=True)
    out = REPO / "data" / "bench" / "panel.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
