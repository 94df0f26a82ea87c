"""The training job: cross-validated comparison, champion refit, MLflow logging, promotion."""

from __future__ import annotations

import json
import re
import tempfile
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone

from delinq.models.boosting import fold_consensus
from delinq.models.calibration import OOFCalibratedClassifier
from delinq.models.candidates import DEFAULTS, REFERENCE, REFERENCE_PARAMS
from delinq.models.champion import PromotionDecision, choose_champion
from delinq.models.fitted import fitted_pipeline
from delinq.models.points_card import points_card
from delinq.models.raw_input import RawInputClassifier
from delinq.models.scorecard_pmml import scorecard_pmml
from delinq.models.scorecard_sql import scorecard_sql
from delinq.models.search import TunedClassifier, duplicate_groups
from delinq.pipeline.book.io import Dataset
from delinq.pipeline.config import Config
from delinq.pipeline.explain.explainer import ModelExplainer, background_stats
from delinq.pipeline.portfolio.job import analyze_portfolio
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.promote import promote
from delinq.pipeline.registry.reference import (
    MIN_LEVEL_ROWS,
    ScoringReference,
    build_reference,
    schema_digest,
    write_reference,
)
from delinq.pipeline.train.estimator import (
    Columns,
    build_estimator,
    reference_pipeline,
    scorecard_pipeline,
)
from delinq.pipeline.train.evaluate import (
    CVError,
    CVResult,
    bootstrap_intervals,
    cross_validate,
    cv_splits,
    in_workers,
    paired_auc_test,
    release_workers,
)
from delinq.pipeline.train.fairness import (
    FAIRNESS_FILE,
    FAIRNESS_PLOT,
    FOUR_FIFTHS,
    fairness_plot,
    fairness_table,
    lowest_impact_ratio,
)
from delinq.pipeline.train.out_of_time import (
    OOT_FILE,
    OutOfTimeError,
    out_of_time_check,
    split_out_of_time,
)
from delinq.pipeline.train.plots import comparison_plots
from delinq.pipeline.train.provenance import provenance_tags
from delinq.pipeline.train.scorecard import SCORECARD, SQL_TABLE, write_scorecard
from delinq.pipeline.train.step_cache import StepCache


class Reporter:
    """Progress hooks; the CLI shows them, tests and notebooks may ignore them."""

    def stage(self, text: str) -> None:
        """A new stage starts."""

    def cv_started(self, total_folds: int) -> None:
        """Cross-validation of ``total_folds`` (family, fold) fits starts."""

    def fold_done(self, family: str) -> None:
        """One fold of ``family`` finished."""

    def warn(self, text: str) -> None:
        """Something the user must know about the run (a skipped family, a winning reference)."""


class TrainingError(RuntimeError):
    """Training cannot produce a model (every family failed); nothing was registered."""


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
    warnings: tuple[str, ...] = ()
    # (runner-up family, champion's AUC minus its, paired-bootstrap p-value)
    versus_runner_up: tuple[str, float, float] | None = None
    # The champion per protected group (delinq.pipeline.train.fairness); None: none declared.
    fairness: pd.DataFrame | None = None
    # The champion on the held-out latest months (cv.out_of_time): oot_* metrics; None: none.
    out_of_time: dict | None = None
    out_of_time_months: tuple[str, ...] = ()


def masked_example(X: pd.DataFrame, rows: int = 3) -> pd.DataFrame:
    """A synthetic input example: per-column quartiles and categories many rows share.

    Every value is an aggregate of many rows (a level at least ``MIN_LEVEL_ROWS`` rows have,
    else missing), so no real person's record is stored with the model, while types and
    ranges stay realistic.
    """
    out = {}
    for col in X.columns:
        values = X[col].dropna()
        if pd.api.types.is_numeric_dtype(X[col]):
            q = values.quantile(np.linspace(0.25, 0.75, rows)) if len(values) else [np.nan] * rows
            out[col] = np.asarray(q, dtype=float)
        else:
            counts = values.value_counts()
            common = counts[counts >= MIN_LEVEL_ROWS].index.tolist()[:rows] or [np.nan]
            out[col] = np.array([common[i % len(common)] for i in range(rows)], dtype=object)
    return pd.DataFrame(out, columns=X.columns)


