"""`delinq report`: one self-contained HTML page about the champion, readable offline.

Everything comes from the champion's MLflow run (comparison table, curves, confusion matrices,
feature selection, portfolio views, SHAP plots) and from the last published scoring run (drift).
Images are embedded as data URIs and the page has no scripts, so it opens from a mail
attachment or a file share with no network. The version's model card is written beside it
(:mod:`delinq.pipeline.card`) and linked.
"""

from __future__ import annotations

import html
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from delinq.models.candidates import REFERENCE
from delinq.pipeline.card import CARD_HTML, build_card, write_card
from delinq.pipeline.config import Config
from delinq.pipeline.registry import tracking
from delinq.pipeline.score.publish import DRIFT_PLOT, latest_manifest, partition
from delinq.pipeline.train.fairness import FAIRNESS_FILE, FAIRNESS_PLOT, FOUR_FIFTHS
from delinq.pipeline.train.out_of_time import OOT_FILE
from delinq.pipeline.train.scorecard import IV_PLOT, SQL_FILE, TABLE_CSV
from delinq.pipeline.webpage import img, page, write_page
from delinq.pipeline.webpage import table as html_table

METRICS = {
    "roc_auc": "ROC AUC",
    "gini": "Gini",
    "ks": "KS",
    "pr_auc": "PR AUC",
    "f1": "F1",
    "precision": "precision",
    "recall": "recall",
    "brier": "Brier",
    "log_loss": "log loss",
}
CURVES = {
    "roc_curves.png": "ROC curves (out-of-fold)",
    "pr_curves.png": "Precision-recall curves",
    "calibration.png": "Calibration",
    "ks.png": "KS: separation of goods and bads",
    "confusion_matrices.png": "Confusion matrices at each model's threshold",
}
PORTFOLIO = {
    "aging.png": "Aging: accounts by days-past-due bucket, month by month",
    "roll_rates.png": "Roll rates between buckets",
    "bad_rates.png": "Bad rate by bucket, segment and delinquent type",
}


def comparison_table(comparison: pd.DataFrame) -> pd.DataFrame:
    """Mean ± std of the headline metrics per family, as text cells.

    With the run's plain reference: each family's AUC lift over it; with bootstrap intervals:
    the AUC's 95 % interval.
    """
    out = pd.DataFrame(index=comparison.index)
    for key, label in METRICS.items():
        if f"{key}_mean" in comparison:
            mean, std = comparison[f"{key}_mean"], comparison[f"{key}_std"]
            out[label] = [f"{m:.4f} ± {s:.4f}" for m, s in zip(mean, std, strict=True)]
        if key == "roc_auc" and "roc_auc_ci_low" in comparison:
            low, high = comparison["roc_auc_ci_low"], comparison["roc_auc_ci_high"]
            out["ROC AUC 95 % interval"] = [
                f"{a:.4f} to {b:.4f}" for a, b in zip(low, high, strict=True)
            ]
        if key == "roc_auc" and "roc_auc_lift_vs_reference" in comparison:
            out["lift vs plain reference"] = [
                f"{v:+.4f}" for v in comparison["roc_auc_lift_vs_reference"]
            ]
    return out.rename(index={REFERENCE: "plain reference (XGBoost)"})


def _drift_section(manifest: dict | None, scores_dir: Path) -> list[str]:
    parts = ["<h2>Drift of the last scoring run</h2>"]
    if manifest is None:
        return [*parts, f"<p class='muted'>No scoring run published under {scores_dir}.</p>"]
    drift = manifest["drift"]
    cls = "alert" if drift["status"] == "alert" else ""
    parts.append(
        f"<p>As of <b>{html.escape(manifest['as_of_date'])}</b>, model version "
        f"{html.escape(str(manifest['model']['version']))}: {manifest['rows']['scored']:,} scored, "
        f"{manifest['rows']['rejected']:,} rejected. Status <span class='{cls}'>"
        f"{html.escape(drift['status'])}</span>, score PSI {drift['score_psi']:.3f}.</p>"
    )
    psi = pd.Series(drift["input_psi"], name="PSI").sort_values(ascending=False).head(10)
    parts.append(html_table(psi.to_frame().rename_axis("input")))
    plot = partition(scores_dir, manifest["as_of_date"]) / DRIFT_PLOT
    if plot.exists():
        parts.append(img(plot, "Population stability index per input (training vs scored)"))
    return parts


