"""The portfolio-analytics job: aging, roll rates, bad rates and delinquent types as CSV and PNG."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from delinq.pipeline.book.io import Dataset
from delinq.pipeline.config import Config, ConfigError
from delinq.pipeline.portfolio import plots
from delinq.pipeline.portfolio.analytics import (
    aging_table,
    bad_rate_by,
    current_bucket,
    roll_rate_counts,
    roll_rate_matrix,
)
from delinq.pipeline.portfolio.delinquent_types import delinquent_types, type_outcomes
from delinq.pipeline.portfolio.policy import segment_accounts


def analyze_portfolio(
    cfg: Config, dataset: Dataset, out_dir: Path, pd_: np.ndarray | None = None
) -> list[Path]:
    """Write the portfolio analytics of ``dataset`` into ``out_dir``; return the files.

    ``pd_`` (e.g. out-of-fold champion scores during training) sharpens the segments; without
    it the high-PD condition of the wilful segment is left out.
    """
    history = cfg.data.history
    if history is None:
        raise ConfigError("portfolio analytics need a payment history (data.history)")
    out_dir.mkdir(parents=True, exist_ok=True)
    frame = dataset.X
    aging = aging_table(frame, history)
    matrix = roll_rate_matrix(frame, history)
    counts = roll_rate_counts(frame, history)
    bucket = current_bucket(frame, history)
    order = list(matrix.index)
    by_bucket = bad_rate_by(frame, bucket, dataset.y).reindex(order).dropna()
    segment = segment_accounts(frame, history, cfg.segments, pd_)
    by_segment = bad_rate_by(frame, segment, dataset.y).sort_values("bad_rate", ascending=False)
    types = type_outcomes(delinquent_types(frame, history, cfg.delinquent_types), dataset.y)

    files = [
        out_dir / "aging.csv",
        out_dir / "roll_rates.csv",
        out_dir / "bad_rate_by_bucket.csv",
        out_dir / "bad_rate_by_segment.csv",
        out_dir / "delinquent_types.csv",
    ]
    aging.to_csv(files[0], index=False)
    matrix.assign(accounts=counts).to_csv(files[1])
    by_bucket.to_csv(files[2])
    by_segment.to_csv(files[3])
    types.to_csv(files[4])
    files += _vintage_of(cfg, out_dir)
    files += [
        plots.roll_rate_heatmap(matrix, counts, out_dir / "roll_rates.png"),
        plots.aging_bars(aging, out_dir / "aging.png"),
        plots.bad_rate_bars(
            {"current DPD bucket": by_bucket, "segment": by_segment, "delinquent type": types},
            out_dir / "bad_rates.png",
        ),
    ]
    return files


def vintage_folder(snapshots: Path) -> Path:
    """Where `delinq snapshots` puts the vintage curves of the panel behind ``snapshots``
    (found there again by training on them)."""
    snapshots = Path(snapshots)
    return snapshots.with_name(f"{snapshots.stem}_vintage")


VINTAGE_FILES = ("vintage.png", "vintage.csv", "cure_rates.csv", "bad_definition.txt")


def _vintage_of(cfg: Config, out_dir: Path) -> list[Path]:
    """The vintage curves `delinq snapshots` wrote beside a snapshot table being trained on,
    copied in with the other portfolio views (aggregates of cohorts: no account in them)."""
    if cfg.data.path is None:
        return []
    folder = vintage_folder(cfg.data.path)
    found = [folder / name for name in VINTAGE_FILES if (folder / name).exists()]
    for file in found:
        shutil.copyfile(file, out_dir / file.name)
    return [out_dir / f.name for f in found]
