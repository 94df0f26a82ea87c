"""Assembling the one training pipeline: features -> preprocess -> resample -> select -> clf.

The whole object is what cross-validation clones and fits per fold, so imputation, clip bounds,
encodings, resampling and selection scores are learned from training folds only.
"""

from __future__ import annotations

from dataclasses import dataclass

from imblearn.over_sampling import SMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline
from imblearn.under_sampling import RandomUnderSampler
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from delinq.features.cleaning import OutlierCapper
from delinq.features.history import (
    RISK_RISES_WITH,
    history_feature_names,
    history_transformer,
)
from delinq.features.selection import FeatureSelector
from delinq.models.binning import MonotoneWoE
from delinq.models.candidates import (
    DEFAULTS,
    SCORECARD_BINNING,
    TREE_FAMILIES,
    make_classifier,
    reference_classifier,
    search_space,
)
from delinq.models.search import SubsampledStratifiedKFold, TunedClassifier
from delinq.pipeline.config import Config, HistoryConfig, ImbalanceConfig, PreprocessConfig


@dataclass(frozen=True)
class Columns:
    """Column roles of a validated dataset."""

    numeric: list[str]
    categorical: list[str]

    @property
    def all(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def history_step(history: HistoryConfig, columns: Columns) -> ColumnTransformer:
    """Derived payment-history features next to every raw column, as a DataFrame."""
    step = ColumnTransformer(
        [
            ("history", history_transformer(history), history.columns()),
            ("raw", "passthrough", columns.all),
        ],
        verbose_feature_names_out=False,
    )
    return step.set_output(transform="pandas")


def preprocessor(
    numeric: list[str], categorical: list[str], cfg: PreprocessConfig, trees: bool = False
):
    """Cap, impute (with indicators) and scale numbers; impute and one-hot encode categories.

    For ``trees`` numbers pass through as they are: trees split on ranks (capping and scaling
    change nothing but the ends) and read missing values natively, learning where they go.
    """
    out = cfg.outliers
    numeric_steps = Pipeline(
        [
            ("cap", OutlierCapper(out.method, out.lower, out.upper, out.iqr_k)),
            ("impute", SimpleImputer(strategy="median", add_indicator=cfg.missing_indicators)),
            ("scale", StandardScaler()),
        ]
    )
    categorical_steps = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="(missing)")),
            (
                "encode",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    min_frequency=cfg.rare_category_share or None,
                    max_categories=cfg.max_categories,
                    sparse_output=False,
                ),
            ),
        ]
    )
    transformers = []
    if numeric:
        transformers.append(("num", "passthrough" if trees else numeric_steps, numeric))
    if categorical:
        transformers.append(("cat", categorical_steps, categorical))
    step = ColumnTransformer(transformers, verbose_feature_names_out=False)
    return step.set_output(transform="pandas")