# Sections about decisions after the score, not about how a model is trained: left out of a
# training run's parameters (the config file itself is kept with the run).
NOT_TRAINING = ("arrears", "credit", "collection", "delinquent_types", "reject_inference")


def _flat_config(cfg: Config) -> dict[str, str]:
    raw = {k: v for k, v in json.loads(cfg.model_dump_json()).items() if k not in NOT_TRAINING}
    flat = pd.json_normalize(raw, sep=".").iloc[0].to_dict()
    # MLflow takes letters, digits and _ - . space : / in a parameter name (a label key such
    # as "90+" would fail the whole logging step).
    return {
        re.sub(r"[^\w\-. :/]", "_", k): json.dumps(v) if isinstance(v, list | dict) else str(v)
        for k, v in flat.items()
    }


def _family_params(cfg: Config, family: str, result: CVResult) -> dict:
    if family == REFERENCE:
        return {**REFERENCE_PARAMS, "search": "none"}
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
    memory: StepCache | None = None,
):
    """Refit the champion family on every row and calibrate it on its out-of-fold scores."""
    columns = Columns(dataset.numeric, dataset.categorical)
    estimator = build_estimator(cfg, columns, family, positive_weight, memory, len(dataset.y))
    if isinstance(estimator, TunedClassifier):
        # Search once more on all rows for the final hyper-parameters.
        search = clone(estimator).set_params(n_jobs=cfg.cv.n_jobs)
        search.fit(dataset.X, dataset.y)
        estimator = clone(search.best_estimator_)
    elif family == "xgboost" and all(f.grown for f in result.folds):
        # The trees and depth the folds' early stopping chose: no new choice on all rows.
        grown = [
            (f.grown["trees"], f.grown["depth"], len(dataset.y) - len(f.test_index))
            for f in result.folds
        ]
        cap = estimator.get_params()["clf__n_estimators"]
        consensus = fold_consensus(grown, len(dataset.y), cap)
        estimator.set_params(**{f"clf__{k}": v for k, v in consensus.items()})
    # One final fit: give it every core the folds were sharing.
    if family in ("random_forest", "xgboost"):
        estimator.set_params(clf__n_jobs=cfg.cv.n_jobs)
    model = OOFCalibratedClassifier(estimator, method=cfg.champion.calibration)
    model.fit(dataset.X, dataset.y, oof_proba=result.oof)
    # The cache folder is temporary; a saved model must not point at it.
    fitted_pipeline(model).memory = None
    if family in ("random_forest", "xgboost"):
        # Scoring parallelises over batches itself. A forest predicting in threads sums its
        # trees in whatever order they finish: PDs that differ in the last bit between runs.
        fitted_pipeline(model).set_params(clf__n_jobs=1)
    return model


def scorecard_files(
    cfg: Config, dataset: Dataset, champion: str, model, weight: float, out_dir: Path
) -> list[Path]:
    """The scorecard's card and exports: the champion's own when it won (calibration folded
    into the points), else the family refitted on every row, uncalibrated, for validators."""
    if champion != SCORECARD:
        columns = Columns(dataset.numeric, dataset.categorical)
        model = scorecard_pipeline(cfg, columns, weight).fit(dataset.X, dataset.y)
    sc = cfg.scorecard
    card = points_card(model, sc.base_score, sc.base_odds, sc.pdo)
    sql = scorecard_sql(card, SQL_TABLE, cfg.data.id)
    return write_scorecard(card, out_dir, champion == SCORECARD, sql, scorecard_pmml(card))


