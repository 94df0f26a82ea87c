"""The out-of-time holdout: the latest observation months kept away from training, then scored.

Cross-validation mixes months; a model is used on months after those it learned from. With
``cv.out_of_time: k`` and ``data.time`` (a snapshot's observation month), the rows of the k
latest months are held out: the families are compared and the champion fitted on the earlier
rows only, then the champion scores the held-out months. Their AUC, KS and calibration sit
next to the in-time CV figures, with the PSI of every input and of the score between the
training rows and the held-out ones: a shift the CV cannot see.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from delinq.pipeline.book.io import Dataset
from delinq.pipeline.registry.reference import build_reference, frame_psi
from delinq.pipeline.train.evaluate import ks_statistic

OOT_FILE = "out_of_time.csv"


class OutOfTimeError(ValueError):
    """A holdout that cannot be taken as configured."""


def _rows(dataset: Dataset, keep: np.ndarray) -> Dataset:
    def take(series):
        return None if series is None else series[keep].reset_index(drop=True)

    return replace(
        dataset,
        X=dataset.X[keep].reset_index(drop=True),
        y=dataset.y[keep].reset_index(drop=True),
        ids=dataset.ids[keep].reset_index(drop=True),
        protected=None
        if dataset.protected is None
        else dataset.protected[keep].reset_index(drop=True),
        groups=take(dataset.groups),
        time=take(dataset.time),
    )


def split_out_of_time(dataset: Dataset, months: int) -> tuple[Dataset, Dataset, list[str]]:
    """(in-time rows, held-out rows, the held-out time values) of the ``months`` latest."""
    if dataset.time is None:
        raise OutOfTimeError(
            "cv.out_of_time needs data.time: the column saying when each row was observed"
        )
    values = sorted(dataset.time.unique())
    if len(values) <= months:
        raise OutOfTimeError(
            f"cv.out_of_time is {months} but data.time has only {len(values)} value(s): "
            "nothing would be left to train on"
        )
    held = values[-months:]
    late = dataset.time.isin(held).to_numpy()
    oot = _rows(dataset, late)
    if oot.y.nunique() < 2:
        raise OutOfTimeError(
            f"the held-out months ({', '.join(held)}) hold only one outcome: no AUC can be "
            "measured on them; hold out more months"
        )
    return _rows(dataset, ~late), oot, held


def auc_standard_error(auc: float, bads: int, goods: int) -> float:
    """The AUC's standard error for a sample of this many bads and goods (Hanley and McNeil,
    1982): how far a held-out month's AUC moves by chance alone."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    var = auc * (1 - auc) + (bads - 1) * (q1 - auc**2) + (goods - 1) * (q2 - auc**2)
    return float(np.sqrt(max(var, 0.0) / max(bads * goods, 1)))


def out_of_time_check(
    model, in_time: Dataset, oot: Dataset, in_time_pd: np.ndarray, out_dir: Path
) -> tuple[dict, Path]:
    """Score the held-out rows with the fitted champion; return its metrics and write
    :data:`OOT_FILE` (the PSI of every input and of the score, training rows vs held out)."""
    pd_ = model.predict_proba(oot.X)[:, 1]
    y = oot.y.to_numpy()
    reference = build_reference(
        in_time.X, in_time.numeric, in_time.categorical, in_time_pd, None, None
    )
    shift = frame_psi(reference, oot.X, pd_).sort_values(ascending=False)
    shift.rename_axis("input").to_frame().to_csv(out_dir / OOT_FILE)
    auc = float(roc_auc_score(y, pd_))
    metrics = {
        "oot_roc_auc": auc,
        "oot_roc_auc_se": auc_standard_error(auc, int(y.sum()), int(len(y) - y.sum())),
        "oot_ks": float(ks_statistic(y, pd_)),
        "oot_rows": float(len(y)),
        "oot_bad_rate": float(y.mean()),
        "oot_mean_pd": float(pd_.mean()),
        "oot_score_psi": float(shift["score"]),
        "oot_max_input_psi": float(shift.drop("score").max()),
    }
    return metrics, out_dir / OOT_FILE
