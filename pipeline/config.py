"""Typed configuration: YAML parsed once into pydantic models and passed down.

Unknown keys and wrong types fail at load time with the key path and the file in the message.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

FAMILIES = ("logreg", "svm", "random_forest", "xgboost", "scorecard")
Family = Literal["logreg", "svm", "random_forest", "xgboost", "scorecard"]
# The direction an input moves the risk: declared for monotone binning and monotone trees.
Direction = Literal["increasing", "decreasing", "peak", "valley"]
ParamValue = float | int | str | bool | None


class ConfigError(ValueError):
    """A configuration file that cannot be read or does not validate."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HistoryConfig(_Strict):
    """Monthly history columns, each list ordered newest to oldest."""

    status: list[str] = Field(min_length=2)
    status_unit: Literal["months", "days"] = "months"  # months late (Taiwan) or days past due
    balance: list[str] = Field(default_factory=list)
    payment: list[str] = Field(default_factory=list)
    limit: str | None = None
    # Month-by-month detail features next to the summaries (delinq.features.history.detail_names).
    detail: bool = True

    def columns(self) -> list[str]:
        """Every column the history features read."""
        return [*self.status, *self.balance, *self.payment, *([self.limit] if self.limit else [])]


def _taiwan_history() -> HistoryConfig:
    months = range(1, 7)
    return HistoryConfig(
        status=["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"],
        balance=[f"BILL_AMT{i}" for i in months],
        payment=[f"PAY_AMT{i}" for i in months],
        limit="LIMIT_BAL",
    )


class DataConfig(_Strict):
    """Where the loan table comes from and how to read it.

    The defaults describe the Taiwan credit-card schema that the simulator writes.
    """

    path: Path | None = None
    # The delimiter of CSV files (the training table and the nightly book); None: detected
    # from the header among , ; tab and |.
    sep: str | None = Field(None, min_length=1, max_length=1)
    simulate_rows: int = Field(20_000, ge=100)
    target: str = "default_next_month"
    id: str | None = "ID"
    # Rows sharing this column's value (an account seen at several observation months) stay
    # in one CV fold; never a model input.
    group: str | None = None
    # When each row was observed (a snapshot's observation month; sortable text or dates):
    # cv.out_of_time holds out its latest values. Never a model input.
    time: str | None = None
    positive_label: str | None = None
    categorical: list[str] = Field(default_factory=lambda: ["SEX", "EDUCATION", "MARRIAGE"])
    drop: list[str] = Field(default_factory=list)
    # Columns that identify a person: never model inputs. Besides these, columns that look
    # personal (names, e-mails, phones, national ids, account numbers) are found and kept out;
    # `not_personal` keeps one in (delinq.pipeline.book.personal).
    personal: list[str] = Field(default_factory=list)
    not_personal: list[str] = Field(default_factory=list)
    # Attributes such as sex, age or marital status: not model inputs (unless
    # `allow_protected_inputs`, with a warning, and then never a reason code), kept aside
    # for the fairness report (see `fairness`).
    protected: list[str] = Field(default_factory=list)
    allow_protected_inputs: bool = False
    # A column numeric but for a few unparseable cells stays numeric (those cells become
    # missing, with a note); past this share of its filled cells, reading stops.
    max_unparseable_share: float = Field(0.02, ge=0, lt=0.5)
    history: HistoryConfig | None = Field(default_factory=_taiwan_history)


class OutlierConfig(_Strict):
    method: Literal["quantile", "iqr", "none"] = "quantile"
    lower: float = Field(0.005, ge=0, lt=0.5)
    upper: float = Field(0.995, gt=0.5, le=1)
    iqr_k: float = Field(3.0, gt=0)


class PreprocessConfig(_Strict):
    outliers: OutlierConfig = OutlierConfig()
    # A 0/1 column per numeric input with gaps, beside its median fill (linear families; the
    # tree families read missing values natively and learn where they go).
    missing_indicators: bool = True
    rare_category_share: float = Field(0.002, ge=0, lt=0.5)
    max_categories: int = Field(100, ge=2)


class SelectionConfig(_Strict):
    """Feature selection rules, applied in this order: chi-square, Pearson, tree importance."""

    chi2: bool = True
    # None: score and report chi-square, drop nothing (dropping at 0.05 lost up to 0.04 AUC
    # off Taiwan: levels too weak alone were dropped, see docs/benchmarks.md).
    chi2_max_p: float | None = Field(None, gt=0, le=1)
    pearson: bool = True
    min_target_corr: float = Field(0.0, ge=0, lt=1)
    max_inter_corr: float = Field(0.99, gt=0, le=1)
    tree_importance: bool = True
    min_importance_share: float = Field(0.02, ge=0, lt=1)


