"""`delinq decide` on a scored simulated night: the assignment against the fixed ladder.

    .venv/bin/python benchmarks/decide.py [--rows 200000]

Simulates a book, scores it with the registered champion (`make train` first), then times
`delinq decide` in its own process with the default channels and capacities and a stricter
credit policy as the what-if. Reports the delinquent accounts, the expected recovery of the
assignment and of the ladder, the margin, each channel's use against its capacity, and the
credit policy's expected loss and profit beside the what-if's. Results: data/bench/decide.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from panel import REPO, _timed  # noqa: E402

NIGHT = "2026-12-01"
STRICT = "credit: {cut_from_pd: 0.08, cut_factor: 0.6, raise_up_to_pd: 0.015, margin: 0.04}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        book, scores, out = tmp / "book.parquet", tmp / "scores", tmp / "decisions"
        _timed(["make-book", "--rows", str(args.rows), "-o", str(book), "--seed", "3"])
        _timed(
            [
                "score",
                "--input",
                str(book),
                "--output",
                str(scores),
                "--as-of",
                NIGHT,
                "--no-reasons",
            ]
        )
        (tmp / "strict.yaml").write_text(STRICT)
        seconds, rss = _timed(
            [
                "decide",
                "--as-of",
                NIGHT,
                "--book",
                str(book),
                "--scores",
                str(scores),
                "-o",
                str(out),
                "--what-if",
                str(tmp / "strict.yaml"),
            ]
        )
        summary = json.loads((out / f"as_of_date={NIGHT}" / "summary.json").read_text())
    result = {
        "rows": args.rows,
        "decide_s": round(seconds, 1),
        "decide_peak_mb": round(rss / 2**20),
        "delinquent": summary["delinquent"],
        "types": summary["types"],
        "cells": summary["cells"],
        "collection": summary["collection"],
        "credit": summary["credit"],
        "what_if": summary["what_if"],
    }
    print(json.dumps(result, indent=2))
    path = REPO / "data" / "bench" / "decide.json"
    path.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
