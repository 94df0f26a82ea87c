"""The ``delinq`` command line, one command per job.

train, make-book, analyze, explain, report, score, promote, arrears and mlflow-server; ``delinq
COMMAND --help`` explains each. Every command parses the config once and passes it down.
"""

from __future__ import annotations

import atexit
import enum
import functools
import gc
import sys
import warnings
from pathlib import Path

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from delinq.pipeline.book.io import DataError, adapt_to_columns, read_table, validate
from delinq.pipeline.config import Config, ConfigError, load_config, with_overrides

DEFAULT_CONFIG = Path("configs/train.yaml")

app = typer.Typer(
    help="Delinquency risk scoring: train and compare models, manage the champion, simulate books.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True, soft_wrap=True)  # messages stay whole lines in logs


@app.callback()
def _command_process() -> None:
    # The commands write charts to files and never show a window: draw off-screen, whatever
    # the desktop offers. Chosen here, once per process, not by the plotting code, so a
    # notebook that calls the same functions keeps its inline display.
    import matplotlib

    matplotlib.use("Agg")
    # A run that fails (e.g. its tracking server went away) leaves the refit and plots of
    # its worker processes unread: that is expected, not worth joblib's warning.
    warnings.filterwarnings("ignore", message=".*tasks have been successfully executed")
    # A process about to end needs no last garbage collection: over the millions of objects
    # MLflow, scikit-learn and matplotlib leave, it took 1.9 s of every training's exit.
    atexit.register(gc.freeze)


def _settled() -> None:
    """Stop the garbage collector from scanning what exists now (the imported libraries and
    the data read) again and again: a Taiwan training's main process spent 6.8 s in
    collections, 1.9 s of it at exit; 4.3 s with this and the freeze at exit."""
    gc.collect()
    gc.freeze()


CONFIG_OPTION = typer.Option(
    None, "--config", "-c", help=f"YAML config. Default: {DEFAULT_CONFIG} if present."
)

MODEL_URI_OPTION = typer.Option(
    None, "--model-uri", help="Default models:/delinquency-risk@champion (scoring.model_uri)."
)


def _config_with_data(config: Path | None, data: Path | None) -> Config:
    """The config (see :func:`_config_path`), reading ``data`` instead of its data.path.

    A ``data`` that does not exist is an error even where the command may not need to read it.
    """
    if data is not None and not Path(data).exists():
        raise DataError(f"{data}: file not found")
    cfg = load_config(_config_path(config))
    return with_overrides(cfg, data={"path": data}) if data is not None else cfg


SCORES_OPTION = typer.Option(
    None, "--scores", "-s", help="Output root of delinq score (default scoring.output_dir)."
)
SEP_OPTION = typer.Option(
    None,
    "--sep",
    help="Delimiter of CSV input, e.g. ';' or '\\t' for tab. Default: data.sep, else detected "
    "from the header among , ; tab and |.",
)


def _separator(sep: str | None) -> str | None:
    """``--sep`` as given on a shell line: ``\\t`` and ``tab`` mean a tab."""
    return "\t" if sep in ("\\t", "tab", "TAB") else sep


def _config_path(config: Path | None) -> Path | None:
    """The config to use: the one given, else configs/train.yaml if present, else defaults."""
    if config is not None:
        return config
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def _friendly_errors(func):
    """Turn expected failures into one clear red line and exit code 2 (no traceback)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from delinq.pipeline.explain.explainer import ExplainError
        from delinq.pipeline.monitor.job import MonitorError
        from delinq.pipeline.registry.reference import ScoringReferenceError
        from delinq.pipeline.registry.tracking import TrackingError

        expected = (ConfigError, DataError, TrackingError, ScoringReferenceError, ExplainError)
        expected += (MonitorError,)
        try:
            return func(*args, **kwargs)
        except expected as exc:
            console.print(f"[bold red]error:[/] {exc}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper


def _progress(label: str) -> Progress:
    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


class _RichReporter:
    """Shows training stages as lines and cross-validation as a progress bar."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.task = None

    def stage(self, text: str) -> None:
        self.progress.console.print(f"[cyan]»[/] {text}")

    def cv_started(self, total_folds: int) -> None:
        self.task = self.progress.add_task("fitting folds", total=total_folds)

    def fold_done(self, family: str) -> None:
        self.progress.update(self.task, advance=1, description=f"fitting folds ({family} done)")

    def warn(self, text: str) -> None:
        self.progress.console.print(f"[bold yellow]warning:[/] {text}", highlight=False)


def _comparison_table(comparison, champion: str) -> Table:
    from delinq.models.candidates import REFERENCE

    table = Table(title="Cross-validated comparison (mean ± std over folds)")
    table.add_column("model")
    columns = [
        ("roc_auc", "AUC"),
        ("roc_auc_ci", "AUC 95% CI"),
        ("roc_auc_lift_vs_reference", "lift"),
        ("gini", "Gini"),
        ("ks", "KS"),
        ("pr_auc", "PR-AUC"),
        ("f1", "F1*"),
        ("precision", "Prec*"),
        ("recall", "Recall*"),
        ("brier", "Brier"),
        ("log_loss", "LogLoss"),
        ("fit_seconds", "fit s"),
    ]
    for _, label in columns:
        table.add_column(label, justify="right")
    for family, row in comparison.iterrows():
        name = f"[bold green]{family} ★[/]" if family == champion else str(family)
        if family == REFERENCE:
            name = "[dim]plain reference[/]"
        table.add_row(name, *(_cell(row, m) for m, _ in columns))
    table.caption = (
        "* at the F1-optimal threshold chosen on each fold's training rows. ★ champion. "
        "lift: AUC minus the plain reference's (plain XGBoost, same folds). "
        "CI: bootstrap of the out-of-fold predictions."
    )
    return table


def _fairness_table(fairness) -> Table:
    table = Table(title="Champion by protected group (out-of-fold PD)")
    for label in ("attribute", "group"):
        table.add_column(label)
    for label in ("rows", "bad rate", "mean PD", "AUC", "flagged", "impact ratio"):
        table.add_column(label, justify="right")
    for row in fairness.itertuples():
        ratio = "" if row.impact_ratio != row.impact_ratio else f"{row.impact_ratio:.2f}"
        table.add_row(
            row.attribute,
            row.group,
            f"{row.rows:,}",
            f"{row.bad_rate:.1%}",
            f"{row.mean_pd:.1%}",
            "" if row.auc is None or row.auc != row.auc else f"{row.auc:.3f}",
            f"{row.flagged_share:.1%}",
            f"[red]{ratio}[/]" if row.impact_ratio < 0.8 else ratio,
        )
    table.caption = (
        "flagged: at each fold's threshold. impact ratio: share not flagged over the most "
        "favoured group's; under 0.8 (four-fifths rule) is adverse impact."
    )
    return table


def _cell(row, metric: str) -> str:
    if metric == "roc_auc_ci":
        if "roc_auc_ci_low" not in row:
            return ""
        return f"{row['roc_auc_ci_low']:.3f}-{row['roc_auc_ci_high']:.3f}"
    if metric == "roc_auc_lift_vs_reference":
        return f"{row[metric]:+.4f}" if metric in row else ""
    if metric in ("roc_auc", "ks"):
        return f"{row[f'{metric}_mean']:.3f}±{row[f'{metric}_std']:.3f}"
    if metric == "fit_seconds":
        return f"{row[f'{metric}_mean']:.1f}"
    return f"{row[f'{metric}_mean']:.3f}"


def _data_notes(dataset) -> None:
    for note in dataset.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    for column, why in dataset.personal.items():
        console.print(
            f"[yellow]note:[/] column '{column}' kept out of the model inputs as personal data "
            f"({why}); list it in data.not_personal to use it",
            highlight=False,
        )


@app.command()
@_friendly_errors
def train(
    config: Path = typer.Option(
        None,
        "--config",
        "-c",
        help=f"YAML config. Default: {DEFAULT_CONFIG} if present, else built-in defaults.",
    ),
    data: Path = typer.Option(
        None, "--data", "-d", help="CSV or Parquet loan table. Default: a simulated loan book."
    ),
    target: str = typer.Option(None, help="Target column (1/0, true/false, or two labels)."),
    id_col: str = typer.Option(None, "--id", help="Unique row-id column (never a model input)."),
    positive_label: str = typer.Option(
        None, help="Target value that means default, e.g. 'bad', for text targets."
    ),
    experiment: str = typer.Option(None, help="MLflow experiment name."),
    quick: bool = typer.Option(False, "--quick", help="Skip hyper-parameter search (fast)."),
    seed: int = typer.Option(None, help="Random seed (folds, samplers, models)."),
    sep: str = SEP_OPTION,
    allow_few_bads: bool = typer.Option(
        False,
        "--allow-few-bads",
        help="Train even when the CV test folds hold fewer bads than cv.min_bads_per_fold "
        "(5): the version is registered, with a warning, and never promoted.",
    ),
) -> None:
    """Train and compare logreg, SVM, random forest, XGBoost and a scorecard; register the best.

    Cross-validates the whole pipeline (features, cleaning, resampling, selection, model) per
    family, prints and saves the comparison, refits and calibrates the champion, logs all to
    MLflow and registers it with alias 'challenger' (and 'champion' when the gates pass).
    """
    from delinq.pipeline.train.evaluate import CVError, warm_workers

    explicit = config is not None
    cfg = load_config(_config_path(config))
    cfg = _apply_options(cfg, data, target, id_col, positive_label, experiment, quick, seed, sep)
    if allow_few_bads:
        cfg = with_overrides(cfg, cv={"allow_few_bads": True})
    warm_workers(cfg.cv.n_jobs)  # the workers import while this process reads the data

    from delinq.pipeline.book.io import load_training_data
    from delinq.pipeline.train.job import TrainingError
    from delinq.pipeline.train.job import train as run_training

    if cfg.data.path is not None:
        frame = read_table(cfg.data.path, cfg.data.sep)
        data_cfg = cfg.data
        if not explicit:  # the default config meets a table it was not written for
            data_cfg, notes = adapt_to_columns(cfg.data, list(frame.columns))
            for note in notes:
                console.print(f"[yellow]note:[/] {note}")
        cfg = cfg.model_copy(update={"data": data_cfg})
        dataset = validate(frame, cfg.data, str(cfg.data.path))
    else:
        dataset = load_training_data(cfg)
    console.print(
        f"[bold]Data:[/] {dataset.source}: {len(dataset.y):,} rows, "
        f"{dataset.X.shape[1]} input columns ({len(dataset.categorical)} categorical), "
        f"bad rate {dataset.bad_rate:.2%}"
    )
    _data_notes(dataset)
    mode = (
        "no search (--quick)"
        if cfg.models.search.method == "none"
        else (
            f"{cfg.models.search.method.upper()} search (Optuna): the defaults and "
            f"{cfg.models.search.n_iter} trials x "
            f"{cfg.models.search.inner_folds} inner folds inside each outer fold"
        )
    )
    console.print(f"[bold]Tuning:[/] {mode}; imbalance: {cfg.imbalance.method}")

    _settled()
    try:
        with _progress("{task.description}") as progress:
            result = run_training(cfg, dataset, _RichReporter(progress))
    except (CVError, TrainingError) as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None

    # Wide enough for the table when piped to a file or CI log (rich assumes 80 columns there).
    wide = Console(width=None if sys.stdout.isatty() else 150)
    wide.print(_comparison_table(result.comparison, result.champion))
    if result.fairness is not None and not result.fairness.empty:
        wide.print(_fairness_table(result.fairness))
    row = result.comparison.loc[result.champion]
    lift = row.get("roc_auc_lift_vs_reference")
    lines = [
        f"Champion: [bold]{result.champion}[/] (CV AUC {row['roc_auc_mean']:.4f}"
        + (f", {lift:+.4f} over the plain reference" if lift is not None else "")
        + ")",
    ]
    if result.versus_runner_up is not None:
        runner_up, diff, p_value = result.versus_runner_up
        lines.append(
            f"Versus runner-up {runner_up}: AUC {diff:+.4f} on the same rows "
            f"(paired bootstrap p = {p_value:.3f})"
        )
    if result.out_of_time is not None:
        o = result.out_of_time
        lines.append(
            f"Out of time ({', '.join(result.out_of_time_months)}, {int(o['oot_rows']):,} rows "
            f"held out of training): AUC {o['oot_roc_auc']:.4f}, KS {o['oot_ks']:.3f}, mean PD "
            f"{o['oot_mean_pd']:.2%} vs bad rate {o['oot_bad_rate']:.2%}, score PSI "
            f"{o['oot_score_psi']:.3f}"
        )
    lines.append(f"Registered: models:/{result.model_name}/{result.version} (alias challenger)")
    _log_card(cfg, result.model_name, result.version)
    if result.promotion is not None:
        verdict = (
            "[green]promoted to champion[/]"
            if result.promotion.promote
            else "[yellow]not promoted[/]"
        )
        lines.append(f"Promotion: {verdict}: {result.promotion.reason}")
    lines += [
        f"MLflow run: {result.run_id} in {result.tracking_uri}",
        f"Files: {result.output_dir}/ (comparison.csv, plots, feature-selection reports)",
        "Browse: make ui",
    ]
    if result.warnings:
        lines.append(f"[yellow]{len(result.warnings)} warning(s)[/], printed above")
    for line in lines:
        console.print(line, highlight=False)


def _log_card(cfg: Config, name: str, version: str) -> None:
    """Log the version's model card to its run; a card that fails is a warning, not a failed
    training (the version is registered by then)."""
    from delinq.pipeline.card import log_card

    try:
        log_card(cfg, f"models:/{name}/{version}")
    except Exception as exc:  # noqa: BLE001 - the card must not undo a registration
        console.print(
            f"[yellow]warning:[/] the model card of version {version} was not logged "
            f"({type(exc).__name__}); run `delinq card --model-uri models:/{name}/{version}`",
            highlight=False,
        )


def _apply_options(
    cfg: Config,
    data: Path | None,
    target: str | None,
    id_col: str | None,
    positive_label: str | None,
    experiment: str | None,
    quick: bool,
    seed: int | None,
    sep: str | None = None,
) -> Config:
    data_changes = {
        k: v
        for k, v in {
            "sep": _separator(sep),
            "path": data,
            "target": target,
            "id": id_col,
            "positive_label": positive_label,
        }.items()
        if v is not None
    }
    changes: dict = {"data": data_changes}
    if experiment:
        changes["tracking"] = {"experiment": experiment}
    if quick:
        changes["models"] = {"search": cfg.models.search.model_copy(update={"method": "none"})}
    cfg = with_overrides(cfg, **changes)
    return cfg.model_copy(update={"seed": seed}) if seed is not None else cfg


@app.command("make-book")
@_friendly_errors
def make_book(
    rows: int = typer.Option(None, "--rows", "-n", min=1, help="Number of accounts."),
    out: Path = typer.Option(..., "--out", "-o", help="Output file (.parquet or .csv)."),
    seed: int = typer.Option(0, help="Seed; the same rows and seed give the same book."),
    panel: bool = typer.Option(
        False,
        "--panel",
        help="A monthly performance panel instead: one row per account and "
        "month (Parquet), for `delinq snapshots`.",
    ),
    ledger: bool = typer.Option(
        False,
        "--ledger",
        help="Instalment schedules and payments instead, for `delinq arrears`: --out is a "
        "folder that gets schedule.parquet and payments.parquet.",
    ),
    accounts: int = typer.Option(
        None, "--accounts", min=1, help="--panel, --ledger: number of accounts."
    ),
    months: int = typer.Option(
        36, "--months", min=2, help="--panel: number of months; --ledger: instalments."
    ),
    start: str = typer.Option(
        "2023-01", "--start", help="--panel, --ledger: first month, YYYY-MM."
    ),
    shock_month: str = typer.Option(
        None,
        "--shock-month",
        help="--panel: from this month (YYYY-MM) a hidden third of the "
        "accounts runs 2.5x riskier and balances grow: something for out-of-time checks to find.",
    ),
) -> None:
    """Write a simulated loan book in the Taiwan credit-card schema, (--panel) a monthly
    performance panel, or (--ledger) instalment schedules with their payments.

    Accounts have a latent risk; monthly repayment status follows a roll-rate chain; the
    target is default next month. Written in chunks, so ten million rows take seconds. With
    --panel, accounts open in monthly cohorts, roll, cure, charge off at 6 months late or
    close; columns account_id, month, status (months late), balance, payment, limit,
    origination, as `panel:` in configs/panel.yaml reads them.
    """
    from delinq.pipeline.book.simulate import write_book

    if ledger:
        from delinq.pipeline.book.simulate_ledger import write_ledger

        if accounts is None:
            raise typer.BadParameter("give --accounts N with --ledger", param_hint="--accounts")
        with console.status(f"Simulating {accounts:,} schedules and their payments..."):
            files = write_ledger(out, accounts, months, start, seed)
        console.print(
            f"Wrote {', '.join(map(str, files))}\nNext: delinq arrears -c configs/arrears.yaml "
            f"--schedule {files[0]} --payments {files[1]}",
            highlight=False,
        )
        return
    if panel:
        from delinq.pipeline.book.simulate_panel import write_panel

        if accounts is None:
            raise typer.BadParameter("give --accounts N with --panel", param_hint="--accounts")
        if out.suffix.lower() != ".parquet":
            raise typer.BadParameter(f"{out}: a panel is written as .parquet", param_hint="--out")
        try:
            with _progress("writing {task.fields[name]}") as progress:
                task = progress.add_task("panel", total=accounts, name=out.name)
                write_panel(
                    out,
                    accounts,
                    months,
                    start,
                    seed,
                    shock_month,
                    progress=lambda n: progress.advance(task, n),
                )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        console.print(f"Wrote {accounts:,} accounts over {months} months to {out}")
        return
    if rows is None:
        raise typer.BadParameter("give --rows N (or --panel --accounts N)", param_hint="--rows")
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise typer.BadParameter(f"{out}: use a .parquet or .csv file name", param_hint="--out")
    with _progress("writing {task.fields[name]}") as progress:
        task = progress.add_task("book", total=rows, name=out.name)
        write_book(out, rows, seed, progress=lambda n: progress.advance(task, n))
    console.print(f"Wrote {rows:,} accounts to {out}")


@app.command()
@_friendly_errors
def analyze(
    config: Path = CONFIG_OPTION,
    data: Path = typer.Option(
        None, "--data", "-d", help="CSV or Parquet loan table. Default: a simulated loan book."
    ),
    out: Path = typer.Option(Path("data/analysis"), "--out", "-o", help="Output folder."),
    panel: Path = typer.Option(
        None,
        "--panel",
        help="A monthly performance panel (file or folder of monthly files, layout in the "
        "config's panel: section): vintage curves, ever 30+/60+/90+ by months on book.",
    ),
) -> None:
    """Portfolio analytics: aging by DPD bucket, roll-rate matrix, bad rate by bucket and segment.

    Needs a monthly payment history (data.history in the config). Writes CSV tables and PNG
    charts (roll-rate heatmap, stacked aging bars, bad-rate bars) to --out. With --panel:
    vintage curves of the panel's origination cohorts instead (vintage*.csv, vintage.png).
    """
    from delinq.pipeline.book.io import load_training_data
    from delinq.pipeline.portfolio.job import analyze_portfolio

    if panel is not None:
        from delinq.pipeline.book.panel import panel_parts
        from delinq.pipeline.portfolio.vintage import (
            total_counts,
            write_bad_definition,
            write_vintage,
        )

        cfg = load_config(_config_path(config))
        unit = cfg.panel.status_unit
        out.mkdir(parents=True, exist_ok=True)
        with console.status("Reading the panel..."):
            book = total_counts(panel_parts(panel, cfg.panel, cfg.data.sep, scratch=out), unit)
        files = write_vintage(book, unit, out)
        advice, more = write_bad_definition(book, out)
        cures = pd.read_csv(out / "cure_rates.csv", index_col=0)
        table = Table(title="Cure rates: accounts first reaching each bucket, current again")
        for column in ("bucket", *cures.columns):
            left = column == "bucket"
            table.add_column(column.replace("_", " "), justify="left" if left else "right")
        for bucket, (reached, cured, rate) in cures.iterrows():
            table.add_row(str(bucket), f"{int(reached):,}", f"{int(cured):,}", f"{rate:.1%}")
        Console(width=None if sys.stdout.isatty() else 120).print(table)
        console.print(
            f"{book.accounts:,} accounts over {len(book.months)} months "
            f"({book.months[0]} to {book.months[-1]}); {book.gaps:,} gap month(s) filled "
            f"from the month before.\nRecommended: {advice}\nWrote "
            f"{', '.join(f.name for f in [*files, *more])} to {out}/",
            highlight=False,
        )
        return
    cfg = _config_with_data(config, data)
    dataset = load_training_data(cfg)
    files = analyze_portfolio(cfg, dataset, out)
    rates = pd.read_csv(out / "roll_rates.csv", index_col=0)
    table = Table(title=f"Roll rates, {dataset.source} (row: last month, column: this month)")
    table.add_column("from")
    for col in rates.columns:
        table.add_column(col, justify="right")
    for bucket, row in rates.iterrows():
        cells = [f"{v:.1%}" if c != "accounts" else f"{int(v):,}" for c, v in row.items()]
        table.add_row(str(bucket), *cells)
    Console(width=None if sys.stdout.isatty() else 120).print(table)
    types = pd.read_csv(out / "delinquent_types.csv", index_col=0)
    shown = Table(title="Delinquent customers by type (the bad rate that followed)")
    for column in ("type", "accounts", "share of late", "bad rate", "treatment"):
        shown.add_column(column, justify="right" if column in ("accounts", "bad rate") else "left")
    for kind, row in types.iterrows():
        shown.add_row(
            str(kind),
            f"{int(row['accounts']):,}",
            f"{row['share_of_late']:.1%}",
            f"{row['bad_rate']:.1%}",
            str(row["treatment"]),
        )
    Console(width=None if sys.stdout.isatty() else 120).print(shown)
    console.print(f"Wrote {len(files)} files to {out}/: " + ", ".join(f.name for f in files))


@app.command()
@_friendly_errors
def explain(
    config: Path = CONFIG_OPTION,
    data: Path = typer.Option(
        None, "--data", "-d", help="Loan table to explain. Default: the config's training data."
    ),
    loan_id: list[str] = typer.Option(
        None, "--loan-id", "-l", help="Draw a waterfall for this loan id (repeatable)."
    ),
    model_uri: str = MODEL_URI_OPTION,
    rows: int = typer.Option(None, "--rows", min=50, help="Rows behind the global plots."),
    out: Path = typer.Option(None, "--out", "-o", help="Output folder (default data/explain)."),
    log: bool = typer.Option(True, help="Log the global plots to the champion's MLflow run."),
) -> None:
    """Explain the champion with SHAP: what drives scores overall, and why for one loan.

    Writes mean-|SHAP| bars, a beeswarm and dependence plots of the top inputs (logged to the
    champion's MLflow run under explain/), plus a waterfall and reason codes for each --loan-id
    (kept local: they show a person's values). Contributions are summed back to the input
    columns, with derived history features grouped (see pipeline/explain/explainer.py).
    """
    from delinq.pipeline.explain.job import explain_champion

    cfg = _config_with_data(config, data)
    if rows is not None:
        cfg = with_overrides(cfg, explain={"sample_rows": rows})
    out = out or cfg.explain.output_dir
    with _progress("{task.description}") as progress:
        progress.add_task("loading data and the champion, explaining", total=None)
        result = explain_champion(cfg, model_uri or cfg.scoring.model_uri, out, loan_id, log)
    table = Table(title=f"Top drivers of {result.model_name} v{result.version} ({result.family})")
    table.add_column("input")
    table.add_column("mean |SHAP|", justify="right")
    for _, row in result.importance.head(10).iterrows():
        table.add_row(row["label"], f"{row['mean_abs_shap']:.4f}")
    Console(width=None if sys.stdout.isatty() else 120).print(table)
    files = result.global_files + result.loan_files
    logged = f"; global plots logged to MLflow run {result.run_id}" if log else ""
    console.print(f"{result.method}, {result.rows:,} rows", highlight=False)
    console.print(f"Wrote {len(files)} files to {out}/{logged}", highlight=False)


@app.command()
@_friendly_errors
def report(
    config: Path = CONFIG_OPTION,
    data: Path = typer.Option(
        None, "--data", "-d", help="Loan table for SHAP plots if the champion has none yet."
    ),
    model_uri: str = MODEL_URI_OPTION,
    out: Path = typer.Option(
        Path("data/report/report.html"), "--out", "-o", help="The HTML file to write."
    ),
) -> None:
    """One self-contained HTML report of the champion that opens offline.

    Model comparison table, ROC/PR/calibration/KS curves, confusion matrices, the feature
    selection report, SHAP plots (made with `delinq explain` first if missing), aging and
    roll-rate views, and the drift summary of the last scoring run.
    """
    from delinq.pipeline.explain.job import explain_champion
    from delinq.pipeline.report import build_report

    cfg = _config_with_data(config, data)
    uri = model_uri or cfg.scoring.model_uri

    def explain_first() -> None:
        console.print("[cyan]»[/] The champion has no SHAP plots yet: explaining it first")
        explain_champion(cfg, uri, cfg.explain.output_dir)

    with _progress("{task.description}") as progress:
        progress.add_task("building the report", total=None)
        path = build_report(cfg, uri, out, explain=explain_first)
    console.print(f"Wrote {path} ({path.stat().st_size / 1e6:.1f} MB); open it in any browser")


class Engine(enum.StrEnum):
    """Where ``delinq score`` runs."""

    local = "local"
    spark = "spark"


@app.command()
def score(
    input_path: Path = typer.Option(
        ..., "--input", "-i", help="Loan book: CSV, Parquet, or a folder of Parquet files."
    ),
    output: Path = typer.Option(None, "--output", "-o", help="Output root (default data/scores)."),
    as_of: str = typer.Option(
        None,
        "--as-of",
        help="As-of date YYYY-MM-DD (default today); names the partition. Other ISO forms of a "
        "real date (20260131, 2026-W05-6) are written as YYYY-MM-DD.",
    ),
    model_uri: str = MODEL_URI_OPTION,
    config: Path = typer.Option(None, "--config", "-c", help="YAML config (scorecard, policy)."),
    force: bool = typer.Option(
        False,
        "--force",
        help="Publish an implausible night anyway: a book much smaller than the last, more "
        "rejects than scoring.max_reject_share, inputs empty in every row.",
    ),
    fail_on_drift: bool = typer.Option(
        False, "--fail-on-drift", help="Exit 4 when any PSI reaches the alert level."
    ),
    reasons: bool = typer.Option(
        None,
        "--reasons/--no-reasons",
        help="Add the top-k SHAP reason codes per loan (default: explain.reasons_in_scores).",
    ),
    engine: Engine = typer.Option(
        None,
        "--engine",
        help="local: stream batches in this process; spark: the same scoring as a Spark job "
        "(Parquet input; needs pip install -e '.[spark]' and Java). Default: scoring.engine.",
    ),
    spark_master: str = typer.Option(
        None,
        "--spark-master",
        help="Spark master for --engine spark, e.g. local[4] or spark://host:7077 "
        "(default: scoring.spark.master).",
    ),
    sep: str = SEP_OPTION,
    reasons_for: str = typer.Option(
        None,
        "--reasons-for",
        help="Which rows get reason codes: all, or actioned (action not 'none'; faster). "
        "Default: explain.reasons_for.",
    ),
    wait: bool = typer.Option(
        None,
        "--wait/--no-wait",
        help="When another run is scoring the same date into the same output: wait for it to "
        "finish, or stop at once with exit 5 (default: scoring.wait_for_lock, off).",
    ),
) -> None:
    """Score the whole loan book with the champion: PD, points, grade, bucket, segment, action.

    Streams the book in batches; rows with faults go to rejects.parquet with a reason; output
    goes to OUTPUT/as_of_date=DATE/ (scores.parquet, rejects.parquet, manifest.json, drift.png)
    and appears only when complete. Both engines run the same scoring function and give the
    same rows. Exit codes: 0 done, 2 input or model fault, 3 implausible night (a book much
    smaller than the last run's, too many rejects, an input empty in every row; see --force),
    4 drift alert with --fail-on-drift, 5 another run is scoring the same date into the same
    output (see --wait). With 2, 3 or 5 nothing is published and every earlier partition is
    left as it was.
    """
    import datetime as dt

    from delinq.pipeline.registry.reference import ScoringReferenceError
    from delinq.pipeline.registry.tracking import TrackingError
    from delinq.pipeline.score.batch import ScoringError
    from delinq.pipeline.score.local import score_book
    from delinq.pipeline.score.publish import canonical_date
    from delinq.pipeline.score.run import LockedError, SanityError

    try:
        cfg = load_config(_config_path(config))
        given = as_of
        try:
            as_of = dt.date.today().isoformat() if given is None else canonical_date(given)
        except ValueError:
            raise ScoringError(f"--as-of {given!r} is not a calendar date (YYYY-MM-DD)") from None
        if given not in (None, as_of):
            console.print(f"note: --as-of {given} is {as_of}", highlight=False)
        if sep is not None:
            cfg = with_overrides(cfg, data={"sep": _separator(sep)})
        if wait is not None:
            cfg = with_overrides(cfg, scoring={"wait_for_lock": wait})
        if reasons_for is not None:
            cfg = with_overrides(cfg, explain={"reasons_for": reasons_for})
        if spark_master:
            spark = cfg.scoring.spark.model_copy(update={"master": spark_master})
            cfg = with_overrides(cfg, scoring={"spark": spark})
        args = (input_path, output or cfg.scoring.output_dir, as_of)
        args += (model_uri or cfg.scoring.model_uri, cfg)
        if (engine.value if engine else cfg.scoring.engine) == "spark":
            from delinq.pipeline.score.spark import score_book_spark

            console.print("Scoring with Spark (Spark shows its stage progress below)")
            result = score_book_spark(*args, force=force, reasons=reasons)
        else:
            with _progress("scoring rows") as progress:
                task = progress.add_task("score", total=None)
                result = score_book(
                    *args,
                    force=force,
                    on_batch=lambda n: progress.advance(task, n),
                    reasons=reasons,
                )
    except SanityError as exc:
        console.print(f"[bold red]refused:[/] {exc} (nothing was published)", highlight=False)
        raise typer.Exit(3) from None
    except LockedError as exc:
        console.print(f"[bold red]refused:[/] {exc}", highlight=False)
        raise typer.Exit(5) from None
    except (ScoringError, ConfigError, DataError, TrackingError, ScoringReferenceError) as exc:
        console.print(f"[bold red]error:[/] {exc} (nothing was published)", highlight=False)
        raise typer.Exit(2) from None
    m = result.manifest
    rows = m["rows"]
    console.print(
        f"Scored {rows['scored']:,} of {rows['read']:,} rows with {m['model']['name']} "
        f"version {m['model']['version']}; rejected {rows['rejected']:,}"
        + (
            f" ({', '.join(f'{k}: {v}' for k, v in m['rejects_by_reason'].items())})"
            if rows["rejected"]
            else ""
        ),
        highlight=False,
    )
    psi = m["drift"]["score_psi"]
    console.print(
        f"Drift: {m['drift']['status']}" + (f" (score PSI {psi:.3f})" if psi is not None else "")
    )
    console.print(f"Published {result.partition}/ in {m['timings']['total_s']:.1f} s")
    if fail_on_drift and result.drift_alert:
        raise typer.Exit(4)


@app.command()
@_friendly_errors
def promote(
    config: Path = typer.Option(None, "--config", "-c", help="YAML config (gates, model name)."),
    allow_schema_change: bool = typer.Option(
        False,
        "--allow-schema-change",
        help="Promote a challenger whose input columns differ from the champion's (the change "
        "is recorded on the version).",
    ),
) -> None:
    """Move alias 'champion' to the current 'challenger' if the promotion gates pass.

    Gates: the challenger's CV AUC is at least promotion.min_auc and no worse than the current
    champion's minus promotion.tolerance, and its inputs are the champion's (unless
    --allow-schema-change). Exit code 3 when the gates refuse.
    """
    from delinq.pipeline.registry import tracking
    from delinq.pipeline.registry.promote import promote as run_promote

    cfg = load_config(_config_path(config))
    tracking.connect(cfg.tracking)
    decision, version = run_promote(cfg, allow_schema_change)
    name = cfg.tracking.model_name
    if not decision.already:  # the decision is part of the version's card
        _log_card(cfg, name, version)
    if decision.promote:
        console.print(f"[green]Promoted[/] {name} version {version} to champion: {decision.reason}")
    else:
        console.print(f"[yellow]Not promoted[/] ({name} version {version}): {decision.reason}")
        if not decision.already:
            raise typer.Exit(3)


@app.command()
@_friendly_errors
def card(
    config: Path = CONFIG_OPTION,
    model_uri: str = MODEL_URI_OPTION,
    out: Path = typer.Option(Path("data/card"), "--out", "-o", help="Output folder."),
) -> None:
    """Write the model card of a registered version (default: the champion) as Markdown and
    HTML.

    Generated from the registry and the training run, so it is always true of the version:
    purpose, data (file hash, rows, bad rate, bad definition), inputs used and excluded with
    reasons, CV performance with its spread, fairness, known limits, promotion decisions and
    gates, code commit and dependency-lock hash, and a personal-information section (PIPL).
    Training and promotion also log it to the version's MLflow run under card/.
    """
    from delinq.pipeline.card import build_card, write_card

    cfg = load_config(_config_path(config))
    built = build_card(cfg, model_uri or cfg.scoring.model_uri)
    files = write_card(built, out)
    console.print(
        f"Wrote the card of {built.name} version {built.version}: "
        + ", ".join(str(f) for f in files),
        highlight=False,
    )


@app.command()
@_friendly_errors
def monitor(
    as_of: str = typer.Option(..., "--as-of", help="The night to compare with the one before."),
    scores: Path = SCORES_OPTION,
    config: Path = CONFIG_OPTION,
    log: bool = typer.Option(True, help="Log the aggregates to the model version's MLflow run."),
    book: Path = typer.Option(
        None, "--book", help="Tonight's input book: with --previous-book, says why risk rose."
    ),
    previous_book: Path = typer.Option(
        None, "--previous-book", help="The previous night's input book (with --book)."
    ),
) -> None:
    """Compare a night's scores with the previous published night: grade migration, DPD-bucket
    flows, new collection actions and the early-warning watchlist.

    With --book and --previous-book, each watchlist account also gets why_1..why_k: the inputs
    whose SHAP contribution rose most between the nights, in words ("repayment status, latest
    month: not late → 2 months late (+0.81 log-odds)").

    The watchlist holds accounts whose PD rose by monitor.pd_rise (0.05) or more, or to
    monitor.pd_ratio (2) times the previous value, or that fell monitor.grades_down (2) grades,
    with tonight's reason codes. Written to monitor.output_dir/migration/as_of_date=DATE/
    (published whole or not at all); aggregates also go to MLflow, the watchlist stays local.
    """
    from delinq.pipeline.monitor.job import monitor as run_monitor

    if (book is None) != (previous_book is None):
        raise typer.BadParameter("give both --book and --previous-book, or neither")
    cfg = load_config(_config_path(config))
    books = (previous_book, book) if book is not None else None
    result = run_monitor(cfg, scores or cfg.scoring.output_dir, as_of, log, books)
    s = result.summary
    console.print(
        f"{s['previous_date']} -> {s['as_of_date']}: {s['accounts_both_nights']:,} accounts on "
        f"both nights ({s['downgraded']:,} downgraded, {s['upgraded']:,} upgraded), "
        f"{s['new_accounts']:,} new, {s['gone_accounts']:,} gone; watchlist "
        f"{s['watchlist']:,}; new actions: "
        + (", ".join(f"{a} {n:,}" for a, n in s["new_actions"].items()) or "none"),
        highlight=False,
    )
    console.print(f"Wrote {result.folder}/", highlight=False)


def _capacities(cfg: Config, given: list[str]) -> Config:
    """``--capacity ACTION=ACCOUNTS`` overrides of collection.channels, checked."""
    channels = dict(cfg.collection.channels)
    for item in given or []:
        name, _, number = item.partition("=")
        name = name.strip()
        if name not in channels:
            raise ConfigError(
                f"--capacity {item!r}: unknown action {name!r} (known: {', '.join(channels)})"
            )
        try:
            value = None if number.strip().lower() in ("none", "unlimited") else int(number)
        except ValueError:
            raise ConfigError(
                f"--capacity {item!r}: expected ACTION=ACCOUNTS, e.g. call=5000 (or call=unlimited)"
            ) from None
        if value is not None and value < 0:
            raise ConfigError(f"--capacity {item!r}: a capacity is never below zero")
        channels[name] = channels[name].model_copy(update={"capacity": value})
    collection = cfg.collection.model_copy(update={"channels": channels})
    return cfg.model_copy(update={"collection": collection})


@app.command()
@_friendly_errors
def decide(
    as_of: str = typer.Option(..., "--as-of", help="The published night to decide on."),
    book: Path = typer.Option(
        ..., "--book", help="The book that night scored (for each account's balance and limit)."
    ),
    scores: Path = SCORES_OPTION,
    out: Path = typer.Option(Path("data/decisions"), "--out", "-o", help="Output root."),
    capacity: list[str] = typer.Option(
        None,
        "--capacity",
        help="Tonight's capacity of a collection channel, ACTION=ACCOUNTS (repeatable), "
        "e.g. --capacity call=3000; default collection.channels.",
    ),
    what_if: Path = typer.Option(
        None,
        "--what-if",
        help="Another config: the book's expected loss, revenue and profit under its credit: "
        "policy, beside this one's.",
    ),
    sep: str = SEP_OPTION,
    config: Path = CONFIG_OPTION,
) -> None:
    """Limits, prices and collection actions for a scored night.

    Per account: exposure at default, expected loss (PD x LGD x EAD), a limit action (raise,
    hold, cut or freeze) with the rule and cap that bound it, and its grade's risk-based rate
    (funding + expected loss rate + operating cost + margin, capped at credit.max_rate). Per
    delinquent account: the collection action that maximises the book's expected recovery
    within each channel's daily capacity, beside the fixed ladder's, and its challenger cell.
    Published to OUT/as_of_date=DATE/ whole or not at all.
    """
    from delinq.pipeline.decide.job import decide as run_decide

    cfg = _capacities(load_config(_config_path(config)), capacity)
    other = load_config(what_if) if what_if is not None else None
    result = run_decide(cfg, scores or cfg.scoring.output_dir, as_of, book, out, other, sep)
    s = result.summary
    table = Table(title=f"Collection on {s['as_of_date']}: {s['delinquent']:,} delinquent")
    for column in ("channel", "assigned", "capacity"):
        table.add_column(column, justify="left" if column == "channel" else "right")
    for name, use in s["collection"]["channels"].items():
        cap = "unlimited" if use["capacity"] is None else f"{use['capacity']:,}"
        table.add_row(name, f"{use['assigned']:,}", cap)
    Console(width=None if sys.stdout.isatty() else 120).print(table)
    c = s["collection"]
    console.print(
        f"Expected recovery {c['expected_recovery']:,.0f} against the ladder's "
        f"{c['ladder_expected_recovery']:,.0f} (margin {c['margin_over_ladder']:+,.0f}); "
        f"cells {s['cells']}",
        highlight=False,
    )
    rows = ["expected_loss", "expected_revenue", "expected_profit", "total_limit"]
    credit = Table(title="Credit policy" + (" and what-if" if other else ""))
    credit.add_column("")
    credit.add_column("this config", justify="right")
    if other:
        credit.add_column(str(what_if), justify="right")
    for key in rows + [f"limit_{a}" for a in ("raise", "hold", "cut", "freeze")]:
        cells = [f"{s['credit'][key]:,.0f}"]
        if other:
            cells.append(f"{s['what_if'][key]:,.0f}")
        credit.add_row(key.replace("_", " "), *cells)
    Console(width=None if sys.stdout.isatty() else 120).print(credit)
    console.print(f"Wrote {result.folder}/", highlight=False)


@app.command("collection-backtest")
@_friendly_errors
def collection_backtest(
    as_of: str = typer.Option(..., "--as-of", help="The night whose decisions to judge."),
    outcomes: Path = typer.Option(
        ..., "--outcomes", help="Matured outcomes: one row per account, id and a 0/1 cured flag."
    ),
    id_col: str = typer.Option("id", "--id", help="The outcomes' id column."),
    target: str = typer.Option("cured", "--target", help="The outcomes' 0/1 cured column."),
    decisions: Path = typer.Option(
        Path("data/decisions"), "--decisions", help="Output root of delinq decide."
    ),
    out: Path = typer.Option(
        Path("data/decisions/backtests"), "--out", "-o", help="Output root of the backtest."
    ),
) -> None:
    """Cure rates per collection action and challenger cell once outcomes have matured.

    Per DPD bucket, action and cell: accounts, cure rate, the prior the assignment used, and
    the uplift over the held-out accounts of the same bucket, the measured worth of each
    action (move collection.channels' priors towards it). Published whole or not at all.
    """
    from delinq.pipeline.decide.job import collection_backtest as run_backtest
    from delinq.pipeline.monitor.job import read_outcomes

    cured = read_outcomes(outcomes, id_col, target, None)
    result = run_backtest(decisions, as_of, cured, out)
    s = result.summary
    console.print(
        f"{s['accounts_with_outcomes']:,} delinquent accounts with outcomes, cure rate "
        f"{s['cure_rate']:.1%}; by cell: "
        + ", ".join(f"{k} {v:.1%}" for k, v in s["by_cell"].items())
        + f". Wrote {result.folder}/",
        highlight=False,
    )


@app.command("reject-inference")
@_friendly_errors
def reject_inference(
    rows: int = typer.Option(20_000, "--rows", "-n", min=1_000, help="Simulated applicants."),
    accept_rate: float = typer.Option(
        0.6, "--accept-rate", min=0.1, max=0.95, help="Share the old policy accepted."
    ),
    judgement: float = typer.Option(
        1.0,
        "--judgement",
        min=0.0,
        help="How much the old decision saw beyond the data (log-odds of a signal of the true "
        "outcome): 0 = rejects missing at random given the inputs.",
    ),
    seed: int = typer.Option(0, help="Seed of the population and of parcelling."),
    out: Path = typer.Option(
        Path("data/reject_inference"), "--out", "-o", help="Folder for the table and chart."
    ),
    config: Path = CONFIG_OPTION,
) -> None:
    """Compare reject-inference methods on a simulated through-the-door population.

    An old scorecard accepts the least risky share of simulated applicants; each method
    (accepts only, parcelling, fuzzy augmentation, hard cutoff) infers the rejects' outcomes
    and refits. Their true outcomes then judge it: the rejects' inferred bad rate against the
    truth, and the AUC on every applicant. Writes reject_inference.csv and .png.
    """
    from delinq.pipeline.train.reject_inference import (
        best_method,
        compare_methods,
        comparison_plot,
    )

    ri = load_config(_config_path(config)).reject_inference
    with console.status(f"Fitting each method on {rows:,} simulated applicants..."):
        table = compare_methods(
            rows, accept_rate, seed, ri.uplift, judgement=judgement, bands=ri.bands
        )
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "reject_inference.csv")
    comparison_plot(table, out / "reject_inference.png")
    shown = Table(title=f"Reject inference: {accept_rate:.0%} accepted, judgement {judgement}")
    for column in ("method", "rejects' bad rate: inferred", "true", "AUC all applicants"):
        shown.add_column(column, justify="left" if column == "method" else "right")
    for method, r in table.iterrows():
        inferred = r["inferred_reject_bad_rate"]
        shown.add_row(
            method + (" (default)" if method == ri.method else ""),
            "-" if inferred != inferred else f"{inferred:.1%}",
            f"{r['true_reject_bad_rate']:.1%}",
            f"{r['auc_through_the_door']:.4f}",
        )
    Console(width=None if sys.stdout.isatty() else 120).print(shown)
    console.print(
        f"Best here: {best_method(table)}. Wrote {out}/reject_inference.csv and .png",
        highlight=False,
    )


