"""Reject inference measured where the truth is known: a simulated through-the-door population.

Applicants are a simulated book; an old scorecard that sees only some of their inputs (limit,
age, the latest two repayment statuses and the latest balance) accepts the ``accept_rate``
least risky. The rejects' outcomes are hidden from every method, then used to judge it:

- the bad rate each method infers for the rejects, against their true bad rate;
- the AUC of each method's model on the whole through-the-door population.

``delinq reject-inference`` prints, draws and writes the comparison; the default method
(``reject_inference.method``) is the one that did best on these figures over several
populations (benchmarks/reject_inference.py, docs/benchmarks.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from delinq.features.history import PaymentHistoryFeatures
from delinq.models.reject_inference import METHODS, fit_with_inference
from delinq.pipeline.book.simulate import (
    BILL_COLS,
    PAYMENT_COLS,
    STATUS_COLS,
    TARGET,
    simulate_book,
)
from delinq.pipeline.plotting import grid, save

OLD_SCORECARD = ["LIMIT_BAL", "AGE", "PAY_0", "PAY_2", "BILL_AMT1"]
INPUTS = ["LIMIT_BAL", "AGE", "EDUCATION", "MARRIAGE", *STATUS_COLS, *BILL_COLS, *PAYMENT_COLS]


def through_the_door(rows: int, accept_rate: float, seed: int = 0, judgement: float = 1.0):
    """(inputs, true outcome, accepted) of ``rows`` simulated applicants.

    ``judgement`` weighs what the old decision saw beyond the data (a bureau check, an
    underwriter): a signal of the true outcome, in log-odds, added to the old scorecard's. At
    0 the rejects are missing at random given the inputs; above it, rejects are worse than
    accepts who look the same, which is what reject inference is for.
    """
    book = simulate_book(rows, seed=seed)
    history = simulate_book(rows, seed=seed + 1)  # the old scorecard's own development data
    old = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    old.fit(history[OLD_SCORECARD], history[TARGET])
    seen = old.decision_function(book[OLD_SCORECARD])
    noise = np.random.default_rng(seed + 2).normal(size=rows)
    risk = seen + judgement * (book[TARGET].to_numpy() + noise)
    accepted = risk <= np.quantile(risk, accept_rate)
    return book[INPUTS].astype(float), book[TARGET].to_numpy(), accepted


def scoring_model():
    """The application model every method refits: the static inputs beside the payment-history
    features, then a logistic regression (it takes the sample weights fuzzy augmentation
    needs)."""
    history = PaymentHistoryFeatures(n_status=6, n_balance=6, n_payment=6, has_limit=False)
    inputs = ColumnTransformer(
        [("static", "passthrough", INPUTS[:4]), ("history", history, INPUTS[4:])]
    )
    return make_pipeline(
        inputs, SimpleImputer(), StandardScaler(), LogisticRegression(max_iter=2000)
    )


def compare_methods(
    rows: int = 20_000,
    accept_rate: float = 0.6,
    seed: int = 0,
    uplift: float = 1.5,
    methods=METHODS,
    judgement: float = 1.0,
    bands: int = 10,
) -> pd.DataFrame:
    """One row per method: the rejects' inferred and true bad rates and the AUC on the whole
    through-the-door population (and on the accepts alone, for reference)."""
    X, y, accepted = through_the_door(rows, accept_rate, seed, judgement)
    truth = float(y[~accepted].mean())
    out = []
    for method in methods:
        model, inferred = fit_with_inference(
            scoring_model(),
            X[accepted],
            y[accepted],
            X[~accepted],
            method,
            uplift=uplift,
            bands=bands,
            seed=seed,
        )
        p = model.predict_proba(X)[:, 1]
        out.append(
            {
                "method": method,
                "inferred_reject_bad_rate": inferred,
                "true_reject_bad_rate": truth,
                "auc_through_the_door": roc_auc_score(y, p),
                "auc_accepts": roc_auc_score(y[accepted], p[accepted]),
            }
        )
    table = pd.DataFrame(out).set_index("method")
    table["bad_rate_error"] = (table["inferred_reject_bad_rate"] - truth).abs()
    return table


def best_method(table: pd.DataFrame) -> str:
    """The method with the best through-the-door AUC (to 0.001), then the closest inferred
    reject bad rate."""
    auc = table["auc_through_the_door"].round(3)
    top = table[auc == auc.max()]
    return str(top["bad_rate_error"].fillna(np.inf).idxmin())


def comparison_plot(table: pd.DataFrame, path: Path) -> Path:
    """Two panels: the rejects' inferred bad rate against the truth, and the AUC on the
    whole through-the-door population, per method."""
    fig, axes = grid(2, size=4.2)
    names = table.index.astype(str)
    rates, aucs = axes[0], axes[1]
    rates.bar(names, table["inferred_reject_bad_rate"].fillna(0), color="tab:blue")
    rates.axhline(table["true_reject_bad_rate"].iloc[0], color="tab:red", ls="--", label="truth")
    rates.set_title("Rejects' bad rate: inferred vs true")
    rates.legend()
    aucs.bar(names, table["auc_through_the_door"], color="tab:green")
    low = table["auc_through_the_door"].min()
    aucs.set_ylim(max(0.5, low - 0.03), min(1.0, table["auc_through_the_door"].max() + 0.02))
    aucs.set_title("AUC on the whole through-the-door population")
    for ax in axes[:2]:
        ax.tick_params(axis="x", rotation=30)
    return save(fig, path)