def champion_fairness(
    cfg: Config, dataset: Dataset, result: CVResult, model, out_dir: Path
) -> tuple[pd.DataFrame, list[Path]]:
    """The fairness table of the champion's calibrated out-of-fold PD, and its files."""
    calibrate = getattr(model, "calibrate", None)
    pd_ = calibrate(result.oof) if calibrate is not None else result.oof
    table = fairness_table(dataset.protected, result.y, pd_, result.hard, cfg.fairness)
    table.to_csv(out_dir / FAIRNESS_FILE, index=False)
    return table, [out_dir / FAIRNESS_FILE, fairness_plot(table, out_dir / FAIRNESS_PLOT)]


def positive_weight(dataset: Dataset) -> float:
    """Goods per bad: the class weight that balances the target (for weighted families)."""
    return (1 - dataset.bad_rate) / max(dataset.bad_rate, 1e-9)


def training_rows(n: int, folds: int) -> int:
    """Rows a model is fitted on in each of ``folds`` outer folds of ``n`` rows."""
    return n * (folds - 1) // folds


def too_few_bads(cfg: Config, dataset: Dataset) -> str | None:
    """Why the folds hold too few bad (or good) rows for their AUC to mean anything, or None."""
    bads = int(dataset.y.sum())
    rare = min(bads, len(dataset.y) - bads)
    folds, need = cfg.cv.folds, cfg.cv.min_bads_per_fold
    if rare >= folds * need:
        return None
    which = "bad" if rare == bads else "good"
    fewer = rare // need
    advice = f"use cv.folds {fewer} or fewer, or more data" if fewer >= 2 else "use more data"
    return (
        f"{Path(dataset.source).name}: only {rare} {which} rows among {len(dataset.y):,}: "
        f"{folds}-fold CV leaves about {rare / folds:.1f} in each test fold, fewer than "
        f"cv.min_bads_per_fold ({need}), so its AUC would mean little; {advice}"
    )


def cv_groups(cfg: Config, dataset: Dataset) -> tuple[np.ndarray | None, int]:
    """The CV groups (``None``: plain folds) and how many rows repeat another row's inputs.

    With ``data.group`` (an account at several observation months) its values are the
    groups: no account sits in both a training fold and a test fold.
    """
    duplicates, repeated = duplicate_groups(dataset.X)
    return _chosen_groups(cfg, dataset, duplicates, repeated), repeated


def _chosen_groups(
    cfg: Config, dataset: Dataset, duplicates: np.ndarray, repeated: int
) -> np.ndarray | None:
    if dataset.groups is not None:
        return pd.factorize(dataset.groups)[0]
    setting = cfg.cv.group_duplicates
    grouped = setting is True or (setting == "auto" and repeated >= 0.05 * len(duplicates))
    return duplicates if grouped and repeated else None


@dataclass
class FoldPlan:
    """A run's outer folds, made once before any run starts (a table that cannot be split
    fails there), and, when repeated rows are worth a second look, the other scheme's."""

    groups: np.ndarray | None  # None: plain stratified folds
    repeated: int  # rows whose inputs repeat another row's
    splits: list[tuple[np.ndarray, np.ndarray]]
    other: list[tuple[np.ndarray, np.ndarray]] | None  # the other fold scheme, or None


def fold_plan(cfg: Config, dataset: Dataset) -> FoldPlan:
    """The folds of :func:`cv_groups` and, from the same hashing of the rows, the other
    scheme's folds: worth it when at least 1 % of the rows repeat another's inputs and the
    folds follow those inputs (not ``data.group``), and the other scheme can split the table.
    """
    y = dataset.y.to_numpy()
    duplicates, repeated = duplicate_groups(dataset.X)
    groups = _chosen_groups(cfg, dataset, duplicates, repeated)
    splits = cv_splits(y, cfg.cv.folds, cfg.seed, groups)
    other = None
    if repeated >= 0.01 * len(y) and dataset.groups is None:
        try:
            other = cv_splits(y, cfg.cv.folds, cfg.seed, None if groups is not None else duplicates)
        except CVError:  # the other scheme cannot split this table: nothing to compare
            other = None
    return FoldPlan(groups, repeated, splits, other)