@app.command("monitor-page")
@_friendly_errors
def monitor_page(
    nights: int = typer.Option(30, "--nights", "-n", min=1, help="How many recent nights."),
    scores: Path = SCORES_OPTION,
    out: Path = typer.Option(
        Path("data/monitor/monitoring.html"), "--out", "-o", help="The HTML file to write."
    ),
    config: Path = CONFIG_OPTION,
) -> None:
    """One self-contained HTML page over the last nights: volumes and reject rates, the grade
    mix, PSI trends of the score and inputs, migration and watchlist size, backtest lights."""
    from delinq.pipeline.monitor.page import monitoring_page

    cfg = load_config(_config_path(config))
    path = monitoring_page(cfg, scores or cfg.scoring.output_dir, nights, out)
    console.print(f"Wrote {path}; open it in any browser", highlight=False)


@app.command()
@_friendly_errors
def backtest(
    as_of: str = typer.Option(..., "--as-of", help="The scored night whose outcomes matured."),
    outcomes: Path = typer.Option(
        None, "--outcomes", help="CSV or Parquet: one row per account, its id and its outcome."
    ),
    panel: Path = typer.Option(
        None,
        "--panel",
        help="Instead of --outcomes: a monthly performance panel (CSV or Parquet, one row per "
        "account and month); bad = at least monitor.panel.bad_at_least past due within "
        "monitor.panel.within_months months after the night (default 90 days within 12).",
    ),
    id_col: str = typer.Option("id", "--id", help="Id column of the outcomes table."),
    target: str = typer.Option("bad", "--target", help="Outcome column (1/0, or two labels)."),
    positive_label: str = typer.Option(None, help="Outcome value that means bad, for text."),
    scores: Path = SCORES_OPTION,
    config: Path = CONFIG_OPTION,
    log: bool = typer.Option(True, help="Log the results to the model version's MLflow run."),
) -> None:
    """Back-test a night's PDs against matured outcomes: per grade the realised bad rate
    against the mean PD, binomial and Jeffreys tests with a traffic light; over the cohort
    AUC, KS and Gini against development, and the calibration slope and intercept.

    Exit codes: 0 green or amber, 6 red (a grade's PD is too low at the 1 % level), 2 bad
    input (duplicated outcome ids, outcomes for accounts not scored that night, no such night).
    """
    from delinq.pipeline.monitor.job import backtest as run_backtest

    if (outcomes is None) == (panel is None):
        raise typer.BadParameter("give --outcomes or --panel (one of them)")
    cfg = load_config(_config_path(config))
    result = run_backtest(
        cfg,
        scores or cfg.scoring.output_dir,
        as_of,
        outcomes,
        id_col,
        target,
        positive_label,
        log,
        panel=panel,
    )
    s = result.summary
    table = Table(title=f"Back-test of {s['as_of_date']}: {s['matured']:,} matured accounts")
    for column in ("grade", "accounts", "bads", "mean PD", "bad rate", "Jeffreys p", "light"):
        table.add_column(column, justify="left" if column in ("grade", "light") else "right")
    grades = pd.read_csv(result.folder / "grades.csv")
    colour = {"green": "green", "amber": "yellow", "red": "red"}
    for row in grades.itertuples():
        table.add_row(
            row.grade,
            f"{row.accounts:,}",
            f"{row.bads:,}",
            f"{row.mean_pd:.2%}",
            f"{row.bad_rate:.2%}",
            f"{row.jeffreys_p:.3f}",
            f"[{colour[row.light]}]{row.light}[/]",
        )
    Console(width=None if sys.stdout.isatty() else 120).print(table)
    if "performance_window" in s:
        first, last = s["performance_window"]
        console.print(
            f"Outcomes from the panel: bad = {s['bad_definition']} ({first} to {last}); "
            f"{s['immature_accounts']:,} account(s) not yet matured, left out",
            highlight=False,
        )
    dev = s["development_auc"]
    console.print(
        f"AUC {s['auc']:.4f} (development {dev:.4f}), KS {s['ks']:.3f}, calibration slope "
        f"{s['calibration_slope']:.2f}, intercept {s['calibration_intercept']:+.2f}; "
        f"light: {s['light']}"
        if s["auc"] is not None and dev is not None
        else f"light: {s['light']}",
        highlight=False,
    )
    console.print(f"Wrote {result.folder}/", highlight=False)
    if s["light"] == "red":
        raise typer.Exit(6)


