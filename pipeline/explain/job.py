"""`delinq explain`: global SHAP views of the champion, and waterfalls for chosen loans.

Global plots and the importance table (aggregates) go to the champion's MLflow run under
``explain/``. Waterfalls and reason codes of named loans show a person's values, so they stay
in the local output folder and never go to MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from delinq.pipeline.book.io import DataError, model_rows, read_training_frame
from delinq.pipeline.config import Config
from delinq.pipeline.explain.explainer import Explanation, ModelExplainer
from delinq.pipeline.explain.plots import shap_plots, waterfall_plot
from delinq.pipeline.plotting import file_stem
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.load import load_registered

SVM_MAX_ROWS = 300  # the permutation explainer costs ~50 ms a row


@dataclass
class ExplainResult:
    """Where the explanation files are and what they cover."""

    out_dir: Path
    model_name: str
    version: str
    run_id: str
    family: str
    method: str
    rows: int
    importance: pd.DataFrame
    global_files: list[Path]
    loan_files: list[Path]


def load_champion(cfg: Config, model_uri: str, data: pd.DataFrame | None = None):
    """(name, version, explainer, reference) of the model behind ``model_uri``, resolved once."""
    tracking.connect(cfg.tracking)
    name, version, model, reference = load_registered(model_uri)
    explainer = ModelExplainer(model, reference, cfg.explain.labels, data=data, seed=cfg.seed)
    return name, version, explainer, reference


def sample_rows(X: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """A seeded sample of at most ``rows`` rows, in their original order."""
    if len(X) <= rows:
        return X
    return X.sample(rows, random_state=seed).sort_index()


def explain_champion(
    cfg: Config,
    model_uri: str,
    out_dir: Path,
    loan_ids: list[str] | None = None,
    log: bool = True,
) -> ExplainResult:
    """Explain the model behind ``model_uri`` on the config's table: plots, importance,
    waterfalls.

    The table (``cfg.data.path``, or the simulated book) is read by the loader training
    uses and cut to the model's own inputs, typed as its scoring reference says, so no target
    or data config written for the table is needed.
    """
    tracking.connect(cfg.tracking)
    name, version, model, reference = load_registered(model_uri)
    frame, source = read_training_frame(cfg)
    X, ids = model_rows(frame, reference.names, reference.categorical, reference.id, source)
    explainer = ModelExplainer(model, reference, cfg.explain.labels, data=X, seed=cfg.seed)
    dataset = _Rows(X, ids)
    id_col = reference.id
    positions = _loan_positions(dataset, id_col, loan_ids or [])
    limit = cfg.explain.sample_rows
    if explainer.family == "svm":
        limit = min(limit, SVM_MAX_ROWS)
    sample = sample_rows(dataset.X, limit, cfg.seed)
    expl = explainer.explain(sample)
    out_dir.mkdir(parents=True, exist_ok=True)
    importance = expl.importance()
    importance.to_csv(out_dir / "shap_importance.csv", index=False)
    global_files = [out_dir / "shap_importance.csv"]
    global_files += shap_plots(expl, out_dir, cfg.explain.dependence_plots)
    loan_files = _explain_loans(explainer, dataset, id_col, positions, out_dir, cfg.explain.top_k)
    run_id = tracking.version_run_id(name, version)
    if log:
        tracking.log_to_run(run_id, global_files, "explain")
    return ExplainResult(
        out_dir,
        name,
        version,
        run_id,
        explainer.family,
        explainer.method,
        len(sample),
        importance,
        global_files,
        loan_files,
    )


@dataclass(frozen=True)
class _Rows:
    X: pd.DataFrame
    ids: pd.Series | None


def _loan_positions(dataset: _Rows, id_col: str | None, loan_ids: list[str]) -> list[int]:
    if not loan_ids:
        return []
    if dataset.ids is None:
        raise DataError(f"the data has no id column '{id_col}', so loans cannot be looked up")
    ids = pd.Series(dataset.ids).astype(str).reset_index(drop=True)
    found = pd.Index(ids).get_indexer(loan_ids)
    missing = [i for i, f in zip(loan_ids, found, strict=True) if f < 0]
    if missing:
        raise DataError(
            f"{len(missing)} of the requested loan ids are not in the data "
            f"({len(ids):,} loans): {', '.join(missing[:5])}"
        )
    return [int(f) for f in found]


def _explain_loans(
    explainer: ModelExplainer,
    dataset: _Rows,
    id_col: str | None,
    positions: list[int],
    out_dir: Path,
    k: int,
) -> list[Path]:
    if not positions:
        return []
    rows = dataset.X.iloc[positions]
    expl: Explanation = explainer.explain(rows)
    ids = [str(dataset.ids.iloc[p]) for p in positions]
    files = []
    for i, loan in enumerate(ids):
        title = f"Loan {loan}: contributions to the score ({expl.units})"
        files.append(waterfall_plot(expl, i, title, out_dir / f"waterfall_{file_stem(loan)}.png"))
    reasons = explainer.reason_codes(expl.values, rows, k)
    reasons.insert(0, id_col or "row", ids)
    files.append(out_dir / "loan_reasons.csv")
    reasons.to_csv(files[-1], index=False)
    return files