class ImbalanceConfig(_Strict):
    method: Literal["none", "class_weight", "smote", "random_under", "random_over"] = "none"
    sampling_strategy: float | Literal["auto"] = "auto"


class SearchConfig(_Strict):
    """Hyper-parameter search run inside every outer fold (nested CV).

    ``tpe``: Optuna's seeded TPE sampler; ``random``: seeded random draws; ``none``: the
    defaults only (``--quick``). The defaults are always one of the candidates.
    """

    method: Literal["tpe", "random", "none"] = "tpe"
    n_iter: int = Field(8, ge=1)  # trials besides the defaults
    inner_folds: int = Field(3, ge=2)
    max_rows: int = Field(8_000, ge=100)
    # Seconds per family and outer fold; null: no cap. A cap that binds makes the number of
    # trials, and so the result, depend on the machine's speed.
    budget_s: float | None = Field(None, gt=0)


def _number(low=None, high=None, *, whole=False, open_low=False, none=False):
    """A rule: a number (whole if ``whole``) within [low, high] (``(low`` if ``open_low``)."""

    def check(value):
        if value is None and none:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "a whole number" if whole else "a number"
        if whole and value != int(value):
            return "a whole number"
        if low is not None and (value <= low if open_low else value < low):
            return f"{'above' if open_low else 'at least'} {low}"
        if high is not None and value > high:
            return f"at most {high}"
        return None

    return check


def _one_of(*values):
    return lambda value: None if value in values else "one of " + ", ".join(map(str, values))


def _either(*rules):
    """A rule passed when any of ``rules`` passes (the first one's complaint otherwise)."""

    def check(value):
        complaints = [rule(value) for rule in rules]
        return None if None in complaints else " or ".join(c for c in complaints if c)

    return check


_FRACTION = _number(0, 1, open_low=True)
# What each family's parameters may be: checked when the config loads, so a typo or a wrong
# type names its key instead of failing mid-training (``max_depth: deep``).
PARAM_RULES: dict[str, dict] = {
    "logreg": {
        "C": _number(0, open_low=True),
        "max_iter": _number(1, whole=True),
        "tol": _number(0, open_low=True),
        "penalty": _one_of("l1", "l2", "elasticnet", None),
        "solver": _one_of("lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"),
        "l1_ratio": _number(0, 1, none=True),
        "fit_intercept": _one_of(True, False),
    },
    "svm": {
        "C": _number(0, open_low=True),
        "gamma": _number(0, open_low=True),
        "n_components": _number(1, whole=True),
    },
    "random_forest": {
        "n_estimators": _number(1, whole=True),
        "max_depth": _number(1, whole=True, none=True),
        "min_samples_leaf": _either(_number(1, whole=True), _number(0, 0.5, open_low=True)),
        "min_samples_split": _either(_number(2, whole=True), _FRACTION),
        "max_features": _either(_one_of("sqrt", "log2", None), _FRACTION, _number(1, whole=True)),
        "max_samples": _either(_FRACTION, _number(1, whole=True), _one_of(None)),
        "max_leaf_nodes": _number(2, whole=True, none=True),
        "min_impurity_decrease": _number(0),
        "ccp_alpha": _number(0),
        "bootstrap": _one_of(True, False),
        "criterion": _one_of("gini", "entropy", "log_loss"),
        "n_jobs": _number(-1, whole=True),
    },
    "xgboost": {
        "n_estimators": _number(1, whole=True),
        "learning_rate": _number(0, 1, open_low=True),
        "max_depth": _number(0, whole=True),
        "max_leaves": _number(0, whole=True),
        "min_child_weight": _number(0),
        "subsample": _FRACTION,
        "colsample_bytree": _FRACTION,
        "colsample_bylevel": _FRACTION,
        "colsample_bynode": _FRACTION,
        "reg_lambda": _number(0),
        "reg_alpha": _number(0),
        "gamma": _number(0),
        "max_delta_step": _number(0),
        "max_bin": _number(2, whole=True),
        "scale_pos_weight": _number(0, open_low=True),
        "tree_method": _one_of("hist", "approx", "exact"),
        "grow_policy": _one_of("depthwise", "lossguide"),
        "n_jobs": _number(-1, whole=True),
        "validation_fraction": _number(0, 0.5),
        "patience": _number(1, whole=True),
        "depth_candidates": _one_of(None),  # a list cannot be set here; null turns it off
    },
    "scorecard": {
        "C": _number(0, open_low=True),
        "max_iter": _number(1, whole=True),
        "max_bins": _number(2, 100, whole=True),
        "min_bin_share": _number(0, 0.5, open_low=True),
        "min_iv": _number(0),
    },
}