@app.command()
@_friendly_errors
def snapshots(
    panel: Path = typer.Option(
        ...,
        "--panel",
        help="Monthly performance panel: a CSV or Parquet file, or a folder of "
        "monthly files; its layout is the config's panel: section.",
    ),
    out: Path = typer.Option(
        Path("data/snapshots/snapshots.parquet"), "--out", "-o", help="The training table."
    ),
    engine: str = typer.Option(
        "local",
        "--engine",
        help="local, or spark for a panel bigger than one machine: the same snapshot function "
        "per group of accounts (Parquet panel; settings in scoring.spark; no vintage curves).",
    ),
    config: Path = CONFIG_OPTION,
) -> None:
    """Turn a monthly panel into a training table: one row per account and observation month.

    History columns are the account's last panel.history_months months (newest first), so the
    usual payment-history features apply; the label is panel.bad (default: 90+ days past due
    within 12 months). Already-bad, too-young, absent and not-yet-matured accounts are left out
    and counted. Writes the table, its exclusions, the panel's vintage curves and bad-definition
    evidence (<out>_vintage/, shown in the report of a run trained on the table) and a training
    config beside it (CV grouped by account): train with `delinq train --config <out>.yaml`.
    """
    from delinq.pipeline.portfolio.vintage import snapshots_with_views

    cfg = load_config(_config_path(config))
    if engine not in ("local", "spark"):
        raise typer.BadParameter("local or spark", param_hint="--engine")
    if engine == "spark":
        from delinq.pipeline.book.panel_spark import spark_snapshots
        from delinq.pipeline.score.spark import spark_session

        with console.status("Cutting snapshots on Spark..."):
            report, files = spark_snapshots(spark_session(cfg.scoring.spark), cfg, panel, out)
    else:
        with console.status("Cutting snapshots..."):
            report, files = snapshots_with_views(cfg, panel, out)
    table = Table(title=f"Snapshots of {panel}")
    for column in report.columns:
        left = column == "observation_month"
        table.add_column(column.replace("_", " "), justify="left" if left else "right")

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.1%}"
        return f"{value:,}" if isinstance(value, int) else str(value)

    for row in report.itertuples(index=False):
        table.add_row(*map(cell, row))
    Console(width=None if sys.stdout.isatty() else 140).print(table)
    console.print(
        f"{int(report['kept'].sum()):,} snapshot rows, bad rate "
        f"{report['bads'].sum() / max(report['kept'].sum(), 1):.1%}. Wrote "
        f"{', '.join(str(f) for f in files)}\nTrain: delinq train --config {files[-1]}",
        highlight=False,
    )