def compare_families(
    cfg: Config,
    dataset: Dataset,
    cache: StepCache,
    reporter: Reporter,
    plan: FoldPlan,
    store: Future | None = None,
) -> tuple[dict[str, CVResult], float, dict[str, str]]:
    """Cross-validate every configured family and the plain reference on the same folds.

    ``store``, the tracking store being opened meanwhile, stops the folds with its error as
    soon as one ends after it failed.

    Returns the results, the seconds, and the families that failed (family -> what failed).
    When the plan holds the other fold scheme (:func:`fold_plan`), the results also hold the
    reference on it, as :data:`OTHER_FOLDS`, fitted in the same worker pool so no core idles.
    """
    columns = Columns(dataset.numeric, dataset.categorical)
    families = list(cfg.models.families)
    weight = positive_weight(dataset)
    # Features, preprocessing and selection are the same for every family (and every search
    # candidate) on a given fold: the pipelines share a cache so each is fitted once.
    rows = training_rows(len(dataset.y), cfg.cv.folds)
    estimators = {f: build_estimator(cfg, columns, f, weight, cache, rows) for f in families}
    estimators[REFERENCE] = reference_pipeline(columns, cfg.seed)
    own_splits = {}
    if plan.other is not None:
        estimators[OTHER_FOLDS] = reference_pipeline(columns, cfg.seed)
        own_splits[OTHER_FOLDS] = plan.other
    reporter.stage(
        f"Cross-validating {len(families)} model families and the plain reference, "
        f"{cfg.cv.folds} folds"
        + (
            f" (each {cfg.data.group} in one fold)"
            if dataset.groups is not None
            else " (repeated rows kept together)"
            if plan.groups is not None
            else ""
        )
    )
    reporter.cv_started(len(estimators) * cfg.cv.folds)
    started = time.perf_counter()
    failed: dict[str, str] = {}

    def fold_done(family: str) -> None:
        reporter.fold_done(family)
        if store is not None and store.done() and store.exception() is not None:
            raise store.exception()

    with warnings.catch_warnings():  # a failed store cancels the folds: its error says why
        warnings.filterwarnings("ignore", message=".*tasks which were still being processed")
        results = cross_validate(
            estimators,
            dataset.X,
            dataset.y,
            cfg.cv.folds,
            cfg.seed,
            cfg.cv.n_jobs,
            on_fold=fold_done,
            failed=failed,
            splits=plan.splits,
            own_splits=own_splits,
        )
    failed.pop(OTHER_FOLDS, None)  # only a check: its failure costs the check, not the run
    return results, time.perf_counter() - started, failed


def log_comparison(
    cfg: Config, results: dict[str, CVResult], out_dir: Path, ledger: tracking.Ledger
) -> pd.DataFrame:
    """Write the comparison table and log one nested run per family.

    Returns the comparison (a row per family).
    """
    rows = {family: result.summary() for family, result in results.items()}
    if cfg.cv.bootstrap:
        for family, intervals in bootstrap_intervals(results, cfg.cv.bootstrap, cfg.seed).items():
            rows[family] |= intervals
    comparison = pd.DataFrame(rows).T
    comparison.index.name = "family"
    if REFERENCE in comparison.index:
        reference_auc = comparison.loc[REFERENCE, "roc_auc_mean"]
        comparison["roc_auc_lift_vs_reference"] = comparison["roc_auc_mean"] - reference_auc
    comparison.to_csv(out_dir / "comparison.csv")
    for family, result in results.items():
        files = _write_family_files(result, out_dir)
        with ledger.step(f"the '{family}' run"):
            tracking.log_family(
                family,
                _family_params(cfg, family, result),
                comparison.loc[family].to_dict(),
                result.fold_metrics,
                files,
            )
    return comparison


def _selection_files(model, out_dir: Path) -> list[Path]:
    selector = fitted_pipeline(model).named_steps.get("select")
    if selector is None:
        return []
    path = out_dir / "champion_feature_selection.csv"
    selector.report_.to_csv(path, index=False)
    return [path]


SPEED_ROWS = (100, 1_000)  # a slow champion is timed on 100 rows, a fast one on 1,000


