"""`delinq card`: the model card of a registered version, as Markdown and HTML.

Generated, never written by hand, from what the registry and the version's training run hold:
the run's tags (data digest, code commit, dependency lock), its logged config, metrics and
files (comparison, fairness, feature selection), the version's tags (promotion decisions, speed,
checksums) and its scoring reference (inputs and their training ranges). So it is always true
of the version it names. Training logs it with each registration, promotion logs it again
(the decision is part of it), and the report links it.

It follows the questions a model-risk reviewer asks (SR 11-7: development, validation,
monitoring, change control) and carries a personal-information section after PIPL
Arts. 55-56. It holds aggregates and names only, never a row's value.
"""

from __future__ import annotations

import html
import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from delinq.pipeline.config import Config
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.reference import ScoringReference, read_reference
from delinq.pipeline.train.fairness import FAIRNESS_FILE, FOUR_FIFTHS
from delinq.pipeline.train.scorecard import TABLE_CSV
from delinq.pipeline.webpage import fmt, page
from delinq.pipeline.webpage import table as html_table

CARD_MD, CARD_HTML = "model_card.md", "model_card.html"
Block = str | list[str] | pd.DataFrame  # a paragraph, a bullet list or a table


@dataclass
class Section:
    """One heading of the card and what it says."""

    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Card:
    """The card of one registered version."""

    name: str
    version: str
    sections: list[Section]

    def markdown(self) -> str:
        """The card as Markdown."""
        out = [f"# Model card: {self.name} version {self.version}", ""]
        for section in self.sections:
            out += [f"## {section.title}", ""]
            for block in section.blocks:
                out += [*_md(block), ""]
        return "\n".join(out)

    def html(self) -> str:
        """The card as one self-contained HTML page."""
        name, version = html.escape(self.name), html.escape(self.version)
        body = [f"<h1>Model card: {name} version {version}</h1>"]
        for section in self.sections:
            body.append(f"<h2>{html.escape(section.title)}</h2>")
            body += [_html(block) for block in section.blocks]
        return page(f"{self.name} v{self.version}: model card", "\n".join(body))


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"


def _md(block: Block) -> list[str]:
    if isinstance(block, str):
        return [block]
    if isinstance(block, list):
        return [f"- {item}" for item in block]
    head = [str(c) for c in block.columns]
    rows = [[fmt(v).replace("|", "\\|") for v in row] for row in block.itertuples(index=False)]
    return [
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
        *("| " + " | ".join(r) + " |" for r in rows),
    ]


def _html(block: Block) -> str:
    if isinstance(block, str):
        return f"<p>{_inline(block)}</p>"
    if isinstance(block, list):
        return "<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in block) + "</ul>"
    return html_table(block.set_index(block.columns[0]))


def _inline(text: str) -> str:
    """Escape, then turn Markdown's `code` and **bold** into tags."""
    parts = html.escape(text).split("`")
    text = "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))
    parts = text.split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def build_card(cfg: Config, model_uri: str, run_files: Path | None = None) -> Card:
    """The card of the version behind ``model_uri``, from the configured tracking store.

    ``run_files``: its training run's artifacts, if the caller has downloaded them already.
    """
    tracking.connect(cfg.tracking)
    name, version = tracking.resolve_version(model_uri)
    info = tracking.version_info(name, version)
    run = tracking.run_info(info["run_id"])
    with tempfile.TemporaryDirectory(prefix="delinq-card-") as tmp:
        files = run_files or tracking.download_run(info["run_id"], Path(tmp) / "run")
        model_dir = tracking.download_version(name, version, Path(tmp) / "model")
        reference = read_reference(model_dir / tracking.EXTRA_FILES)
        tables = {
            f: pd.read_csv(files / f)
            for f in ("comparison.csv", FAIRNESS_FILE, "champion_feature_selection.csv", TABLE_CSV)
            if (files / f).exists()
        }
    facts = _Facts(cfg, name, version, info, run, reference, tables)
    return Card(
        name,
        version,
        [
            facts.purpose(),
            facts.data(),
            facts.inputs(),
            facts.performance(),
            *([facts.scorecard()] if facts.family == "scorecard" else []),
            facts.fairness(),
            facts.limits(),
            facts.change_control(),
            facts.personal_information(),
        ],
    )