@app.command()
@_friendly_errors
def arrears(
    schedule: Path = typer.Option(
        ..., "--schedule", help="Repayment schedule: account, due date, amount due (CSV/Parquet)."
    ),
    payments: Path = typer.Option(
        ..., "--payments", help="Payments: account, date, amount; negative reverses (CSV/Parquet)."
    ),
    as_of: str = typer.Option(
        None, "--as-of", help="One date (YYYY-MM-DD): one row per account at its end of day."
    ),
    until: str = typer.Option(
        None,
        "--until",
        help="Without --as-of: the panel's last month (YYYY-MM). Default: the last month with "
        "a due date or a payment.",
    ),
    wide: int = typer.Option(
        0,
        "--wide",
        min=0,
        max=36,
        help="With --as-of: also the last N months' days past due, balances and payments as "
        "columns, newest first (dpd_0.., balance_0.., payment_0..): a nightly book.",
    ),
    out: Path = typer.Option(
        Path("data/arrears/arrears.parquet"), "--out", "-o", help="Output (.parquet or .csv)."
    ),
    sep: str = SEP_OPTION,
    config: Path = CONFIG_OPTION,
) -> None:
    """Days past due, overdue amount and DPD bucket from a schedule and its payments.

    Payments settle the oldest amount due first. Days are calendar days or China's working
    days (holidays and make-up working days), per product; grace, tolerance, overpayments and
    early payments follow the config's arrears: section. Without --as-of the output is a
    monthly performance panel (one row per account and month end) that `delinq snapshots
    --panel` reads as it is. Nothing is written when the input is faulty.
    """
    from delinq.pipeline.book.arrears import write_arrears

    cfg = load_config(_config_path(config))
    with console.status("Allocating payments to the oldest amounts due..."):
        if wide and not as_of:
            raise typer.BadParameter("--wide needs --as-of (the night of the book)")
        buckets, book = write_arrears(
            cfg.arrears,
            schedule,
            payments,
            out,
            as_of=as_of,
            until=until,
            sep=_separator(sep),
            wide=wide,
        )
    rows = sum(buckets.values())
    summary = Table(title=f"DPD buckets ({'at ' + as_of if as_of else 'all month ends'})")
    summary.add_column("bucket")
    summary.add_column("rows", justify="right")
    summary.add_column("share", justify="right")
    for name in ("current", "1-30", "31-60", "61-90", "90+"):
        summary.add_row(name, f"{buckets[name]:,}", f"{buckets[name] / max(rows, 1):.1%}")
    Console(width=None if sys.stdout.isatty() else 120).print(summary)
    refunded = f"; {book.refunded / 100:,.2f} overpaid and refunded" if book.refunded else ""
    console.print(
        f"{len(book.ids):,} accounts, {rows:,} rows{refunded}. Wrote {out}",
        highlight=False,
    )
    if not as_of:
        console.print(
            f"Next: delinq snapshots --panel {out} (panel: status dpd in days; balance: "
            "balance, payment: payment)",
            highlight=False,
        )
    elif wide:
        names = ", ".join(f"{k}_0..{k}_{wide - 1}" for k in ("dpd", "balance", "payment"))
        console.print(
            f"History columns {names}: data.history with status_unit: days reads them",
            highlight=False,
        )


