"""The training job: cross-validated comparison, champion refit, MLflow logging, promotion."""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from delinq.models.calibration import OOFCalibratedClassifier
from delinq.models.candidates import DEFAULTS
from delinq.models.champion import PromotionDecision, choose_champion
from delinq.models.fitted import fitted_pipeline
from delinq.models.raw_input import RawInputClassifier
from delinq.pipeline.book.io import Dataset
from delinq.pipeline.config import Config
from delinq.pipeline.explain.explainer import background_stats
from delinq.pipeline.portfolio.job import analyze_portfolio
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.promote import promote
from delinq.pipeline.registry.reference import build_reference, write_reference
from delinq.pipeline.train.estimator import Columns, build_estimator
from delinq.pipeline.train.evaluate import CVResult, cross_validate
from delinq.pipeline.train.plots import comparison_plots


class Reporter:
    """Progress hooks; the CLI shows them, tests and notebooks may ignore them."""

    def stage(self, text: str) -> None:
        """A new stage starts."""

    def cv_started(self, total_folds: int) -> None:
        """Cross-validation of ``total_folds`` (family, fold) fits starts."""

    def fold_done(self, family: str) -> None:
        """One fold of ``family`` finished."""


@dataclass(frozen=True)
class TrainResult:
    """Where a training run's outputs are, and what it decided."""

    run_id: str
    experiment_id: str
    tracking_uri: str
    output_dir: Path
    comparison: pd.DataFrame
    champion: str
    model_name: str
    version: str
    promotion: PromotionDecision | None


def masked_example(X: pd.DataFrame, rows: int = 3) -> pd.DataFrame:
    """A synthetic input example: per-column quartiles and most common categories.

    Every value is an aggregate of many rows, so no real person's record is stored with the
    model, while types and ranges stay realistic.
    """
    out = {}
    for col in X.columns:
        values = X[col].dropna()
        if pd.api.types.is_numeric_dtype(X[col]):
            q = values.quantile(np.linspace(0.25, 0.75, rows)) if len(values) else [np.nan] * rows
            out[col] = np.asarray(q, dtype=float)
        else:
            common = values.value_counts().index.tolist()[:rows] or [np.nan]
            out[col] = np.array([common[i % len(common)] for i in range(rows)], dtype=object)
    return pd.DataFrame(out, columns=X.columns)


def _flat_config(cfg: Config) -> dict[str, str]:
    flat = pd.json_normalize(json.loads(cfg.model_dump_json()), sep=".").iloc[0].to_dict()
    return {k: json.dumps(v) if isinstance(v, list | dict) else str(v) for k, v in flat.items()}


def _family_params(cfg: Config, family: str, result: CVResult) -> dict:
    params = {**DEFAULTS[family], **getattr(cfg.models, family).params}
    params["search"] = cfg.models.search.method
    if cfg.models.search.method != "none":  # {} in a fold: the defaults won its search
        chosen = [f.best_params for f in result.folds]
        params["best_params_by_fold"] = json.dumps(chosen, default=str)
    return params


def _write_family_files(result: CVResult, out_dir: Path) -> list[Path]:
    files = [out_dir / f"{result.family}_folds.csv"]
    result.fold_metrics.to_csv(files[0])
    report = result.selection_report()
    if report is not None:
        files.append(out_dir / f"{result.family}_feature_selection.csv")
        report.to_csv(files[-1], index=False)
    return files


def fit_champion(
    cfg: Config,
    dataset: Dataset,
    family: str,
    result: CVResult,
    positive_weight: float,
    memory: str | None = None,
):
    """Refit the champion family on every row and calibrate it on its out-of-fold scores."""
    columns = Columns(dataset.numeric, dataset.categorical)
    estimator = build_estimator(cfg, columns, family, positive_weight, memory)
    if isinstance(estimator, GridSearchCV):
        # Search once more on all rows for the final hyper-parameters.
        search = clone(estimator).set_params(n_jobs=cfg.cv.n_jobs)
        search.fit(dataset.X, dataset.y)
        estimator = clone(search.best_estimator_)
    # One final fit: give it every core the folds were sharing.
    if family in ("random_forest", "xgboost"):
        estimator.set_params(clf__n_jobs=cfg.cv.n_jobs)
    model = OOFCalibratedClassifier(estimator, method=cfg.champion.calibration)
    model.fit(dataset.X, dataset.y, oof_proba=result.oof)
    # The cache folder is temporary; a saved model must not point at it.
    fitted_pipeline(model).memory = None
    return model


def positive_weight(dataset: Dataset) -> float:
    """Goods per bad: the class weight that balances the target (for weighted families)."""
    return (1 - dataset.bad_rate) / max(dataset.bad_rate, 1e-9)


def compare_families(
    cfg: Config, dataset: Dataset, cache: str, reporter: Reporter
) -> tuple[dict[str, CVResult], float]:
    """Cross-validate every configured family on the same folds; also return the seconds."""
    columns = Columns(dataset.numeric, dataset.categorical)
    families = list(cfg.models.families)
    weight = positive_weight(dataset)
    # Features, preprocessing and selection are the same for every family (and every search
    # candidate) on a given fold: the pipelines share a cache so each is fitted once.
    estimators = {f: build_estimator(cfg, columns, f, weight, memory=cache) for f in families}
    reporter.stage(f"Cross-validating {len(families)} model families, {cfg.cv.folds} folds")
    reporter.cv_started(len(families) * cfg.cv.folds)
    started = time.perf_counter()
    results = cross_validate(
        estimators,
        dataset.X,
        dataset.y,
        cfg.cv.folds,
        cfg.seed,
        cfg.cv.n_jobs,
        on_fold=reporter.fold_done,
    )
    return results, time.perf_counter() - started