def _check_params(family: str, config: FamilyConfig) -> None:
    rules = PARAM_RULES[family]
    for where, values in (("params", config.params), ("space", config.space or {})):
        for name, value in values.items():
            key = f"models.{family}.{where}.{name}"
            if name not in rules:
                close = difflib.get_close_matches(name, list(rules), n=1)
                hint = f"; did you mean {close[0]}?" if close else ""
                raise ValueError(f"{key}: not a parameter of {family}{hint}")
            if where == "params":
                complaint = rules[name](value)
                if complaint:
                    raise ValueError(f"{key}: must be {complaint}, not {value!r}")


class FamilyConfig(_Strict):
    """Per-family overrides: fixed parameters and the search space.

    ``space`` maps a parameter to a list of choices or to ``[int|float|log, low, high]``.
    """

    params: dict[str, ParamValue] = Field(default_factory=dict)
    space: dict[str, list[ParamValue]] | None = None

    @model_validator(mode="after")
    def _ranges_well_formed(self) -> FamilyConfig:
        for name, dim in (self.space or {}).items():
            if dim and dim[0] in ("int", "float", "log"):
                if len(dim) != 3 or not all(isinstance(v, int | float) for v in dim[1:]):
                    raise ValueError(f"space.{name}: a range is [{dim[0]}, low, high]")
                if not dim[1] < dim[2] or (dim[0] == "log" and dim[1] <= 0):
                    raise ValueError(f"space.{name}: need 0 < low < high for log, low < high")
        return self