@app.command("mlflow-server")
@_friendly_errors
def mlflow_server(
    port: int = typer.Option(5000, "--port", help="Port of the MLflow server on 127.0.0.1."),
    pg_port: int = typer.Option(5433, "--pg-port", help="Port of PostgreSQL on 127.0.0.1."),
    folder: Path = typer.Option(
        Path("data/mlflow-server"),
        "--dir",
        help="Where the PostgreSQL cluster, the secrets (0600) and the artifacts live (kept).",
    ),
    host: str = typer.Option(
        "127.0.0.1",
        "--host",
        help="Address to bind. Anything but 127.0.0.1 exposes it: put TLS in front (README).",
    ),
) -> None:
    """Run a shared MLflow tracking server: PostgreSQL backend, local artifact root, logins.

    Creates a PostgreSQL cluster (Debian's postgresql) with an 'mlflow' role and database on
    first use, starts it and `mlflow server` with MLflow's basic-auth app on 127.0.0.1, and
    keeps both running until Ctrl-C, which stops both. The admin password is generated once
    and kept in DIR/auth/admin_password (0600); no secret is put on a command line. Point
    the team at it with MLFLOW_TRACKING_URI=http://127.0.0.1:PORT and
    MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD.
    """
    import signal

    from delinq.pipeline.registry.server import LocalPostgres, MlflowServer, ServerError

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    # Ctrl-C and a plain `kill` (systemd, a supervisor) both stop PostgreSQL and the server.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        postgres = LocalPostgres(folder / "postgres", pg_port).start()
    except ServerError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    server = MlflowServer(
        postgres.uri,
        folder / "artifacts",
        port,
        folder / "mlflow-server.log",
        auth=folder / "auth",
        host=host,
    )
    try:
        console.print(f"PostgreSQL on 127.0.0.1:{pg_port} (data in {postgres.data})")
        with console.status("starting mlflow server"):
            server.start()
        console.print(f"[green]MLflow tracking server on {server.url}[/] (log: {server.log})")
        console.print(f"  export MLFLOW_TRACKING_URI={server.url}")
        console.print(f"  export MLFLOW_TRACKING_USERNAME={server.credentials[0]}")
        password_file = (folder / "auth" / "admin_password").resolve()
        console.print(f"  export MLFLOW_TRACKING_PASSWORD=$(cat {password_file})")
        console.print("Ctrl-C stops the server and PostgreSQL; runs and models are kept.")
        server.proc.wait()
        console.print(f"[bold red]mlflow server exited[/]; see {server.log}")
    except ServerError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        server.stop()
        postgres.stop()


def main() -> None:  # pragma: no cover - console entry for `python -m delinq.pipeline.cli`
    app(sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    main()