def log_comparison(
    cfg: Config, results: dict[str, CVResult], out_dir: Path, ledger: tracking.Ledger
) -> tuple[pd.DataFrame, list[Path]]:
    """Write the comparison table and plots, and log one nested run per family.

    Returns the comparison (a row per family) and the plot files.
    """
    comparison = pd.DataFrame({f: r.summary() for f, r in results.items()}).T
    comparison.index.name = "family"
    comparison.to_csv(out_dir / "comparison.csv")
    plots = comparison_plots(results, out_dir)
    for family, result in results.items():
        files = _write_family_files(result, out_dir)
        with ledger.step(f"the '{family}' run"):
            tracking.log_family(
                family,
                _family_params(cfg, family, result),
                result.summary(),
                result.fold_metrics,
                files,
            )
    return comparison, plots


def _selection_files(model, out_dir: Path) -> list[Path]:
    selector = fitted_pipeline(model).named_steps.get("select")
    if selector is None:
        return []
    path = out_dir / "champion_feature_selection.csv"
    selector.report_.to_csv(path, index=False)
    return [path]


def register_champion(
    cfg: Config, dataset: Dataset, model, family: str, cv_auc: float, out_dir: Path
) -> str:
    """Log the champion with its scoring reference and register it as ``challenger``.

    What is stored beside the model holds aggregates only: a synthetic input example,
    drift bins, hashed category levels, a mean and k-means centroids. Returns the version.
    """
    reference = build_reference(
        dataset.X,
        dataset.numeric,
        dataset.categorical,
        model.predict_proba(dataset.X)[:, 1],
        cfg.data.id,
        cfg.data.history,
        # The linear and SVM explainers' background.
        explain=background_stats(model, dataset.X, cfg.explain.background, cfg.seed),
    )
    return tracking.log_champion(
        RawInputClassifier(model, list(dataset.X.columns), dataset.categorical),
        masked_example(dataset.X),
        cfg.tracking.model_name,
        cv_auc,
        family,
        extra_files=[write_reference(reference, out_dir)],
    )


def train(cfg: Config, dataset: Dataset, reporter: Reporter | None = None) -> TrainResult:
    """Compare every configured family under CV, refit and register the champion.

    The stages, each logged as it completes: cross-validation (:func:`compare_families`),
    the comparison (:func:`log_comparison`), the champion's refit (:func:`fit_champion`),
    portfolio analytics, the parent run, registration (:func:`register_champion`) and, when
    configured, the promotion gates. A failed store names what was and was not logged.
    """
    reporter = reporter or Reporter()
    reporter.stage("Connecting to MLflow")
    uri = tracking.connect(cfg.tracking)
    experiment_id = tracking.ensure_experiment(cfg.tracking, uri)
    families = list(cfg.models.families)
    run_name = f"train-{time.strftime('%Y%m%d-%H%M%S')}"
    tags = {"source": Path(dataset.source).name, "rows": str(len(dataset.y))}
    ledger = tracking.Ledger(
        uri,
        [
            *(f"the '{f}' run" for f in families),
            *(["portfolio analytics"] if cfg.data.history is not None else []),
            "the parent run's config, metrics and plots",
            "the champion model and its registry version",
        ],
    )
    with (
        tracking.parent_run(experiment_id, run_name, tags) as run_id,
        tempfile.TemporaryDirectory(prefix="delinq-cache-") as cache,
    ):
        out_dir = cfg.output_dir / run_id
        out_dir.mkdir(parents=True, exist_ok=True)
        ledger.local = out_dir
        results, cv_seconds = compare_families(cfg, dataset, cache, reporter)

        reporter.stage("Writing comparison table and plots")
        comparison, plots = log_comparison(cfg, results, out_dir, ledger)
        champion = choose_champion(comparison, cfg.champion.metric)
        champion_auc = float(comparison.loc[champion, "roc_auc_mean"])

        reporter.stage(f"Refitting champion '{champion}' on all rows and calibrating")
        weight = positive_weight(dataset)
        model = fit_champion(cfg, dataset, champion, results[champion], weight, cache)
        champion_files = _selection_files(model, out_dir)

        if cfg.data.history is not None:
            reporter.stage(
                "Portfolio analytics: aging, roll rates, bad rates by bucket and segment"
            )
            portfolio = analyze_portfolio(
                cfg, dataset, out_dir / "portfolio", pd_=results[champion].oof
            )
            with ledger.step("portfolio analytics"):
                tracking.log_files(portfolio, folder="portfolio")

        with ledger.step("the parent run's config, metrics and plots"):
            tracking.log_parent(
                _flat_config(cfg),
                {
                    "champion_cv_roc_auc": champion_auc,
                    "cv_seconds": cv_seconds,
                    "bad_rate": dataset.bad_rate,
                },
                {"champion": champion},
                [out_dir / "comparison.csv", *plots, *champion_files],
            )
        reporter.stage("Registering the champion in the model registry")
        with ledger.step("the champion model and its registry version"):
            version = register_champion(cfg, dataset, model, champion, champion_auc, out_dir)

    decision = None
    if cfg.promotion.auto:
        reporter.stage("Checking promotion gates")
        decision, _ = promote(cfg)
    return TrainResult(
        run_id=run_id,
        experiment_id=experiment_id,
        tracking_uri=uri,
        output_dir=out_dir,
        comparison=comparison,
        champion=champion,
        model_name=cfg.tracking.model_name,
        version=version,
        promotion=decision,
    )