class ModelsConfig(_Strict):
    families: list[Family] = Field(default_factory=lambda: list(FAMILIES), min_length=1)
    search: SearchConfig = SearchConfig()
    logreg: FamilyConfig = FamilyConfig()
    svm: FamilyConfig = FamilyConfig()
    random_forest: FamilyConfig = FamilyConfig()
    xgboost: FamilyConfig = FamilyConfig()
    scorecard: FamilyConfig = FamilyConfig()
    # Input -> the direction it moves the risk (PAY_0: increasing, LIMIT_BAL: decreasing).
    # The scorecard bins follow it (peak and valley too; others are detected per fold);
    # XGBoost is constrained by the increasing and decreasing ones (models/boosting.py).
    monotone: dict[str, Direction] = Field(default_factory=dict)
    # XGBoost also keeps the risk from falling as the derived delinquency features rise
    # (months late, worst bucket: delinq.features.history.RISK_RISES_WITH).
    monotone_history: bool = True
    # Input -> values with a meaning of their own (-1: no account): own scorecard bins.
    special_values: dict[str, list[float]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _params_known_and_valid(self) -> ModelsConfig:
        for family in FAMILIES:
            _check_params(family, getattr(self, family))
        return self


class CVConfig(_Strict):
    folds: int = Field(5, ge=2)
    n_jobs: int = Field(2, ge=1)
    # Rows whose inputs repeat another row's stay in one fold, so CV cannot reward memorising
    # them. "auto": when at least 5 % of the rows repeat another (card_approval: 89 %).
    group_duplicates: bool | Literal["auto"] = "auto"
    # Bootstrap resamples of the out-of-fold predictions for 95 % intervals (0: none).
    bootstrap: int = Field(200, ge=0)
    # Each test fold needs this many bad (and good) rows for its AUC to mean anything; with
    # fewer, training stops, unless `allow_few_bads` (`--allow-few-bads`): then the version
    # is registered but never promoted.
    min_bads_per_fold: int = Field(5, ge=1)
    allow_few_bads: bool = False
    # Hold out the rows of the latest k values of data.time: the families are compared and
    # the champion fitted on the earlier rows only, then scored on these (out-of-time AUC,
    # KS, calibration and the PSI of every input and of the score).
    out_of_time: int = Field(0, ge=0)


class ChampionConfig(_Strict):
    metric: Literal["roc_auc", "pr_auc", "ks", "f1", "brier", "log_loss"] = "roc_auc"
    calibration: Literal["isotonic", "sigmoid"] = "sigmoid"


class PromotionConfig(_Strict):
    auto: bool = True
    min_auc: float = Field(0.6, ge=0, le=1)
    tolerance: float = Field(0.005, ge=0, le=1)
    # "point": the challenger's CV AUC may trail the champion's by at most `tolerance`.
    # "interval": it is refused only if even its 95 % interval's upper end trails by more.
    compare: Literal["point", "interval"] = "point"
    # The night the champion must fit: scoring `book_rows` rows (with reason codes when
    # explain.reasons_in_scores) within `night_minutes`, at the speed measured at training on
    # one core. 0 rows: no speed gate. Set your book's size: at 1M a forest (about 180-300
    # rows/s with reason codes) passes with room and the SVM (7 rows/s) is refused.
    book_rows: int = Field(1_000_000, ge=0)
    night_minutes: float = Field(240, gt=0)
    # Refuse a challenger whose out-of-time AUC (cv.out_of_time) is under this; null: no gate.
    min_oot_auc: float | None = Field(None, ge=0, le=1)


class FairnessConfig(_Strict):
    """How the champion treats the groups of each protected attribute (data.protected)."""

    # Numeric attributes (age) are cut into bands at these edges; without edges, quintiles.
    bands: dict[str, list[float]] = Field(default_factory=dict)
    # Groups smaller than this are pooled into one "other" group: too few rows to judge.
    min_group_rows: int = Field(30, ge=1)
    # Promotion gate: the lowest adverse-impact ratio a champion may have (four-fifths
    # rule: 0.8). None: no gate.
    min_impact_ratio: float | None = Field(None, gt=0, le=1)


class ScorecardConfig(_Strict):
    """PDO scaling of probability of default into points, and points into grades."""

    base_score: float = 600
    base_odds: float = Field(50, gt=0)
    pdo: float = Field(20, gt=0)
    # Grade -> minimum score, best first; the last grade catches the rest (-.inf in YAML).
    bands: dict[str, float] = Field(
        default_factory=lambda: {
            "A": 620,
            "B": 590,
            "C": 560,
            "D": 530,
            "E": 500,
            "F": 470,
            "G": float("-inf"),
        }
    )

    @model_validator(mode="after")
    def _bands_descend(self) -> ScorecardConfig:
        floors = list(self.bands.values())
        if len(floors) < 2 or any(a <= b for a, b in zip(floors, floors[1:], strict=False)):
            raise ValueError("bands need two or more grades with strictly decreasing minimums")
        if floors[-1] != float("-inf"):
            raise ValueError("the last grade must have minimum -.inf so every score gets a grade")
        return self


class SegmentConfig(_Strict):
    """Thresholds of the collection segments (see pipeline/portfolio/policy.py)."""

    high_pd: float = Field(0.5, gt=0, lt=1)
    high_utilisation: float = Field(0.8, gt=0)
    large_exposure: float = Field(500_000, gt=0)
    new_customer_months: int = Field(3, ge=1)
    tenure: str | None = None  # months-on-book column, where the data has one


class SparkConfig(_Strict):
    """The Spark engine of the nightly scorer (``delinq score --engine spark``).

    ``master: null`` uses the session spark-submit provides (on a cluster); ``conf`` is any
    Spark setting, e.g. ``spark.executor.instances`` (see docs/scaling.md).
    """

    master: str | None = "local[*]"
    conf: dict[str, str] = Field(default_factory=dict)


class ScoringConfig(_Strict):
    """The nightly batch scorer."""

    batch_rows: int = Field(65_536, ge=1_000)  # rows per record batch (and output row group)
    min_rows_fraction: float = Field(0.5, ge=0, le=1)  # refuse a book this much smaller
    # A night past these publishes nothing (exit 3; --force publishes it anyway): a broken
    # extract rejects most rows or loses whole columns, while a sound one rejects a few.
    max_reject_share: float = Field(0.05, ge=0, le=1)
    max_empty_inputs: int = Field(0, ge=0)  # inputs empty in every scored row
    psi_watch: float = Field(0.1, gt=0)
    psi_alert: float = Field(0.25, gt=0)
    model_uri: str = "models:/delinquency-risk@champion"
    output_dir: Path = Path("data/scores")
    engine: Literal["local", "spark"] = "local"
    spark: SparkConfig = SparkConfig()
    # A value past the range training saw (a status code above the highest shared one, an
    # amount far past the 99.9th percentile) is counted per column in the manifest, and the
    # row is scored or rejected: per column here, else `out_of_range_default`.
    out_of_range: dict[str, Literal["score", "reject"]] = Field(default_factory=dict)
    out_of_range_default: Literal["score", "reject"] = "score"
    # A second run for a date another live run is scoring: wait for it (true, `--wait`) or
    # stop at once with exit 5 (false).
    wait_for_lock: bool = False


class ExplainConfig(_Strict):
    """SHAP explanations and reason codes (see pipeline/explain/explainer.py)."""

    top_k: int = Field(3, ge=1, le=10)  # reason codes per loan
    reasons_in_scores: bool = True  # add reason codes to the nightly scoring output
    # Which scored rows get them: the rows whose action is not "none" (those a decision is
    # made about: about a fifth of a night, which then runs at 1.4x the speed of reasons for
    # every row; docs/benchmarks.md), or every row ("all"; `--reasons-for all`).
    reasons_for: Literal["all", "actioned"] = "actioned"
    sample_rows: int = Field(2_000, ge=50)  # rows behind the global plots
    dependence_plots: int = Field(4, ge=0)  # for the top features
    background: int = Field(20, ge=2)  # k-means centroids: the SVM and linear backgrounds
    # Input column (or history group) -> the words an analyst uses, e.g. PAY_0: "...".
    labels: dict[str, str] = Field(default_factory=dict)
    output_dir: Path = Path("data/explain")


class PanelBadConfig(_Strict):
    """The bad definition of a snapshot: this far past due within the performance window."""

    dpd_at_least: float = Field(90, gt=0)  # in the panel's status unit
    within_months: int = Field(12, ge=1)


class PanelConfig(_Strict):
    """A monthly performance panel: one row per account and month (`delinq snapshots`).

    Each snapshot row is an account at an observation month: its last ``history_months`` of
    status, balance and payment become the wide history columns today's features read, and
    the ``bad`` definition over the following months is its label.
    """

    id: str = "account_id"
    month: str = "month"  # any date in the month: 2026-03, 2026-03-01, 2026-03-31
    status: str = "dpd"
    status_unit: Literal["months", "days"] = "days"
    balance: str | None = None
    payment: str | None = None
    limit: str | None = None
    origination: str | None = None  # the account's first month if absent
    static: list[str] = Field(default_factory=list)  # attributes taken at the observation month
    history_months: int = Field(6, ge=2, le=36)
    bad: PanelBadConfig = PanelBadConfig()
    # Observation months (YYYY-MM); empty: every month with a full history and window.
    observations: list[str] = Field(default_factory=list)
    # Left out of a snapshot, and counted: already bad at the observation month; younger
    # than this many months on book.
    exclude_already_bad: bool = True
    min_months_on_book: int = Field(6, ge=0)


class ArrearsConfig(_Strict):
    """Days past due from a repayment schedule and payments (`delinq arrears`; the rules are in
    pipeline/book/arrears.py). Column names are those of the two input files."""

    id: str = "account_id"  # in both files
    due_date: str = "due_date"
    amount_due: str = "amount_due"
    payment_date: str = "payment_date"
    amount: str = "amount"  # a negative amount reverses an earlier payment
    product: str | None = None  # a schedule column naming each account's product
    # Days counted as calendar days (自然日) or China's working days (工作日, holidays and
    # make-up working days from chinesecalendar); per product where the product is named.
    day_count: Literal["calendar", "working"] = "calendar"
    day_count_by_product: dict[str, Literal["calendar", "working"]] = Field(default_factory=dict)
    # An instalment paid within this many days (of its day count) after its due date is on time.
    grace_days: int = Field(0, ge=0, le=90)
    # An unpaid remainder of at most this amount is not overdue (rounding, small fees).
    tolerance: float = Field(0.0, ge=0)
    # Paid beyond what is due up to the next due date: kept as credit for later instalments
    # (carry), or returned to the customer and not counted (refund).
    overpayment: Literal["carry", "refund"] = "carry"
    # A payment dated before the account's first due date: allowed (kept as credit) or an error.
    payments_before_first_due: Literal["allow", "error"] = "allow"


class CreditConfig(_Strict):
    """Limits and risk-based prices from the calibrated PD (`delinq decide`; the rules are in
    pipeline/portfolio/credit.py). Rates are annual shares of the drawn balance."""

    # The months the model's PD covers (its target's window): PDs are made yearly for the
    # expected loss and the prices, as 1 - (1 - PD) ^ (12 / months).
    pd_horizon_months: int = Field(12, ge=1, le=60)
    lgd: float = Field(0.65, gt=0, le=1)  # loss given default
    ccf: float = Field(0.5, ge=0, le=1)  # credit-conversion factor on the undrawn limit
    funding_rate: float = Field(0.03, ge=0, lt=1)
    operating_cost_rate: float = Field(0.02, ge=0, lt=1)
    margin: float = Field(0.03, ge=0, lt=1)
    # The highest annual rate the law allows (a cap on every price): 24 % is the ceiling
    # Chinese courts and regulators hold consumer credit to; set your jurisdiction's.
    max_rate: float = Field(0.24, gt=0, le=1)
    # Limit actions, first that applies: freeze (no new drawing) from this PD or this DPD
    # bucket; cut by cut_factor from cut_from_pd; raise by raise_factor up to pd_for_raise
    # when current and used at least raise_min_utilisation; otherwise hold.
    freeze_from_pd: float = Field(0.35, gt=0, lt=1)
    freeze_from_bucket: Literal["1-30", "31-60", "61-90", "90+"] = "31-60"
    cut_from_pd: float = Field(0.15, gt=0, lt=1)
    cut_factor: float = Field(0.7, gt=0, lt=1)
    raise_up_to_pd: float = Field(0.03, gt=0, lt=1)
    raise_min_utilisation: float = Field(0.6, ge=0)
    raise_factor: float = Field(1.2, gt=1)
    max_raise: float = Field(50_000, gt=0)  # at most this much more in one step
    max_limit: float = Field(500_000, gt=0)  # no raise goes past this

    @model_validator(mode="after")
    def _ordered(self) -> CreditConfig:
        if not self.raise_up_to_pd < self.cut_from_pd < self.freeze_from_pd:
            raise ValueError("need raise_up_to_pd < cut_from_pd < freeze_from_pd")
        return self


class DelinquentTypesConfig(_Strict):
    """Delinquent-customer types and their treatments (pipeline/portfolio/delinquent_types.py).

    Rules over the payment history, first match: stubborn (顽固性), structural (固有性), else
    temporary (临时性). Optional columns sharpen them where the book has them."""

    stubborn_unpaid_months: int = Field(2, ge=1)  # no payment in this many recent months...
    stubborn_from_bucket: Literal["31-60", "61-90", "90+"] = "31-60"  # ...this late, and rising
    broken_promises: str | None = None  # a column: promises to pay not kept (contact data)
    stubborn_broken_promises: int = Field(2, ge=1)
    structural_pay_ratio: float = Field(0.8, gt=0, le=1)  # paying, but under this share of due
    structural_late_months: int = Field(3, ge=1)  # late in this many months of the history
    income: str | None = None  # a column: monthly income, for the affordability check
    # Treatments: a grace period for the temporary; a restructured instalment of at most this
    # share of income (else of what the account has been paying) over at most max_term_months
    # for the structural; escalation with a person's review for the stubborn.
    grace_days: int = Field(7, ge=0, le=60)
    affordable_share: float = Field(0.3, gt=0, le=1)
    max_term_months: int = Field(36, ge=1, le=120)


class RejectInferenceConfig(_Strict):
    """Reject inference for application scoring (`delinq reject-inference`;
    models/reject_inference.py). The default method won on the simulated through-the-door
    populations of benchmarks/reject_inference.py (docs/benchmarks.md)."""

    method: Literal["accepts_only", "parcelling", "fuzzy", "hard_cutoff"] = "hard_cutoff"
    uplift: float = Field(1.5, ge=1)  # rejects' bad rate over accepts' who score the same
    bands: int = Field(10, ge=2, le=50)  # score bands of parcelling


class ChannelConfig(_Strict):
    """One collection action: its cost per account, its daily capacity (accounts; none for
    unlimited) and the prior chance it cures an account, per DPD bucket. An action with no
    prior for a bucket is not used on that bucket."""

    cost: float = Field(ge=0)
    capacity: int | None = Field(None, ge=0)
    cure: dict[Literal["1-30", "31-60", "61-90", "90+"], float] = Field(min_length=1)

    @field_validator("cure")
    @classmethod
    def _shares(cls, v: dict) -> dict:
        if any(not 0 <= p <= 1 for p in v.values()):
            raise ValueError("cure chances are shares between 0 and 1")
        return v


def _default_channels() -> dict[str, ChannelConfig]:
    # Priors until outcome data exist: chance that the account is current again within the
    # backtest window, per DPD bucket (illustrative; replace with your measured cure rates).
    rows = {
        "sms_reminder": (0.05, None, (0.30, 0.10, 0.04, 0.01)),
        "call": (2.0, 5_000, (0.42, 0.22, 0.10, 0.03)),
        "repayment_plan": (8.0, 1_500, (0.45, 0.30, 0.18, 0.06)),
        "restructuring_offer": (25.0, 600, (None, 0.35, 0.28, 0.12)),
        "field_visit": (60.0, 200, (None, 0.32, 0.25, 0.12)),
        "legal": (400.0, 50, (None, None, 0.20, 0.18)),
        "outsourced_collection": (150.0, 1_000, (None, None, 0.15, 0.14)),
    }
    buckets = ("1-30", "31-60", "61-90", "90+")
    return {
        name: ChannelConfig(
            cost=cost,
            capacity=cap,
            cure={b: p for b, p in zip(buckets, cure, strict=True) if p is not None},
        )
        for name, (cost, cap, cure) in rows.items()
    }


TYPE_RESPONSE = {
    "temporary": {"none": 1.3, "sms_reminder": 1.3, "call": 1.1, "field_visit": 0.8,
                  "legal": 0.5, "outsourced_collection": 0.6},
    "structural": {"none": 0.7, "sms_reminder": 0.6, "call": 0.8, "repayment_plan": 1.4,
                   "restructuring_offer": 1.6, "legal": 0.6},
    "stubborn": {"none": 0.4, "sms_reminder": 0.3, "call": 0.5, "repayment_plan": 0.4,
                 "restructuring_offer": 0.4, "field_visit": 1.2, "legal": 1.3,
                 "outsourced_collection": 1.1},
}  # fmt: skip


class CollectionConfig(_Strict):
    """Collection actions chosen by expected recovery under each channel's daily capacity
    (`delinq decide`; pipeline/portfolio/assignment.py)."""

    channels: dict[str, ChannelConfig] = Field(default_factory=_default_channels)
    # The chance an account cures with no action, per bucket: what every action must beat.
    self_cure: dict[Literal["1-30", "31-60", "61-90", "90+"], float] = Field(
        default_factory=lambda: {"1-30": 0.22, "31-60": 0.06, "61-90": 0.02, "90+": 0.005}
    )
    # Accounts in the challenger cells (stable per account and seed): half held back with no
    # action, half given another allowed action at random, so each action's uplift can be
    # measured once outcomes mature.
    challenger_share: float = Field(0.05, ge=0, le=0.5)
    seed: int = 7
    # How each delinquent-customer type (delinquent_types:) answers an action, as a factor on
    # its cure prior ("none": curing by itself): a reminder suits a slip, a restructuring
    # offer a customer who cannot pay as agreed, escalation one who will not. Absent: 1.
    type_response: dict[Literal["temporary", "structural", "stubborn"], dict[str, float]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in TYPE_RESPONSE.items()}
    )
    # Hard limits, if the policy wants them: the only actions a type may get (absent: any).
    actions_by_type: dict[Literal["temporary", "structural", "stubborn"], list[str]] = Field(
        default_factory=dict
    )

    @model_validator(mode="after")
    def _known_actions(self) -> CollectionConfig:
        named = [(f"actions_by_type.{k}", v) for k, v in self.actions_by_type.items()]
        named += [(f"type_response.{k}", list(v)) for k, v in self.type_response.items()]
        for key, actions in named:
            unknown = [a for a in actions if a not in self.channels and a != "none"]
            if unknown and (key.startswith("actions") or "type_response" in self.model_fields_set):
                raise ValueError(
                    f"{key}: {unknown[0]!r} is not a channel (channels: {', '.join(self.channels)})"
                )
        if any(f < 0 for v in self.type_response.values() for f in v.values()):
            raise ValueError("type_response: factors are never below zero")
        return self