def _fairness_section(run: Path) -> list[str]:
    """The champion per protected group, when the run declared protected attributes."""
    parts = ["<h2>Fairness by protected group</h2>"]
    if not (run / FAIRNESS_FILE).exists():
        return [
            *parts,
            "<p class='muted'>No protected attributes declared (data.protected), so none "
            "were measured.</p>",
        ]
    table = pd.read_csv(run / FAIRNESS_FILE)
    adverse = table["impact_ratio"] < FOUR_FIFTHS
    parts.append(
        "<p>Out-of-fold PD of the champion per group. <i>Flagged</i>: at the threshold each "
        "fold's training rows chose. <i>Impact ratio</i>: the group's share not flagged over "
        "the most favoured group's; under 0.8 (the four-fifths rule) reads as adverse "
        "impact. <i>Calibration gap</i>: mean PD minus bad rate.</p>"
    )
    if adverse.any():
        groups = ", ".join(
            f"{a} = {g}" for a, g in table.loc[adverse, ["attribute", "group"]].to_numpy()
        )
        parts.append(f"<p class='alert'>Adverse impact under the four-fifths rule: {groups}</p>")
    parts.append(html_table(table.set_index("attribute")))
    if (run / FAIRNESS_PLOT).exists():
        parts.append(img(run / FAIRNESS_PLOT, "Calibration and adverse-impact ratio by group"))
    return parts


def _scorecard_section(run: Path, champion: str) -> list[str]:
    """The scorecard family's points table and IV ranking, when the run trained it."""
    if not (run / TABLE_CSV).exists():
        return []
    table = pd.read_csv(run / TABLE_CSV)
    whose = (
        "the champion's own (its published points are these sums)"
        if champion == "scorecard"
        else "the scorecard family refitted on every row, uncalibrated, beside the champion"
    )
    return [
        "<h2>Scorecard: points per input and bin</h2>",
        f"<p>The card is {whose}. A loan's score is the base plus its bin's points in every "
        f"input; <code>{SQL_FILE}</code> in the MLflow run scores a table with the same "
        "points in SQL.</p>",
        img(run / IV_PLOT, "Scorecard inputs by information value"),
        html_table(table.set_index("input")),
    ]


def _monitoring_section(root: Path) -> list[str]:
    """The latest night-over-night migration and every backtest, when they were run."""
    parts = ["<h2>Monitoring: migration and backtests</h2>"]
    migrations = sorted((root / "migration").glob("as_of_date=*/summary.json"))
    backtests = sorted((root / "backtests").glob("as_of_date=*/summary.json"))
    if not migrations and not backtests:
        return [
            *parts,
            "<p class='muted'>Nothing yet: run <code>delinq monitor</code> and "
            "<code>delinq backtest</code>.</p>",
        ]
    if migrations:
        s = json.loads(migrations[-1].read_text())
        parts.append(
            f"<p>{html.escape(s['previous_date'])} to {html.escape(s['as_of_date'])}: "
            f"{s['downgraded']:,} accounts downgraded, {s['upgraded']:,} upgraded, "
            f"{s['new_accounts']:,} new, {s['gone_accounts']:,} gone; "
            f"<b>{s['watchlist']:,}</b> on the early-warning watchlist.</p>"
        )
        plot = migrations[-1].parent / "migration.png"
        if plot.exists():
            parts.append(img(plot, "Grade migration from the previous night"))
    if backtests:
        rows = {}
        for path in backtests:
            b = json.loads(path.read_text())
            rows[b["as_of_date"]] = {
                "light": b["light"],
                "matured": b["matured"],
                "bad rate": b["bad_rate"],
                "mean PD": b["mean_pd"],
                "AUC": b["auc"],
                "development AUC": b["development_auc"],
                "calibration slope": b["calibration_slope"],
            }
        table = pd.DataFrame.from_dict(rows, orient="index").rename_axis("scored night")
        parts += ["<p>Backtests against matured outcomes:</p>", html_table(table)]
    return parts


def _out_of_time_section(info: dict, run: Path) -> list[str]:
    """The champion on the held-out latest months, when the run held some out."""
    metrics = info["metrics"]
    if "oot_roc_auc" not in metrics or not (run / OOT_FILE).exists():
        return []
    months = html.escape(info["tags"].get("out_of_time", ""))
    shift = pd.read_csv(run / OOT_FILE, index_col=0)
    return [
        "<h2>Out of time</h2>",
        f"<p>The latest observation months ({months}, {int(metrics['oot_rows']):,} rows) were "
        "held out of the comparison and of the champion's fit, then scored: AUC "
        f"<b>{metrics['oot_roc_auc']:.4f}</b> (in-time CV "
        f"{metrics['champion_cv_roc_auc']:.4f}), KS {metrics['oot_ks']:.3f}, mean PD "
        f"{metrics['oot_mean_pd']:.2%} against a bad rate of {metrics['oot_bad_rate']:.2%}. "
        "PSI of each input and of the score, training rows against the held-out ones (0.1: "
        "watch, 0.25: shifted):</p>",
        html_table(shift.head(15)),
    ]


def _significance(info: dict) -> list[str]:
    """The champion against the runner-up on the same rows, when the run measured it."""
    metrics, runner_up = info["metrics"], info["tags"].get("runner_up")
    if runner_up is None or "champion_vs_runner_up_p" not in metrics:
        return []
    diff, p_value = metrics["champion_vs_runner_up_auc"], metrics["champion_vs_runner_up_p"]
    verdict = "a real difference" if p_value < 0.05 else "within the noise of this sample"
    return [
        f"<p>Champion against runner-up <b>{html.escape(runner_up)}</b> on the same "
        f"out-of-fold rows: AUC {diff:+.4f}, paired bootstrap p = {p_value:.3f} ({verdict}). "
        "The plain reference is a fixed XGBoost on the raw table, cross-validated on the same "
        "folds: a family with no lift over it adds nothing.</p>"
    ]