def scoring_speed(cfg: Config, model, reference, X: pd.DataFrame) -> float:
    """Rows a second the champion scores as the nightly job does: its probabilities, and its
    reason codes when ``explain.reasons_in_scores`` (one core, training rows).

    The promotion gate reads it (:mod:`delinq.pipeline.registry.promote`): a champion whose
    reason codes crawl (a forest's TreeSHAP, the SVM's permutations) must not own the night.
    """
    explainer = None
    if cfg.explain.reasons_in_scores:  # built once a night, not per row: not timed
        explainer = ModelExplainer(model, reference, cfg.explain.labels, seed=cfg.seed)
    for n in SPEED_ROWS:
        rows = X.sample(min(n, len(X)), random_state=cfg.seed).reset_index(drop=True)
        started = time.perf_counter()
        model.predict_proba(rows)
        if explainer is not None:
            values = explainer.contributions(explainer.transform(rows))
            explainer.reason_codes(values, rows, cfg.explain.top_k)
        seconds = max(time.perf_counter() - started, 1e-9)
        if seconds > 0.5:
            break
    return len(rows) / seconds


def refit_champion(
    cfg: Config,
    dataset: Dataset,
    family: str,
    result: CVResult,
    positive_weight: float,
    memory: StepCache | None = None,
) -> tuple[object, ScoringReference]:
    """The champion refitted on every row (:func:`fit_champion`) and its scoring reference.

    What the reference holds is aggregates only: drift bins, the levels of real categorical
    inputs, and the explainers' background (a mean and k-means centroids).
    """
    model = fit_champion(cfg, dataset, family, result, positive_weight, memory)
    reference = build_reference(
        dataset.X,
        dataset.numeric,
        dataset.categorical,
        model.predict_proba(dataset.X)[:, 1],
        cfg.data.id,
        cfg.data.history,
        # The linear and SVM explainers' background.
        explain=background_stats(model, dataset.X, cfg.explain.background, cfg.seed),
        protected=cfg.data.protected,
    )
    return model, reference


def register_champion(
    cfg: Config,
    dataset: Dataset,
    model,
    reference: ScoringReference,
    family: str,
    scores: pd.Series,
    out_dir: Path,
    tags: dict[str, str] | None = None,
) -> str:
    """Log the champion with its scoring reference and register it as ``challenger``.

    What is stored beside the model holds aggregates only: a synthetic input example and
    the reference (:func:`refit_champion`). ``scores`` is the family's row of the comparison
    (its CV AUC and, when computed, the AUC's interval).
    Returns the version.
    """
    speed = scoring_speed(cfg, model, reference, dataset.X)
    return tracking.log_champion(
        RawInputClassifier(model, list(dataset.X.columns), dataset.categorical),
        masked_example(dataset.X),
        cfg.tracking.model_name,
        float(scores["roc_auc_mean"]),
        family,
        extra_files=[write_reference(reference, out_dir)],
        schema_digest=schema_digest(reference),
        rows_per_second=speed,
        tags=tags,
        auc_interval=(
            (float(scores["roc_auc_ci_low"]), float(scores["roc_auc_ci_high"]))
            if "roc_auc_ci_low" in scores
            else None
        ),
    )


def _check_against_reference(comparison: pd.DataFrame, families: list[str], warn) -> None:
    if REFERENCE not in comparison.index:
        warn("the plain reference failed to fit, so no family's lift over it is known")
        return
    reference = comparison.loc[REFERENCE, "roc_auc_mean"]
    best = comparison.loc[families, "roc_auc_mean"].max()
    if reference > best:
        warn(
            f"the plain reference XGBoost (CV AUC {reference:.4f}) beats every model family "
            f"(best {best:.4f}): the pipeline's features and defaults do not suit this table; "
            "compare the families' lifts in the comparison table"
        )


# The plain reference cross-validated on the other fold scheme, for the repeated-rows check.
OTHER_FOLDS = "reference (other folds)"