class PanelOutcomesConfig(_Strict):
    """How `delinq backtest --panel` reads a monthly performance panel and defines bad: at
    least ``bad_at_least`` past due (in ``unit``) in the ``within_months`` after the night."""

    id: str = "account_id"
    month: str = "month"  # any date in the month (2026-03, 2026-03-31)
    dpd: str = "dpd"
    unit: Literal["days", "months"] = "days"
    bad_at_least: float = Field(90, gt=0)
    within_months: int = Field(12, ge=1)


class MonitorConfig(_Strict):
    """`delinq monitor` (two nights compared) and `delinq backtest` (matured outcomes)."""

    # The early-warning watchlist: a PD up by this much (absolute), or to this multiple of
    # the previous night's, or this many grades worse.
    pd_rise: float = Field(0.05, gt=0, lt=1)
    pd_ratio: float = Field(2.0, gt=1)
    grades_down: int = Field(2, ge=1)
    # With the two nights' books, the watchlist's worst accounts (at most this many) get the
    # inputs that drove their rise, by the change in their SHAP contributions.
    explain_rows: int = Field(10_000, ge=1)
    output_dir: Path = Path("data/monitor")
    panel: PanelOutcomesConfig = PanelOutcomesConfig()


class TrackingConfig(_Strict):
    experiment: str = "delinquency-risk"
    model_name: str = "delinquency-risk"
    store_dir: Path = Path("data/mlflow")


