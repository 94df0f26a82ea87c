"""Days past due from transactions at scale: `delinq arrears` on simulated ledgers, in its own
process.

    .venv/bin/python benchmarks/arrears.py [--accounts 100000 860000]

`make-book --ledger` writes schedules and payments (12 monthly instalments per account; cards
counted in calendar days, loans in working days), then `delinq arrears -c configs/arrears.yaml`
turns them into a monthly panel. Reports the input rows, wall time and peak RSS of the arrears
command (the issue's target: 10M payment rows in <= 60 s within 2 GB on 2 cores; 860,000
accounts make about 10M payment rows). Results: data/bench/arrears.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from panel import REPO, _timed  # noqa: E402  (the same timed subprocess)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, nargs="+", default=[100_000, 860_000])
    args = parser.parse_args()
    import pyarrow.parquet as pq

    results = {}
    for accounts in args.accounts:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            _timed(["make-book", "--ledger", "--accounts", str(accounts), "--months", "12",
                    "--start", "2024-01", "-o", str(folder)])  # fmt: skip
            out = folder / "panel.parquet"
            seconds, rss = _timed(
                ["arrears", "-c", "configs/arrears.yaml", "-o", str(out),
                 "--schedule", str(folder / "schedule.parquet"),
                 "--payments", str(folder / "payments.parquet")]
            )  # fmt: skip
            rows = {n: pq.ParquetFile(folder / f"{n}.parquet").metadata.num_rows
                    for n in ("schedule", "payments", "panel")}  # fmt: skip
            results[accounts] = {
                **{f"{n}_rows": r for n, r in rows.items()},
                "arrears_s": round(seconds, 1),
                "arrears_peak_mb": round(rss / 2**20),
                "payment_rows_per_s": round(rows["payments"] / seconds),
            }
        print(accounts, json.dumps(results[accounts]), flush=True)
    out = REPO / "data" / "bench" / "arrears.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