def build_report(
    cfg: Config, model_uri: str, out: Path, explain: Callable[[], None] | None = None
) -> Path:
    """Write the HTML report of the model behind ``model_uri`` to ``out`` (atomically).

    ``explain`` is called to make the SHAP plots when the champion's run has none yet.
    """
    tracking.connect(cfg.tracking)
    name, version = tracking.resolve_version(model_uri)
    run_id = tracking.version_run_id(name, version)
    if explain is not None and not tracking.artifact_names(run_id, "explain"):
        explain()
    with tempfile.TemporaryDirectory(prefix="delinq-report-") as tmp:
        run = tracking.download_run(run_id, Path(tmp))
        text = _page(cfg, name, version, run_id, run)
        card = build_card(cfg, f"models:/{name}/{version}", run)  # the run, downloaded once
    write_card(card, out.parent)  # linked from the page
    return write_page(out, text)


def _page(cfg: Config, name: str, version: str, run_id: str, run: Path) -> str:
    info = tracking.run_info(run_id)
    champion = info["tags"].get("champion", "")
    comparison = pd.read_csv(run / "comparison.csv", index_col="family")
    parts = [
        f"<h1>Delinquency risk model: {html.escape(name)} v{html.escape(str(version))}</h1>",
        f"<p class='muted'>Champion family <b>{html.escape(champion)}</b>; MLflow run "
        f"{html.escape(run_id)}; cross-validated AUC "
        f"{comparison.loc[champion, 'roc_auc_mean']:.4f}.</p>",
        "<h2>Model comparison (cross-validation, mean ± std over folds)</h2>",
        f"<p>Model card (data, inputs, limits, fairness, promotion record, personal "
        f"information): <a href='{CARD_HTML}'>{CARD_HTML}</a>, written beside this page.</p>",
        html_table(comparison_table(comparison), lambda k: "champion" if k == champion else ""),
        *_significance(info),
        *_out_of_time_section(info, run),
    ]
    curves = [img(run / f, c) for f, c in CURVES.items() if (run / f).exists()]
    # The three square curve plots side by side; the wide KS and confusion panels below.
    parts += ["<div class='grid'>", *curves[:3], "</div>", *curves[3:]]
    selection = run / "champion_feature_selection.csv"
    if selection.exists():
        report = pd.read_csv(selection).set_index("feature")
        parts += ["<h2>Feature selection (champion)</h2>", html_table(report)]
    parts += _scorecard_section(run, champion)
    parts += _fairness_section(run)
    explain = run / "explain"
    parts.append("<h2>What drives the score (SHAP)</h2>")
    if (explain / "shap_importance.csv").exists():
        importance = pd.read_csv(explain / "shap_importance.csv").set_index("label")
        parts.append(html_table(importance[["mean_abs_shap"]].head(15)))
        parts += [img(p, p.stem.replace("_", " ")) for p in sorted(explain.glob("*.png"))]
    else:
        parts.append("<p class='muted'>No explanations yet: run <code>delinq explain</code>.</p>")
    portfolio = run / "portfolio"
    if portfolio.exists():
        parts.append("<h2>Portfolio: aging and roll rates</h2>")
        rates = portfolio / "roll_rates.csv"
        if rates.exists():
            parts.append(html_table(pd.read_csv(rates, index_col=0)))
        parts += [img(portfolio / f, c) for f, c in PORTFOLIO.items() if (portfolio / f).exists()]
        if (portfolio / "vintage.png").exists():
            parts.append(
                "<h3>Vintage curves (账龄)</h3><p class='muted'>Per origination cohort of the "
                "panel behind the snapshots: the share ever 30+/60+/90+ past due by months on "
                "book.</p>"
            )
            parts.append(img(portfolio / "vintage.png", "Vintage curves"))
            advice = portfolio / "bad_definition.txt"
            if advice.exists():
                parts.append(f"<p>{html.escape(advice.read_text(encoding='utf-8'))}</p>")
            if (portfolio / "cure_rates.csv").exists():
                parts.append(html_table(pd.read_csv(portfolio / "cure_rates.csv", index_col=0)))
        types = portfolio / "delinquent_types.csv"
        if types.exists():
            parts.append(
                "<h3>Delinquent customers by type</h3><p class='muted'>Late accounts by "
                "behaviour (rules in pipeline/portfolio/delinquent_types.py), the bad rate that "
                "followed, and each type's treatment.</p>"
            )
            parts.append(html_table(pd.read_csv(types, index_col=0)))
    parts += _drift_section(latest_manifest(cfg.scoring.output_dir), cfg.scoring.output_dir)
    parts += _monitoring_section(cfg.monitor.output_dir)
    body = "\n".join(parts)
    return page(f"{name} v{version}: model report", body)