def reference_pipeline(columns: Columns, seed: int = 0) -> Pipeline:
    """The plain reference: one-hot text, every other column as read, then a plain XGBoost.

    No history features, capping, imputation (XGBoost reads missing values natively), scaling
    or selection: what a ten-line script does, on the same folds as the families.
    """
    encode = ColumnTransformer(
        [
            (
                "text",
                OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                columns.categorical,
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    # Arrays, not frames: XGBoost refuses column names with "<" or "[" (German's one-hot
    # levels read "... < 0 DM"), and a plain script would hand it arrays too.
    return Pipeline([("preprocess", encode), ("clf", reference_classifier(seed))])


def tree_constraints(cfg: Config) -> dict[str, int]:
    """Input -> +1 (risk only rises with it) or -1 (only falls), for XGBoost.

    The declared ``models.monotone`` directions (peak and valley are for the scorecard's bins
    only) and, with ``models.monotone_history``, the derived delinquency features.
    """
    signs = {"increasing": 1, "decreasing": -1}
    out = {}
    if cfg.data.history is not None and cfg.models.monotone_history:
        out = dict.fromkeys(RISK_RISES_WITH, 1)
    out |= {name: signs[d] for name, d in cfg.models.monotone.items() if d in signs}
    return out


def sampler(cfg: ImbalanceConfig, seed: int):
    """The imbalanced-learn sampler for ``cfg.method``, or ``None``."""
    kinds = {"smote": SMOTE, "random_under": RandomUnderSampler, "random_over": RandomOverSampler}
    if cfg.method not in kinds:
        return None
    return kinds[cfg.method](sampling_strategy=cfg.sampling_strategy, random_state=seed)


def build_pipeline(
    cfg: Config,
    columns: Columns,
    family: str,
    positive_weight: float = 1.0,
    memory=None,
    n_rows: int | None = None,
) -> Pipeline:
    """The full training pipeline for one model family, unfitted.

    ``n_rows`` is how many rows it will be fitted on (size-dependent defaults).
    """
    if family == "scorecard":
        return scorecard_pipeline(cfg, columns, positive_weight)
    steps = []
    numeric = list(columns.numeric)
    if cfg.data.history is not None:
        steps.append(("features", history_step(cfg.data.history, columns)))
        numeric = history_feature_names(cfg.data.history) + numeric
    trees = family in TREE_FAMILIES
    steps.append(("preprocess", preprocessor(numeric, columns.categorical, cfg.preprocess, trees)))
    resample = sampler(cfg.imbalance, cfg.seed)
    if resample is not None:
        steps.append(("resample", resample))
    sel = cfg.selection
    selector = FeatureSelector(
        chi2=sel.chi2,
        chi2_max_p=sel.chi2_max_p,
        pearson=sel.pearson,
        min_target_corr=sel.min_target_corr,
        max_inter_corr=sel.max_inter_corr,
        tree_importance=sel.tree_importance,
        min_importance_share=sel.min_importance_share,
        random_state=cfg.seed,
    )
    constraints = tree_constraints(cfg) if family == "xgboost" else {}
    if family in TREE_FAMILIES and tree_constraints(cfg):
        # XGBoost finds its constrained columns by name after selection. The forest gets the
        # same named output: both tree families then share one selection per fold (cached).
        selector.set_output(transform="pandas")
    steps.append(("select", selector))
    family_cfg = getattr(cfg.models, family)
    clf = make_classifier(
        family,
        family_cfg.params,
        class_weight=cfg.imbalance.method == "class_weight",
        positive_weight=positive_weight,
        seed=cfg.seed,
        n_rows=n_rows,
        quick=cfg.models.search.method == "none",
    )
    if constraints:
        clf.set_params(monotone=constraints)
    steps.append(("clf", clf))
    return Pipeline(steps, memory=memory)


def scorecard_pipeline(cfg: Config, columns: Columns, positive_weight: float = 1.0) -> Pipeline:
    """Monotone WoE bins of the inputs and history features, then a logistic regression.

    The derived history features are binned too: on Taiwan they lift the card from 0.767 to
    0.778 CV AUC (docs/benchmarks.md). No resampling (synthetic rows would carry WoE values no
    bin has) and no selection step: the bins' information value selects.
    """
    params = {**DEFAULTS["scorecard"], **cfg.models.scorecard.params}
    woe = MonotoneWoE(
        categorical=list(columns.categorical),
        trends=dict(cfg.models.monotone),
        special_values={k: list(v) for k, v in cfg.models.special_values.items()},
        **{k: params[k] for k in SCORECARD_BINNING},
    )
    clf = make_classifier(
        "scorecard",
        cfg.models.scorecard.params,
        class_weight=cfg.imbalance.method == "class_weight",
        positive_weight=positive_weight,
        seed=cfg.seed,
    )
    steps = [("woe", woe), ("clf", clf)]
    if cfg.data.history is not None:
        steps.insert(0, ("features", history_step(cfg.data.history, columns)))
    return Pipeline(steps)


def build_estimator(
    cfg: Config,
    columns: Columns,
    family: str,
    positive_weight: float = 1.0,
    memory=None,
    n_rows: int | None = None,
):
    """The pipeline, wrapped in a seeded Optuna search when tuning is on (nested CV).

    The search weighs the family's defaults (``best_params_ == {}``) against ``n_iter`` trials,
    and keeps them on a tie: sampled candidates alone can all be worse than the defaults, and
    on Taiwan they were (docs/benchmarks.md).
    """
    pipe = build_pipeline(cfg, columns, family, positive_weight, memory, n_rows)
    search = cfg.models.search
    if search.method == "none":
        return pipe
    space = search_space(family, getattr(cfg.models, family).space)
    return TunedClassifier(
        pipe,
        space,
        n_trials=search.n_iter,
        timeout=search.budget_s,
        cv=SubsampledStratifiedKFold(search.inner_folds, search.max_rows, cfg.seed),
        sampler=search.method,
        random_state=cfg.seed,
    )
