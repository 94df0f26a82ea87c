"""`delinq monitor` and `delinq backtest`: read published nights, write their comparisons.

Both publish like the scorer: a lock per date, a staging folder of their own renamed into
place, so a failed run leaves nothing half written. Aggregates (migration, flows, actions,
backtest tables and plots) also go to the model version's MLflow run; the watchlist names
accounts, so it stays in the local output folder.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from delinq.pipeline.book.io import DataError, encode_target, file_kind, model_rows, read_table
from delinq.pipeline.config import Config
from delinq.pipeline.explain.explainer import ModelExplainer
from delinq.pipeline.monitor.backtest import cohort_summary, grade_tests, overall_light
from delinq.pipeline.monitor.migration import COLUMNS, compare_nights
from delinq.pipeline.monitor.outcomes import outcomes_from_panel
from delinq.pipeline.monitor.plots import backtest_plot, migration_plot
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.load import load_registered
from delinq.pipeline.score.publish import (
    MANIFEST_FILE,
    SCORES_FILE,
    canonical_date,
    partition,
    partition_lock,
    publish,
    published_dates,
    staging_folder,
)


class MonitorError(ValueError):
    """A night or an outcomes table that cannot be compared as asked."""


@dataclass(frozen=True)
class Published:
    """Where a monitoring output went, and its headline."""

    folder: Path
    summary: dict


def _manifest(scores: Path, day: str) -> dict:
    """The manifest of the published night ``day``."""
    folder = partition(scores, day)
    if not (folder / MANIFEST_FILE).exists():
        raise MonitorError(f"{scores}: no published scores for {day} (run `delinq score` first)")
    return json.loads((folder / MANIFEST_FILE).read_text())


def read_night(scores: Path, day: str, columns: list[str]) -> tuple[pa.Table, dict]:
    """(``columns`` of the scores, manifest) of the published night ``day``."""
    manifest = _manifest(scores, day)
    folder = partition(scores, day)
    labels = [c for c in columns if c not in ("id", "pd")]  # kept dictionary-encoded: small
    # Batch by batch: read_table held 40 % more than the columns themselves (10M rows: 412
    # MB for 296 MB of columns), and both nights are in memory at once.
    scores = pq.ParquetFile(folder / SCORES_FILE, read_dictionary=labels, pre_buffer=False)
    batches = scores.iter_batches(columns=columns, batch_size=1 << 20)
    table = pa.Table.from_batches(
        list(batches), scores.schema_arrow.empty_table().select(columns).schema
    )
    return table, manifest


def _reasons_of(scores: Path, day: str, ids: pd.Series) -> pd.DataFrame:
    """The reason-code columns of the accounts ``ids`` on night ``day``, in their order."""
    path = partition(scores, day) / SCORES_FILE
    names = [c for c in pq.read_schema(path).names if c.startswith("reason_")]
    wanted = pa.array(ids.astype(str).tolist(), pa.string())
    # Filtered batch by batch as it is read: the reasons of ten million rows never sit in memory.
    table = pq.read_table(path, columns=["id", *names], filters=pc.is_in(pc.field("id"), wanted))
    found = table.to_pandas().drop_duplicates("id").set_index("id")
    return found.reindex(ids.astype(str).to_numpy()).reset_index(drop=True)


def as_of_day(as_of: str) -> str:
    try:
        return canonical_date(as_of)
    except ValueError:
        raise MonitorError(f"--as-of {as_of!r} is not a calendar date (YYYY-MM-DD)") from None


def publish_partition(root: Path, day: str, write) -> Path:
    """Run ``write(staging)`` and rename its folder into ``root``'s partition of ``day``."""
    root.mkdir(parents=True, exist_ok=True)
    with partition_lock(root, day):
        staging = staging_folder(root, day)
        try:
            write(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        final = partition(root, day)
        publish(staging, final)
    return final


def _log(cfg: Config, manifest: dict, files: list[Path], folder: str) -> None:
    tracking.connect(cfg.tracking)
    model = manifest["model"]
    tracking.log_to_run(tracking.version_run_id(model["name"], model["version"]), files, folder)


def _book_rows(path: Path, reference, ids: pd.Index, sep: str | None) -> pd.DataFrame:
    """The model inputs of the accounts ``ids`` (text) in a book, in the order of ``ids``."""
    if reference.id is None:
        raise MonitorError("the model was trained without an id column: accounts cannot be matched")
    if file_kind(Path(path)) == "parquet" or Path(path).is_dir():
        table = pq.read_table(path, columns=[reference.id, *reference.names])
        keep = pc.is_in(table[reference.id].cast(pa.string()), pa.array(ids.tolist()))
        frame = table.filter(keep).to_pandas()
    else:
        frame = read_table(path, sep)
    X, found = model_rows(frame, reference.names, reference.categorical, reference.id, str(path))
    if found is None:
        raise DataError(f"{path}: id column '{reference.id}' not found")
    X.index = pd.Index(found.astype(str))
    X = X[~X.index.duplicated()]
    missing = ids.difference(X.index)
    if len(missing):
        raise DataError(
            f"{path}: {len(missing)} watchlist account(s) are not in this book; give the books "
            "the two nights scored"
        )
    return X.loc[ids].reset_index(drop=True)


def why_risk_rose(
    cfg: Config, manifest: dict, watch: pd.DataFrame, books: tuple[Path, Path]
) -> pd.DataFrame:
    """``why_1..k`` per watchlist account: the inputs whose contribution rose most between
    the previous night's book and tonight's (at most ``monitor.explain_rows``, worst first)."""
    tracking.connect(cfg.tracking)
    model = manifest["model"]
    _, _, fitted, reference = load_registered(f"models:/{model['name']}/{model['version']}")
    explainer = ModelExplainer(fitted, reference, cfg.explain.labels, seed=cfg.seed)
    ids = pd.Index(watch["id"].astype(str).head(cfg.monitor.explain_rows))
    before, after = (_book_rows(b, reference, ids, cfg.data.sep) for b in books)
    why = explainer.reasons_for_change(before, after, cfg.explain.top_k)
    return why.reindex(range(len(watch)))


def monitor(
    cfg: Config,
    scores: Path,
    as_of: str,
    log: bool = True,
    books: tuple[Path, Path] | None = None,
) -> Published:
    """Compare the night ``as_of`` with the latest published night before it.

    With ``books`` (the previous night's and tonight's input books), each watchlist account
    gets the reasons its risk rose (:func:`why_risk_rose`).
    """
    day = as_of_day(as_of)
    manifest = _manifest(scores, day)
    earlier = [d for d in published_dates(scores) if d < day]
    if not earlier:
        raise MonitorError(
            f"{scores}: no published night before {day} to compare with (the first night "
            "has nothing to migrate from)"
        )
    grades = list(cfg.scorecard.bands)
    # The nights are handed over, not kept here: compare_nights frees what it has used.
    result = compare_nights(
        read_night(scores, earlier[-1], COLUMNS)[0],
        read_night(scores, day, COLUMNS)[0],
        grades,
        cfg.monitor,
    )
    reasons = _reasons_of(scores, day, result.watchlist["id"])
    result.watchlist = pd.concat([result.watchlist, reasons], axis=1)
    if books is not None and len(result.watchlist):
        why = why_risk_rose(cfg, manifest, result.watchlist, books)
        result.watchlist = pd.concat([result.watchlist, why], axis=1)
    summary = {"as_of_date": day, "previous_date": earlier[-1], **result.summary()}

    def write(folder: Path) -> None:
        result.grades.to_csv(folder / "migration.csv")
        result.shares().round(6).to_csv(folder / "migration_shares.csv")
        result.buckets.to_csv(folder / "bucket_flows.csv")
        result.new_actions.to_csv(folder / "new_actions.csv")
        result.watchlist.to_parquet(folder / "watchlist.parquet", index=False)
        migration_plot(
            result.shares().drop(index="(new)", errors="ignore"),
            folder / "migration.png",
            f"Grade migration, {earlier[-1]} to {day}",
        )
        (folder / "summary.json").write_text(json.dumps(summary, indent=2))

    final = publish_partition(cfg.monitor.output_dir / "migration", day, write)
    if log:
        aggregates = [final / f for f in ("migration.csv", "bucket_flows.csv", "new_actions.csv")]
        _log(cfg, manifest, [*aggregates, final / "migration.png", final / "summary.json"],
             f"monitor/{day}")  # fmt: skip
    return Published(final, summary)


def read_outcomes(path: Path, id_col: str, target: str, positive_label: str | None) -> pd.Series:
    """Matured outcomes as a 0/1 series indexed by account id (as text), checked."""
    frame = read_table(path)
    for column, role in ((id_col, "id"), (target, "outcome")):
        if column not in frame.columns:
            raise DataError(f"{path}: {role} column '{column}' not found (see --id, --target)")
    ids = frame[id_col].astype(str)
    dup = ids.duplicated(keep=False)
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())[:6].tolist()
        raise DataError(
            f"{path}: id column '{id_col}' has duplicated values in {int(dup.sum())} rows "
            f"(row positions {rows}); one outcome per account"
        )
    text = frame[target].astype(str).str.strip().str.lower()
    if positive_label is None and frame[target].notna().all() and text.isin(FLAGS).all():
        y = text.map(FLAGS)  # a cohort may be all good (or all bad): no second value needed
    else:
        y = encode_target(frame[target], positive_label, str(path))
    return pd.Series(y.to_numpy(dtype=np.int64), index=pd.Index(ids, name="id"), name="bad")