@dataclass
class _Facts:
    """What the card is made of, and one method per section."""

    cfg: Config
    name: str
    version: str
    info: dict
    run: dict
    reference: ScoringReference
    tables: dict[str, pd.DataFrame]

    def param(self, key: str, default: str = "") -> str:
        return self.run["params"].get(key, default)

    def listed(self, key: str) -> list[str]:
        return json.loads(self.param(key, "[]") or "[]")

    @property
    def family(self) -> str:
        return self.info["tags"].get("family", "?")

    @property
    def bad(self) -> str:
        target, label = self.param("data.target"), self.param("data.positive_label", "None")
        return f"`{target}` = `{label}`" if label != "None" else f"`{target}` = 1 (or true)"

    def purpose(self) -> Section:
        return Section(
            "Purpose and intended use",
            [
                f"A **{self.family}** model of the probability that a loan account is bad, "
                f"where bad means {self.bad} in the training table. It ranks the existing book "
                "nightly: probability of default, score points, risk grade, delinquency "
                "bucket, segment, collection action and reason codes.",
                [
                    "Intended: ranking and monitoring existing accounts of the kind it was "
                    "trained on; choosing collection actions under the review rule below.",
                    "Not intended: decisions on new applicants (it saw no rejected or new "
                    "applications), other products or markets, or any decision made solely "
                    "by machine where the policy requires a person's review.",
                ],
            ],
        )

    def data(self) -> Section:
        tags, metrics = self.run["tags"], self.run["metrics"]
        items = [
            f"Source: `{tags.get('source', '?')}`, SHA-256 `{tags.get('data_sha256', '?')}`",
            f"Rows: {int(tags.get('rows', 0)):,}; "
            f"bad rate {metrics.get('bad_rate', float('nan')):.2%}",
            f"Bad definition: {self.bad}",
            "Period: not recorded (the table carries no observation date); validation is "
            "across random folds, not out of time",
            f"Row id: `{self.reference.id}` (never an input)"
            if self.reference.id
            else "Row id: none (rows by position)",
        ]
        if tags.get("data_notes"):
            items.append(f"Reading notes: {tags['data_notes']}")
        return Section("Data", [items])

    def inputs(self) -> Section:
        rows = []
        for spec in self.reference.columns:
            if spec.kind == "numeric":
                edges = spec.drift.edges or []
                seen = f"{_number(edges[0])} to {_number(edges[-1])}" if edges else "(constant)"
                what = f"10th to 90th percentile {seen}"
            else:
                what = f"{len(spec.seen or spec.levels)} levels"
            rows.append({"input": spec.name, "kind": spec.kind, "training values": what})
        excluded = []
        tags = self.run["tags"]
        if tags.get("personal_columns_excluded"):
            excluded.append(
                f"Personal data, never inputs: {tags['personal_columns_excluded']} "
                "(names, contacts, national ids, near-unique identifiers)"
            )
        protected = self.listed("data.protected")
        if protected and self.param("data.allow_protected_inputs") == "True":
            excluded.append(
                f"Protected attributes used as inputs (data.allow_protected_inputs): "
                f"{', '.join(protected)}; never given as reason codes"
            )
        elif protected:
            excluded.append(f"Protected attributes, not inputs: {', '.join(protected)}")
        if self.listed("data.drop"):
            excluded.append(f"Dropped by config (data.drop): {', '.join(self.listed('data.drop'))}")
        selection = self.tables.get("champion_feature_selection.csv")
        if selection is not None and "kept" in selection:
            dropped = selection[~selection["kept"].astype(bool)]
            for rule, group in dropped.groupby("rule") if "rule" in dropped else []:
                excluded.append(
                    f"Derived features dropped by feature selection ({rule}): "
                    + ", ".join(map(str, group["feature"]))
                )
        return Section(
            "Inputs",
            [
                f"{len(rows)} inputs, as the nightly book must carry them:",
                pd.DataFrame(rows),
                "Excluded, with the reason:",
                excluded or ["nothing besides the target and the row id"],
            ],
        )

    def performance(self) -> Section:
        comparison = self.tables.get("comparison.csv")
        blocks: list[Block] = [
            f"{self.param('cv.folds', '?')}-fold cross-validation of the whole pipeline "
            "(features, cleaning, selection, model) on the same folds for every family and "
            "for a plain XGBoost reference; mean ± standard deviation over the folds, and a "
            "bootstrap 95 % interval of the out-of-fold AUC."
        ]
        if comparison is not None:
            cols = {
                "roc_auc_mean": "AUC",
                "roc_auc_std": "AUC std",
                "roc_auc_ci_low": "AUC 95% low",
                "roc_auc_ci_high": "AUC 95% high",
                "roc_auc_lift_vs_reference": "lift vs reference",
                "ks_mean": "KS",
                "gini_mean": "Gini",
                "brier_mean": "Brier",
            }
            shown = comparison[["family", *(c for c in cols if c in comparison)]]
            blocks.append(shown.rename(columns=cols))
        metrics = self.run["metrics"]
        if "champion_vs_runner_up_p" in metrics:
            blocks.append(
                f"Against the runner-up ({self.run['tags'].get('runner_up')}) on the same rows: "
                f"AUC {metrics['champion_vs_runner_up_auc']:+.4f}, paired bootstrap "
                f"p = {metrics['champion_vs_runner_up_p']:.3f}."
            )
        return Section("Performance", blocks)

    def scorecard(self) -> Section:
        table = self.tables.get(TABLE_CSV)
        if table is None:
            return Section("Scorecard", ["The run kept no points table."])
        return Section(
            "Scorecard",
            [
                "The model is a points table: a loan's score is the base plus the points of its "
                "bin in every input, and the nightly job publishes exactly that sum. Bins of a "
                "numeric input have bad rates that run one way (monotone); missing and special "
                "values have bins of their own. The same card as SQL: scorecard.sql in the run.",
                table,
            ],
        )

    def fairness(self) -> Section:
        table = self.tables.get(FAIRNESS_FILE)
        if table is None:
            return Section(
                "Fairness",
                ["No protected attributes were declared (data.protected): none was measured."],
            )
        adverse = table[table["impact_ratio"] < FOUR_FIFTHS]
        verdict = (
            "No group falls under the four-fifths rule."
            if adverse.empty
            else "Under the four-fifths rule: "
            + ", ".join(f"{a} = {g}" for a, g in adverse[["attribute", "group"]].to_numpy())
            + "."
        )
        return Section(
            "Fairness",
            [
                "The champion's out-of-fold PD per group of each protected attribute; flagged "
                "at the threshold each fold's training rows chose; impact ratio: the group's "
                "share not flagged over the most favoured group's.",
                table,
                verdict,
            ],
        )

    def limits(self) -> Section:
        tags = self.info["tags"]
        items = [
            "It has seen only the value ranges and levels listed under Inputs; values "
            "outside them are scored by extrapolation, and the nightly drift check (PSI) "
            "flags books that move away from them.",
            "Categorical levels never seen in training are scored as unknown and counted in "
            "each night's manifest.",
            "Validated by random folds of one table: no out-of-time or out-of-population test.",
        ]
        if tracking.SPEED_TAG in tags:
            items.append(
                f"Scores {float(tags[tracking.SPEED_TAG]):,.0f} rows/s on one core with reason "
                "codes, as measured at training."
            )
        if tracking.FEW_BADS_TAG in tags:
            items.append(f"Trained with too few bads: {tags[tracking.FEW_BADS_TAG]}.")
        return Section("Known limits", [items])

    def change_control(self) -> Section:
        tags, gates = self.info["tags"], self.cfg.promotion
        decision, at, reason, origin = (tags.get(t) for t in tracking.PROMOTION_TAGS)
        items = [
            f"Registered {self.info['registered_at']} from MLflow run `{self.info['run_id']}`; "
            f"aliases now: {', '.join(self.info['aliases']) or 'none'}",
            f"Last promotion decision: {decision or 'none yet'}"
            + (f" at {at}" if at else "")
            + (f" (previous champion: version {origin})" if origin else "")
            + (f": {reason}" if reason else ""),
            f"Gates: CV AUC at least {gates.min_auc}, at most {gates.tolerance} below the "
            f"champion ({gates.compare}); scores {gates.book_rows:,} rows within "
            f"{gates.night_minutes:g} minutes; same input schema unless allowed; files match "
            "their checksum"
            + (
                f"; lowest impact ratio at least {self.cfg.fairness.min_impact_ratio}"
                if self.cfg.fairness.min_impact_ratio is not None
                else ""
            ),
        ]
        if tracking.SCHEMA_CHANGE_TAG in tags:
            items.append(f"Promoted with an input change: {tags[tracking.SCHEMA_CHANGE_TAG]}")
        run_tags = self.run["tags"]
        items += [
            f"Code: git commit `{run_tags.get('git_commit', 'not recorded')}`",
            f"Dependencies: requirements.lock SHA-256 "
            f"`{run_tags.get('requirements_lock_sha256', 'not recorded')}`",
            f"Model files: SHA-256 `{tags.get(tracking.FILES_TAG, 'not recorded')}` (checked "
            "before every load)",
        ]
        return Section("Promotion and change control", [items])

    def personal_information(self) -> Section:
        from delinq.pipeline.portfolio.policy import load_policy

        reviewed = load_policy(self.cfg.policy, list(self.cfg.scorecard.bands)).reviewed_actions
        out = self.cfg.scoring.output_dir
        return Section(
            "Personal information (PIPL Arts. 55-56)",
            [
                [
                    "Purpose: managing the credit risk of existing accounts and choosing "
                    "collection actions (see Purpose).",
                    "Categories: financial-account data (balances, payments, delinquency "
                    "history), sensitive personal information under PIPL Art. 28"
                    + (
                        f"; protected attributes {', '.join(self.listed('data.protected'))} "
                        "only to measure fairness"
                        if self.listed("data.protected")
                        else ""
                    )
                    + ".",
                    "The registered model holds aggregates only: deciles, category levels "
                    "shared by many rows, a synthetic input example; no row, name, contact "
                    "or identifier.",
                    f"Nightly scores (id, scores, action, reason codes) are written under "
                    f"`{out}`; rejects and logs carry row numbers, ids and reasons only. The "
                    "tool deletes nothing itself: set the retention period on that folder and "
                    "on the tracking store.",
                    "Review rule: a person reviews "
                    + (", ".join(reviewed) if reviewed else "no action")
                    + " before it happens (rows carry human_review_required); reason codes "
                    "come only from the inputs the model used, never a protected attribute.",
                ]
            ],
        )


def write_card(card: Card, out_dir: Path) -> list[Path]:
    """Write the card as Markdown and HTML into ``out_dir``; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, page = out_dir / CARD_MD, out_dir / CARD_HTML
    md.write_text(card.markdown(), encoding="utf-8")
    page.write_text(card.html(), encoding="utf-8")
    return [md, page]


def log_card(cfg: Config, model_uri: str) -> list[str]:
    """Build the card of ``model_uri`` and log it to its training run under ``card/``."""
    card = build_card(cfg, model_uri)
    with tempfile.TemporaryDirectory(prefix="delinq-card-") as tmp:
        files = write_card(card, Path(tmp))
        run_id = tracking.version_run_id(card.name, card.version)
        tracking.log_to_run(run_id, files, "card")
    return [f.name for f in files]