def _check_repeated_rows(
    cfg: Config,
    dataset: Dataset,
    grouped: bool,
    repeated: int,
    comparison: pd.DataFrame,
    alternative: CVResult | None,
    warn,
) -> None:
    """Say how many rows repeat; warn when keeping them together changes the reference's AUC.

    ``alternative`` is the reference on the other fold scheme (see :func:`compare_families`).
    Below 1 % of the table the count is only logged (metric ``repeated_rows``).
    """
    if repeated < 0.01 * len(dataset.y):
        return
    share = repeated / len(dataset.y)
    if dataset.groups is not None:  # folds follow data.group, not the inputs
        warn(
            f"{repeated:,} rows ({share:.0%}) repeat another row's inputs; folds are grouped "
            f"by {cfg.data.group} (data.group), not by inputs"
        )
        return
    scheme = "kept together in one fold" if grouped else "split across folds"
    warn(
        f"{repeated:,} rows ({share:.0%}) repeat another row's inputs; they are {scheme} "
        "(cv.group_duplicates)"
    )
    if REFERENCE not in comparison.index or alternative is None:
        return
    here = comparison.loc[REFERENCE, "roc_auc_mean"]
    there = alternative.summary()["roc_auc_mean"]
    if abs(here - there) > 0.01:
        warn(
            f"grouping the repeated rows changes the reference's CV AUC from "
            f"{there if grouped else here:.4f} (plain folds) to "
            f"{here if grouped else there:.4f} (grouped): plain folds reward "
            "memorising them; trust the grouped figure"
        )


