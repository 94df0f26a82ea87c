"""One outer fold of FLAML, run in its own virtual environment (.bench-flaml, `make bench-flaml`).

Called by benchmarks/datasets.py with a folder holding the inputs (X.parquet, y.npy) and the
fold's row positions (train.npy, test.npy); writes proba.npy, the test rows' probabilities.
FLAML is the AutoML peer the product is held to, never one of its dependencies.

Usage: python flaml_fold.py FOLDER SECONDS SEED
"""

import sys

import numpy as np
import pandas as pd
from flaml import AutoML

folder, budget, seed = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
X = pd.read_parquet(f"{folder}/X.parquet")
y = np.load(f"{folder}/y.npy")
train, test = np.load(f"{folder}/train.npy"), np.load(f"{folder}/test.npy")
automl = AutoML()
automl.fit(
    X.iloc[train],
    y[train],
    task="classification",
    metric="roc_auc",
    time_budget=budget,
    seed=seed,
    n_jobs=2,
    verbose=0,
)
np.save(f"{folder}/proba.npy", automl.predict_proba(X.iloc[test])[:, 1])