FLAGS = {"0": 0, "1": 1, "0.0": 0, "1.0": 1, "false": 0, "true": 1}


def backtest(
    cfg: Config,
    scores: Path,
    as_of: str,
    outcomes: Path | None = None,
    id_col: str = "id",
    target: str = "bad",
    positive_label: str | None = None,
    log: bool = True,
    panel: Path | None = None,
) -> Published:
    """Test the night ``as_of``'s PDs against the ``outcomes`` that matured since, or against
    outcomes derived from a monthly ``panel`` (``monitor.panel``: :mod:`.outcomes`)."""
    if (outcomes is None) == (panel is None):
        raise MonitorError("give either an outcomes table or a performance panel, not both")
    day = as_of_day(as_of)
    night, manifest = read_night(scores, day, ["id", "pd", "grade"])
    night = night.to_pandas()
    night["grade"] = night["grade"].astype(object)
    night = night.set_index(night["id"].astype(str))
    derived = {}
    if panel is not None:
        found = outcomes_from_panel(read_table(panel), cfg.monitor.panel, day, str(panel))
        # A panel holds the whole book's history: accounts opened after the night, or closed
        # before it, were not scored on it and are simply not part of this back-test.
        y = found.bad[found.bad.index.isin(night.index)]
        derived = {
            "outcomes_from": "panel",
            "performance_window": list(found.window),
            "bad_definition": f">= {cfg.monitor.panel.bad_at_least:g} {cfg.monitor.panel.unit} "
            f"past due within {cfg.monitor.panel.within_months} months",
            "immature_accounts": int(found.immature.isin(night.index).sum()),
            "panel_accounts_not_scored": int(len(found.bad) - len(y))
            + int((~found.immature.isin(night.index)).sum()),
        }
        if y.empty:
            raise DataError(f"{panel}: no account scored on {day} has a matured outcome")
    else:
        y = read_outcomes(outcomes, id_col, target, positive_label)
    unknown = ~y.index.isin(night.index)
    if unknown.any():
        rows = np.flatnonzero(unknown)[:6].tolist()
        raise DataError(
            f"{outcomes}: {int(unknown.sum())} outcome(s) are for accounts not scored on {day} "
            f"(row positions {rows}); back-test each night against its own accounts"
        )
    matured = night.loc[y.index]
    pd_, bad = matured["pd"].to_numpy(), y.to_numpy()
    grades = grade_tests(matured["grade"].to_numpy(), pd_, bad, list(cfg.scorecard.bands))
    model = manifest["model"]
    tracking.connect(cfg.tracking)
    development = tracking.version_auc(model["name"], model["version"])
    summary = {
        "as_of_date": day,
        "model": model,
        "scored": len(night),
        "matured": len(y),
        "light": overall_light(grades),
        **cohort_summary(bad, pd_, development),
        **derived,
    }

    def write(folder: Path) -> None:
        grades.to_csv(folder / "grades.csv", index=False)
        backtest_plot(grades, folder / "backtest.png", f"Back-test of {day}: PD against outcome")
        (folder / "summary.json").write_text(json.dumps(summary, indent=2))

    final = publish_partition(cfg.monitor.output_dir / "backtests", day, write)
    if log:
        files = [final / f for f in ("grades.csv", "backtest.png", "summary.json")]
        _log(cfg, manifest, files, f"backtest/{day}")
        tracking.set_version_tag(
            model["name"], model["version"], f"backtest_{day}", summary["light"]
        )
    return Published(final, summary)