def train(cfg: Config, dataset: Dataset, reporter: Reporter | None = None) -> TrainResult:
    """Compare every configured family under CV, refit and register the champion.

    The stages, each logged as it completes: cross-validation of the families and the plain
    reference (:func:`compare_families`), the comparison with lifts and bootstrap intervals
    (:func:`log_comparison`), the champion's refit (:func:`fit_champion`), portfolio
    analytics, the parent run, registration (:func:`register_champion`) and, when configured,
    the promotion gates. A failed store names what was and was not logged. A family that
    fails to fit is skipped with a warning; if every family fails nothing is registered.
    """
    reporter = reporter or Reporter()
    warnings: list[str] = []

    def warn(text: str) -> None:
        warnings.append(text)
        reporter.warn(text)

    oot = held = None
    if cfg.cv.out_of_time:
        try:
            dataset, oot, held = split_out_of_time(dataset, cfg.cv.out_of_time)
        except OutOfTimeError as exc:
            raise TrainingError(str(exc)) from None

    few = too_few_bads(cfg, dataset)
    if few and not cfg.cv.allow_few_bads:
        raise TrainingError(f"{few}, or pass --allow-few-bads to train anyway (never promoted)")
    if few:
        warn(f"{few}; trained anyway (--allow-few-bads): registered, never promoted")
    if cfg.data.protected and cfg.data.allow_protected_inputs:
        warn(
            f"protected attributes are model inputs (data.allow_protected_inputs): "
            f"{', '.join(cfg.data.protected)}; they are never given as reason codes"
        )
    plan = fold_plan(cfg, dataset)  # a table the folds cannot split fails before any run

    reporter.stage("Connecting to MLflow")
    started = time.time()
    uri = tracking.connect(cfg.tracking)  # an unreachable server fails here, before any fit
    run_name = f"train-{time.strftime('%Y%m%d-%H%M%S')}"
    tags = {"source": Path(dataset.source).name, "rows": str(len(dataset.y))}
    tags |= provenance_tags(cfg)
    if dataset.personal:  # names only: which columns were kept out, never what they held
        tags["personal_columns_excluded"] = ", ".join(dataset.personal)
    if dataset.notes:  # columns, counts and row positions: never a cell's value
        tags["data_notes"] = " | ".join(dataset.notes)[:5000]
    ledger = tracking.Ledger(
        uri,
        [
            *(f"the '{f}' run" for f in [*cfg.models.families, REFERENCE]),
            *(["portfolio analytics"] if cfg.data.history is not None else []),
            "the parent run's config, metrics and plots",
            "the champion model and its registry version",
        ],
    )
    with (
        tempfile.TemporaryDirectory(prefix="delinq-cache-") as cache_dir,
        ThreadPoolExecutor(1) as opening,
        ExitStack() as run,
    ):
        # A new store is opened while the folds are fitted; a store that fails stops the
        # folds as the next one ends.
        experiment = opening.submit(tracking.ensure_experiment, cfg.tracking, uri)
        cache = StepCache(cache_dir, verbose=0)
        results, cv_seconds, failed = compare_families(
            cfg, dataset, cache, reporter, plan, experiment
        )
        experiment_id = experiment.result()
        run_id = run.enter_context(tracking.parent_run(experiment_id, run_name, tags, started))
        out_dir = cfg.output_dir / run_id
        alternative = results.pop(OTHER_FOLDS, None)
        for family, what in failed.items():
            warn(f"'{family}' failed to fit ({what}) and was left out of the comparison")
        families = [f for f in cfg.models.families if f in results]
        if not families:
            raise TrainingError(
                f"every model family failed to fit ({'; '.join(failed.values())}); "
                "nothing was registered"
            )
        out_dir.mkdir(parents=True, exist_ok=True)  # only now: a failed run leaves no folder
        ledger.local = out_dir

        champion = choose_champion(
            pd.DataFrame({f: results[f].summary() for f in families}).T, cfg.champion.metric
        )
        weight = positive_weight(dataset)
        # What needs only the folds' results: the plots and the portfolio analytics. Their
        # folder is absolute: the worker processes may have been started by an earlier run in
        # another working directory, where a relative folder would land.
        files_dir = out_dir.absolute()
        side = {"plots": (comparison_plots, results, files_dir)}
        if cfg.data.history is not None:
            portfolio_dir, oof = files_dir / "portfolio", results[champion].oof
            side["portfolio"] = (analyze_portfolio, cfg, dataset, portfolio_dir, oof)
        refit_args = (cfg, dataset, champion, results[champion], weight, cache)
        writing = "the comparison table, plots" + " and portfolio analytics" * ("portfolio" in side)
        pending = None
        if cfg.models.search.method == "none":
            # The refit and the side work in warm worker processes, while this one writes
            # the table and the family runs: 4-5 s of Taiwan's wall time. A searched refit
            # spreads its candidates over the pool itself, so it runs here.
            reporter.stage(
                f"Refitting champion '{champion}' on all rows and calibrating, meanwhile "
                f"writing {writing}"
            )
            pending = in_workers(cfg.cv.n_jobs, (refit_champion, *refit_args), *side.values())
        else:
            reporter.stage(f"Writing {writing}")
        comparison = log_comparison(cfg, results, out_dir, ledger)
        champion_auc = float(comparison.loc[champion, "roc_auc_mean"])
        _check_against_reference(comparison, families, warn)
        _check_repeated_rows(
            cfg, dataset, plan.groups is not None, plan.repeated, comparison, alternative, warn
        )
        parent_metrics = {
            "champion_cv_roc_auc": champion_auc,
            "cv_seconds": cv_seconds,
            "bad_rate": dataset.bad_rate,
            "repeated_rows": plan.repeated,
        }
        if REFERENCE in comparison.index:
            parent_metrics["champion_cv_roc_auc_lift_vs_reference"] = float(
                comparison.loc[champion, "roc_auc_lift_vs_reference"]
            )
        others = comparison.loc[[f for f in families if f != champion], "roc_auc_mean"]
        if len(others) and cfg.cv.bootstrap:
            runner_up = str(others.idxmax())
            diff, p_value = paired_auc_test(
                results[champion].y,
                results[champion].oof,
                results[runner_up].oof,
                cfg.cv.bootstrap,
                cfg.seed,
            )
            parent_metrics |= {
                "champion_vs_runner_up_auc": diff,
                "champion_vs_runner_up_p": p_value,
            }
            tags_after = {"runner_up": runner_up}
            versus = (runner_up, diff, p_value)
        else:
            tags_after, versus = {}, None

        if pending is not None:
            (model, reference), *outputs = pending()
            made = dict(zip(side, outputs, strict=True))
        else:
            made = {name: fn(*args) for name, (fn, *args) in side.items()}
            reporter.stage(f"Refitting champion '{champion}' on all rows and calibrating")
            model, reference = refit_champion(*refit_args)
        release_workers()  # the last use of the worker pool
        champion_files = _selection_files(model, out_dir)
        if SCORECARD in families:
            reporter.stage("Scorecard: points table, information values, SQL and PMML")
            champion_files += scorecard_files(cfg, dataset, champion, model, weight, out_dir)
        fairness, version_tags = None, {tracking.FEW_BADS_TAG: few} if few else {}
        if dataset.protected is not None:
            reporter.stage("Fairness: the champion's out-of-fold PD by protected group")
            fairness, files = champion_fairness(cfg, dataset, results[champion], model, out_dir)
            champion_files += files
            lowest = lowest_impact_ratio(fairness)
            if lowest is not None:
                parent_metrics["fairness_min_impact_ratio"] = lowest
                version_tags[tracking.FAIRNESS_TAG] = f"{lowest:.6f}"
                if lowest < FOUR_FIFTHS:
                    worst = fairness.loc[fairness["impact_ratio"].idxmin()]
                    warn(
                        f"adverse impact: {worst['attribute']} group '{worst['group']}' is "
                        f"flagged so often that its impact ratio is {lowest:.2f}, under the "
                        f"four-fifths rule ({FOUR_FIFTHS}); see {FAIRNESS_FILE}"
                    )

        oot_metrics = None
        if oot is not None:
            reporter.stage(f"Out of time: the champion on the held-out {', '.join(held)}")
            calibrate = getattr(model, "calibrate", None)
            oof = results[champion].oof
            in_pd = calibrate(oof) if calibrate is not None else oof
            oot_metrics, oot_file = out_of_time_check(model, dataset, oot, in_pd, out_dir)
            parent_metrics |= oot_metrics
            champion_files.append(oot_file)
            version_tags[tracking.OOT_TAG] = f"{oot_metrics['oot_roc_auc']:.6f}"
            tags_after["out_of_time"] = ", ".join(held)
            # Chance alone moves both figures: the folds' spread and the held-out sample's.
            noise = np.hypot(comparison.loc[champion, "roc_auc_std"], oot_metrics["oot_roc_auc_se"])
            if oot_metrics["oot_roc_auc"] < champion_auc - 2 * noise:
                warn(
                    f"out of time ({', '.join(held)}) the champion's AUC is "
                    f"{oot_metrics['oot_roc_auc']:.4f}, below its CV AUC {champion_auc:.4f} by "
                    f"more than chance explains (2 x {noise:.4f}): the book has moved "
                    f"({OOT_FILE})"
                )
            shifted = pd.read_csv(oot_file, index_col=0)["psi"]
            shifted = shifted[shifted >= cfg.scoring.psi_alert]
            if len(shifted):
                warn(
                    f"shifted out of time (PSI >= {cfg.scoring.psi_alert:g}): "
                    + ", ".join(f"{k} {v:.2f}" for k, v in shifted.items())
                )

        if "portfolio" in made:
            reporter.stage(
                "Portfolio analytics: aging, roll rates, bad rates by bucket and segment"
            )
            with ledger.step("portfolio analytics"):
                tracking.log_files(made["portfolio"], folder="portfolio")

        with ledger.step("the parent run's config, metrics and plots"):
            tracking.log_parent(
                _flat_config(cfg),
                parent_metrics,
                {"champion": champion, **tags_after, "grouped_cv": str(plan.groups is not None)},
                [out_dir / "comparison.csv", *made["plots"], *champion_files],
            )
        reporter.stage("Registering the champion in the model registry")
        with ledger.step("the champion model and its registry version"):
            version = register_champion(
                cfg,
                dataset,
                model,
                reference,
                champion,
                comparison.loc[champion],
                out_dir,
                version_tags,
            )

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
        warnings=tuple(warnings),
        versus_runner_up=versus,
        fairness=fairness,
        out_of_time=oot_metrics,
        out_of_time_months=tuple(held or ()),
    )