# The collection policy used when a config names none.
DEFAULT_POLICY = Path("configs/collection_policy.yaml")


def default_policy() -> Path:
    """``configs/collection_policy.yaml`` of the working folder, else the repository's own.

    A config written elsewhere (or none: ``delinq train --data X --target Y``) still gets
    the shipped policy, so the model card and the nightly actions do not fail on a path.
    """
    if DEFAULT_POLICY.exists():
        return DEFAULT_POLICY
    return Path(__file__).resolve().parents[1] / DEFAULT_POLICY


class Config(_Strict):
    """The whole training configuration."""

    seed: int = 42
    data: DataConfig = DataConfig()
    preprocess: PreprocessConfig = PreprocessConfig()
    selection: SelectionConfig = SelectionConfig()
    imbalance: ImbalanceConfig = ImbalanceConfig()
    models: ModelsConfig = ModelsConfig()
    cv: CVConfig = CVConfig()
    champion: ChampionConfig = ChampionConfig()
    promotion: PromotionConfig = PromotionConfig()
    fairness: FairnessConfig = FairnessConfig()
    tracking: TrackingConfig = TrackingConfig()
    scorecard: ScorecardConfig = ScorecardConfig()
    segments: SegmentConfig = SegmentConfig()
    policy: Path = Field(default_factory=default_policy)
    scoring: ScoringConfig = ScoringConfig()
    explain: ExplainConfig = ExplainConfig()
    monitor: MonitorConfig = MonitorConfig()
    panel: PanelConfig = PanelConfig()
    arrears: ArrearsConfig = ArrearsConfig()
    credit: CreditConfig = CreditConfig()
    delinquent_types: DelinquentTypesConfig = DelinquentTypesConfig()
    reject_inference: RejectInferenceConfig = RejectInferenceConfig()
    collection: CollectionConfig = CollectionConfig()
    output_dir: Path = Path("data/runs")

    @model_validator(mode="after")
    def _families_unique(self) -> Config:
        if len(set(self.models.families)) != len(self.models.families):
            raise ValueError("models.families lists a family twice")
        return self


