"""PyCaret 3.3 `compare_models` on the four families, defaults, on the real Taiwan data.

PyCaret pins older scikit-learn, so it runs from its own virtual environment, in the same
benchmark session as ours (see `make bench-pycaret`):

    python3 -m venv .bench-pycaret && .bench-pycaret/bin/pip install pycaret==3.3.2 xgboost
    .bench-pycaret/bin/python benchmarks/pycaret_compare.py ../shared/data/taiwan_credit_default.csv

Prints one JSON line: best AUC, per-model AUC and wall seconds (setup + compare_models).
"""

import json
import sys
import time

import pandas as pd


def main(path: str) -> None:
    from pycaret.classification import compare_models, pull, setup

    frame = pd.read_csv(path).drop(columns=["ID"])
    start = time.perf_counter()
    setup(frame, target="default_next_month", session_id=42, verbose=False, html=False)
    compare_models(include=["lr", "svm", "rf", "xgboost"], sort="AUC", verbose=False)
    seconds = time.perf_counter() - start
    table = pull()
    print(
        json.dumps(
            {
                "seconds": seconds,
                "best_auc": float(table["AUC"].max()),
                "auc": table.set_index("Model")["AUC"].to_dict(),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