def _format_errors(err: ValidationError, section: str | None = None) -> str:
    """Every complaint on one line: ``key: message; key: message``."""
    parts = []
    for e in err.errors():
        key = ".".join(str(p) for p in ([section] if section else []) + list(e["loc"]))
        key = key or "(top level)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        msg = msg.removeprefix("Value error, ")
        parts.append(msg if msg.startswith(f"{key}.") else f"{key}: {msg}")
    return "; ".join(parts)


def load_config(path: Path | None) -> Config:
    """Read and validate a YAML config; ``None`` gives the built-in defaults."""
    if path is None:
        return Config()
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: invalid configuration: {_format_errors(exc)}") from None
    policy = _beside(cfg.policy, path)
    if "policy" not in raw and not policy.exists():  # none named: the one the package ships
        policy = default_policy()
    update = {"policy": policy}
    if cfg.data.path is not None:
        update["data"] = cfg.data.model_copy(update={"path": _beside(cfg.data.path, path)})
    return cfg.model_copy(update=update)


def _beside(file: Path, config: Path) -> Path:
    """A relative ``file`` named in ``config``, found from wherever the command runs.

    Tried from the working folder first (the meaning it always had), then from the config's
    folder and the one above it (``configs/train.yaml`` names ``configs/...`` from the
    repository), so a scheduler that starts ``delinq score -c /abs/configs/train.yaml`` from
    its own folder finds the same file. Left as given when none exists: the reader names it.
    """
    if file.is_absolute() or file.exists():
        return file
    here = Path(config).resolve().parent
    found = next((d / file for d in (here, here.parent) if (d / file).exists()), None)
    return found or file


def find_config(start: Path | None = None) -> tuple[Config, Path]:
    """The config of $DELINQ_CONFIG, else configs/train.yaml in ``start`` or a parent folder.

    For notebooks, which run from notebooks/. Returns (config, repository or config folder):
    relative paths in the config are meant from there.
    """
    import os

    named = os.environ.get("DELINQ_CONFIG")
    if named:
        return load_config(Path(named)), Path(named).resolve().parent
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "configs" / "train.yaml").exists():
            return load_config(folder / "configs" / "train.yaml"), folder
    raise ConfigError(f"no configs/train.yaml in {here} or above; set DELINQ_CONFIG")


def with_overrides(config: Config, **changes: dict) -> Config:
    """Return a copy of ``config`` with nested sections updated (e.g. ``data={"target": "y"}``)."""
    updates = {}
    for section, values in changes.items():
        current = getattr(config, section)
        if not values:
            updates[section] = current
            continue
        try:  # validated like the YAML: an option's value obeys the same rules
            updates[section] = type(current).model_validate({**dict(current), **values})
        except ValidationError as exc:
            raise ConfigError(f"invalid option: {_format_errors(exc, section)}") from None
    return config.model_copy(update=updates)
