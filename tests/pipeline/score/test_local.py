"""Nightly scoring against a real model trained here, with every fault and its outcome."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from delinq.features.cleaning import coerce_types
from delinq.pipeline.book.io import load_training_data
from delinq.pipeline.book.simulate import simulate_book
from delinq.pipeline.registry import tracking
from delinq.pipeline.registry.checksum import sha256
from delinq.pipeline.registry.load import load_registered
from delinq.pipeline.score.batch import SCORES_SCHEMA, ScoringError, scores_schema
from delinq.pipeline.score.drift import psi
from delinq.pipeline.score.local import score_book
from delinq.pipeline.score.publish import MANIFEST_FILE, REJECTS_FILE, SCORES_FILE
from delinq.pipeline.score.run import SanityError
from delinq.pipeline.train.job import train
from tests.conftest import REPO, output_entries, quick_config

pytestmark = pytest.mark.slow
URI = "models:/delinquency-risk@champion"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A champion trained on a small simulated book, in its own SQLite store."""
    tmp = tmp_path_factory.mktemp("score")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    cfg = quick_config(tmp)
    cfg = cfg.model_copy(
        update={
            "models": cfg.models.model_copy(update={"families": ["logreg", "xgboost"]}),
            "policy": REPO / "configs" / "collection_policy.yaml",
        }
    )
    result = train(cfg, load_training_data(cfg))
    return cfg, result, tmp


def _book(rows=3_000, seed=11):
    return simulate_book(rows, seed=seed)


def _parquet(tmp_path, frame, name="book.parquet"):
    path = tmp_path / name
    frame.to_parquet(path, index=False)
    return path


def _every_row(cfg):
    """``cfg`` with reason codes for every scored row, not only the actioned ones."""
    return cfg.model_copy(update={"explain": cfg.explain.model_copy(update={"reasons_for": "all"})})


def test_scores_every_row_with_plan_and_manifest(env, tmp_path):
    cfg, result, _ = env
    cfg = _every_row(cfg)
    out = tmp_path / "out"
    res = score_book(_parquet(tmp_path, _book()), out, "2026-01-31", URI, cfg)
    scores = pd.read_parquet(res.partition / SCORES_FILE)
    assert list(scores.columns) == scores_schema(cfg.explain.top_k).names
    assert scores.columns[: len(SCORES_SCHEMA)].tolist() == SCORES_SCHEMA.names
    assert len(scores) == 3_000 and scores["id"].is_unique
    # Every loan with a risk-raising input has a reason, in words, with its value.
    assert scores["reason_1_code"].notna().mean() > 0.95
    assert scores["reason_1"].dropna().str.contains(": ").all()
    assert res.manifest["reason_codes"]["top_k"] == cfg.explain.top_k
    assert scores["pd"].between(0, 1).all() and scores["action"].notna().all()
    assert set(scores["model_version"]) == {result.version}
    m = res.manifest
    review = int(scores["human_review_required"].sum())
    assert m["rows"] == {"read": 3_000, "scored": 3_000, "rejected": 0}
    assert m["human_review_required"] == review > 0
    assert m["policy"]["sha256"] == sha256(cfg.policy) and m["policy"]["file"].endswith(".yaml")
    assert scores["human_review_required"].equals(
        scores["action"].isin(["legal", "outsourced_collection"])
    )
    assert m["outputs"][SCORES_FILE]["sha256"] == sha256(res.partition / SCORES_FILE)
    assert m["extra_columns_ignored"] == ["default_next_month"]
    assert m["drift"]["status"] == "ok"
    assert (res.partition / "drift.png").exists()
    assert output_entries(out) == ["as_of_date=2026-01-31"]  # nothing staged left


def test_scores_equal_the_registered_models_own_predictions(env, tmp_path):
    cfg, _, _ = env
    book = _book(2_000, seed=5)
    res = score_book(_parquet(tmp_path, book), tmp_path / "out", "2026-01-31", URI, cfg)
    assert res.manifest["predict_path"] == "lean"
    tracking.connect(cfg.tracking)
    _, _, model, reference = load_registered(URI)
    columns = reference.names
    numeric = reference.numeric
    X = coerce_types(book[columns], numeric, [c for c in columns if c not in numeric])
    scores = pd.read_parquet(res.partition / SCORES_FILE).set_index("id")
    expected = model.predict_proba(X)[:, 1]
    np.testing.assert_allclose(scores.loc[book["ID"].astype(str), "pd"], expected, atol=1e-12)


def test_rerun_gives_identical_bytes(env, tmp_path):
    cfg, _, _ = env
    book = _parquet(tmp_path, _book())
    first = score_book(book, tmp_path / "out", "2026-01-31", URI, cfg)
    before = {f: sha256(first.partition / f) for f in (SCORES_FILE, REJECTS_FILE)}
    second = score_book(book, tmp_path / "out", "2026-01-31", URI, cfg)
    assert {f: sha256(second.partition / f) for f in (SCORES_FILE, REJECTS_FILE)} == before


def test_row_level_faults_go_to_rejects_with_reasons(env, tmp_path):
    cfg, _, _ = env
    book = _book(1_000).astype({"LIMIT_BAL": object, "ID": "Int64"})
    book.loc[0, "ID"] = None
    book.loc[[1, 2], "ID"] = 999_999  # duplicated: both rows rejected
    book.loc[3, "LIMIT_BAL"] = -5_000.0
    book.loc[4, "PAY_0"] = -7  # below the lowest status code
    book.loc[5, "LIMIT_BAL"] = "twenty thousand"  # unparseable
    book.loc[6, "EDUCATION"] = 42  # unseen category: scored, counted
    book.to_csv(tmp_path / "book.csv", index=False)
    res = score_book(tmp_path / "book.csv", tmp_path / "out", "2026-01-31", URI, cfg)
    rejects = pd.read_parquet(res.partition / REJECTS_FILE).set_index("row")
    assert rejects.loc[0, "reason"] == "missing_id"
    assert rejects.loc[1, "reason"] == rejects.loc[2, "reason"] == "duplicate_id"
    assert rejects.loc[3, "reason"] == "negative:LIMIT_BAL"
    assert rejects.loc[4, "reason"] == "invalid_code:PAY_0"
    assert rejects.loc[5, "reason"] == "unparseable:LIMIT_BAL"
    m = res.manifest
    assert m["rows"] == {"read": 1_000, "scored": 994, "rejected": 6}
    assert m["rejects_by_reason"]["duplicate_id"] == 2
    assert m["unseen_categories"] == {"EDUCATION": 1}
    scores = pd.read_parquet(res.partition / SCORES_FILE)
    assert "7" in set(scores["id"])  # row 6 (id 7), with the unseen category, was scored


def test_duplicates_are_found_when_the_config_names_another_id_column(env, tmp_path):
    # The id pass starts early on the configured id's name; the model's own id column wins.
    cfg, _, _ = env
    other = cfg.model_copy(update={"data": cfg.data.model_copy(update={"id": "LIMIT_BAL"})})
    book = _book(500)
    book.loc[[7, 9], "ID"] = 123_456
    res = score_book(_parquet(tmp_path, book), tmp_path / "out", "2026-01-31", URI, other)
    assert res.manifest["rows"] == {"read": 500, "scored": 498, "rejected": 2}
    assert res.manifest["rejects_by_reason"] == {"duplicate_id": 2}


def test_values_past_the_training_range_are_counted_and_scored_or_rejected(env, tmp_path):
    cfg, _, _ = env
    _, _, _, reference = load_registered(URI)
    spec = {c.name: c for c in reference.columns}
    assert spec["PAY_0"].high is not None and spec["PAY_0"].high < 15
    assert spec["LIMIT_BAL"].high is not None and spec["LIMIT_BAL"].high < 1e9
    book = _book(1_000)
    for name in reference.names:  # a book inside the range, then seven and three rows past it
        if spec[name].kind == "numeric" and spec[name].high is not None:
            book[name] = book[name].clip(spec[name].low, spec[name].high)
    book.loc[:6, "PAY_0"] = 15  # a status code training never saw shared by 10 rows
    book.loc[10:12, "LIMIT_BAL"] = 1e9  # far past the 99.9th percentile
    path = _parquet(tmp_path, book)
    scored = score_book(path, tmp_path / "a", "2026-01-31", URI, cfg).manifest
    assert scored["out_of_range"] == {"LIMIT_BAL": 3, "PAY_0": 7}
    assert scored["rows"]["rejected"] == 0  # counted, not silently capped, and scored
    strict = cfg.model_copy(
        update={"scoring": cfg.scoring.model_copy(update={"out_of_range": {"PAY_0": "reject"}})}
    )
    res = score_book(path, tmp_path / "b", "2026-01-31", URI, strict, force=True)
    assert res.manifest["rejects_by_reason"] == {"out_of_range:PAY_0": 7}
    assert res.manifest["out_of_range"] == {"LIMIT_BAL": 3, "PAY_0": 7}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda f, p: f.drop(columns="PAY_0").to_parquet(p),
            r"required column\(s\) missing: PAY_0",
        ),
        (lambda f, p: p.write_bytes(b""), "file is empty"),
        (lambda f, p: p.write_bytes(_valid_bytes(f)[:300]), "cannot read file"),
        (lambda f, p: f.assign(AGE=f["AGE"] > 30).to_parquet(p), "'AGE' has type bool"),
    ],
    ids=["missing-column", "empty", "truncated", "unsafe-type"],
)
def test_file_level_faults_publish_nothing(env, tmp_path, damage, message):
    cfg, _, _ = env
    out = tmp_path / "out"
    good = score_book(_parquet(tmp_path, _book(), "good.parquet"), out, "2026-01-30", URI, cfg)
    path = tmp_path / "bad.parquet"
    damage(_book(), path)
    with pytest.raises(ScoringError, match=message) as err:
        score_book(path, out, "2026-01-31", URI, cfg)
    assert "bad.parquet" in str(err.value)
    assert output_entries(out) == [good.partition.name]


def test_malformed_csv_and_header_only_publish_nothing(env, tmp_path):
    cfg, _, _ = env
    book = _book(50)
    text = book.to_csv(index=False).splitlines()
    text[20] = text[20] + ",1,2,3"  # a row with too many fields
    (tmp_path / "bad.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(ScoringError, match=r"bad\.csv: cannot read file"):
        score_book(tmp_path / "bad.csv", tmp_path / "out", "2026-01-31", URI, cfg)
    (tmp_path / "header.csv").write_text(text[0] + "\n")
    with pytest.raises(ScoringError, match="header but no rows"):
        score_book(tmp_path / "header.csv", tmp_path / "out", "2026-01-31", URI, cfg)
    assert output_entries(tmp_path / "out") == []


def _valid_bytes(frame):
    sink = pa.BufferOutputStream()
    pq.write_table(pa.Table.from_pandas(frame), sink)
    return sink.getvalue().to_pybytes()


def test_sanity_guard_refuses_a_shrunken_book_unless_forced(env, tmp_path):
    cfg, _, _ = env
    out = tmp_path / "out"
    score_book(_parquet(tmp_path, _book(3_000)), out, "2026-01-30", URI, cfg)
    small = _parquet(tmp_path, _book(500), "small.parquet")
    with pytest.raises(SanityError, match="below 50% of the previous run's 3,000"):
        score_book(small, out, "2026-01-31", URI, cfg)
    assert not (out / "as_of_date=2026-01-31").exists()
    assert (
        score_book(small, out, "2026-01-31", URI, cfg, force=True).manifest["rows"]["read"] == 500
    )


def test_psi_flags_a_known_shift(env, tmp_path):
    cfg, _, _ = env
    assert psi([0.5, 0.5], np.array([50.0, 50.0])) == pytest.approx(0.0)
    assert psi([0.5, 0.5], np.array([90.0, 10.0])) == pytest.approx(
        (0.9 - 0.5) * np.log(0.9 / 0.5) + (0.1 - 0.5) * np.log(0.1 / 0.5)
    )
    shifted = _book().assign(LIMIT_BAL=lambda f: f["LIMIT_BAL"] * 5)
    res = score_book(_parquet(tmp_path, shifted), tmp_path / "out", "2026-01-31", URI, cfg)
    drift = res.manifest["drift"]
    assert drift["input_psi"]["LIMIT_BAL"] >= 0.25 and "LIMIT_BAL" in drift["alert"]
    assert drift["input_psi"]["AGE"] < 0.1 and drift["status"] == "alert"


def test_alias_moved_mid_run_does_not_change_the_run(env, tmp_path):
    cfg, result, _ = env
    second = train(cfg, load_training_data(cfg.model_copy(update={"seed": 5})))
    tracking.set_alias(cfg.tracking.model_name, "champion", result.version)
    moved = []

    def move_alias(_rows):
        if not moved:
            tracking.set_alias(cfg.tracking.model_name, "champion", second.version)
            moved.append(True)

    small_batches = cfg.model_copy(
        update={"scoring": cfg.scoring.model_copy(update={"batch_rows": 1_000})}
    )
    res = score_book(
        _parquet(tmp_path, _book()),
        tmp_path / "out",
        "2026-01-31",
        URI,
        small_batches,
        on_batch=move_alias,
    )
    assert moved and res.manifest["model"]["version"] == result.version
    scores = pd.read_parquet(res.partition / SCORES_FILE)
    assert set(scores["model_version"]) == {result.version}
    tracking.set_alias(cfg.tracking.model_name, "champion", result.version)


def _score_config(tmp_path, store):
    conf = tmp_path / "score.yaml"
    conf.write_text(
        json.dumps(
            {
                "policy": str(REPO / "configs" / "collection_policy.yaml"),
                "scoring": {"batch_rows": 5_000},
                "tracking": {"store_dir": str(store / "mlflow")},
            }
        )
    )
    return conf


def test_cli_exit_codes(env, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from delinq.pipeline.cli import app

    _, _, store = env
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    conf, out = _score_config(tmp_path, store), tmp_path / "out"
    book = _parquet(tmp_path, _book())
    run = CliRunner().invoke
    ok = run(
        app, ["score", "-i", str(book), "-o", str(out), "--as-of", "2026-01-30", "-c", str(conf)]
    )
    assert ok.exit_code == 0, ok.output
    assert "Scored 3,000 of 3,000 rows" in ok.output and "Drift: ok" in ok.output
    small = _parquet(tmp_path, _book(100), "small.parquet")
    refused = run(
        app, ["score", "-i", str(small), "-o", str(out), "--as-of", "2026-01-31", "-c", str(conf)]
    )
    assert refused.exit_code == 3 and "--force" in refused.output
    shifted = _parquet(
        tmp_path, _book().assign(LIMIT_BAL=lambda f: f["LIMIT_BAL"] * 5), "s.parquet"
    )
    args = ["score", "-i", str(shifted), "-o", str(out), "--as-of", "2026-02-01", "-c", str(conf)]
    assert run(app, args).exit_code == 0
    assert run(app, [*args, "--fail-on-drift"]).exit_code == 4
    bad = run(app, ["score", "-i", str(tmp_path / "none.parquet"), "-o", str(out), "-c", str(conf)])
    assert bad.exit_code == 2 and "nothing was published" in bad.output
    bad_date = run(app, ["score", "-i", str(book), "--as-of", "31/01/2026", "-c", str(conf)])
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output


def test_kill_mid_run_leaves_previous_output_and_rerun_completes(env, tmp_path):
    cfg, _, store = env
    out = tmp_path / "out"
    book = _parquet(tmp_path, _book(200_000, seed=3))
    conf = _score_config(tmp_path, store)
    command = [
        sys.executable, "-m", "delinq.pipeline.cli", "score", "-i", str(book), "-o", str(out),
        "--as-of", "2026-01-31", "-c", str(conf),
    ]  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    subprocess.run(command, check=True, capture_output=True, env=environment, cwd=REPO)
    partition = out / "as_of_date=2026-01-31"
    before = {f.name: sha256(f) for f in partition.iterdir() if f.suffix == ".parquet"}

    proc = subprocess.Popen(command, env=environment, cwd=REPO, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(out.glob(".staging-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(out.glob(".staging-*")), "the run never started writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert {f.name: sha256(f) for f in partition.iterdir() if f.suffix == ".parquet"} == before

    subprocess.run(command, check=True, capture_output=True, env=environment, cwd=REPO)
    assert {f.name: sha256(f) for f in partition.iterdir() if f.suffix == ".parquet"} == before
    assert not list(out.glob(".staging-*"))
    assert json.loads((partition / MANIFEST_FILE).read_text())["rows"]["read"] == 200_000


def test_reason_codes_can_be_turned_off_and_the_rest_is_unchanged(env, tmp_path):
    cfg, _, _ = env
    book = _parquet(tmp_path, _book())
    on = score_book(book, tmp_path / "on", "2026-01-31", URI, cfg)
    off = score_book(book, tmp_path / "off", "2026-01-31", URI, cfg, reasons=False)
    with_codes = pd.read_parquet(on.partition / SCORES_FILE)
    without = pd.read_parquet(off.partition / SCORES_FILE)
    assert list(without.columns) == list(with_codes.columns)  # one schema either way
    assert without.filter(like="reason_").isna().all().all()
    pd.testing.assert_frame_equal(
        without[SCORES_SCHEMA.names], with_codes[SCORES_SCHEMA.names], check_exact=True
    )
    assert off.manifest["reason_codes"] == {"top_k": 0, "method": None, "units": None}


def _partition_bytes(out) -> dict:
    return {
        str(f.relative_to(out)): sha256(f)
        for f in sorted(out.glob("as_of_date=*/*"))
        if f.name != "drift.png"  # the same bytes too, but a plot is not the contract
    }


def test_an_implausible_night_publishes_nothing_and_leaves_every_partition_as_it_was(env, tmp_path):
    cfg, _, _ = env
    out = tmp_path / "out"
    for day in ("2026-01-30", "2026-01-31"):
        score_book(_parquet(tmp_path, _book()), out, day, URI, cfg)
    before = _partition_bytes(out)

    every_row_bad = _book().assign(PAY_0=-9)  # below the lowest status code: every row rejected
    some_bad = _book().assign(LIMIT_BAL=lambda f: f["LIMIT_BAL"].where(f.index % 10 > 0, -1.0))
    lost_column = _book().assign(AGE=np.nan)  # an extract that lost a column
    cases = {
        "every-row": (every_row_bad, r"every one of the 3,000 rows was rejected \(invalid_code"),
        "10%-rejected": (some_bad, r"10\.0% of the rows were rejected .*max_reject_share 5\.0%"),
        "empty-input": (lost_column, r"empty in every scored row: AGE"),
    }
    for name, (book, message) in cases.items():
        path = tmp_path / f"{name}.csv"
        book.to_csv(path, index=False)
        with pytest.raises(SanityError, match=message):
            score_book(path, out, "2026-01-31", URI, cfg)
        assert _partition_bytes(out) == before, name
        assert output_entries(out) == ["as_of_date=2026-01-30", "as_of_date=2026-01-31"]

    forced = score_book(tmp_path / "10%-rejected.csv", out, "2026-01-31", URI, cfg, force=True)
    assert forced.manifest["rows"] == {"read": 3_000, "scored": 2_700, "rejected": 300}
    with pytest.raises(SanityError, match="every one"):  # nothing to publish, even forced
        score_book(tmp_path / "every-row.csv", out, "2026-02-01", URI, cfg, force=True)


def test_a_parquet_column_of_null_type_is_a_file_fault(env, tmp_path):
    cfg, _, _ = env
    table = pa.Table.from_pandas(_book(), preserve_index=False)
    table = table.set_column(table.schema.get_field_index("PAY_0"), "PAY_0", pa.nulls(len(table)))
    pq.write_table(table, tmp_path / "null.parquet")
    with pytest.raises(ScoringError, match="'PAY_0' holds no values at all"):
        score_book(tmp_path / "null.parquet", tmp_path / "out", "2026-01-31", URI, cfg)
    assert output_entries(tmp_path / "out") == []


def test_a_date_has_one_partition_whatever_its_spelling(env, tmp_path):
    cfg, _, _ = env
    book = _parquet(tmp_path, _book(500))
    for spelling in ("2026-01-31", "20260131", "2026-W05-6"):
        result = score_book(book, tmp_path / "out", spelling, URI, cfg)
        assert result.partition.name == "as_of_date=2026-01-31"
    for wrong in ("", "2026-02-30", "yesterday"):
        with pytest.raises(ScoringError, match="is not a calendar date"):
            score_book(book, tmp_path / "out", wrong, URI, cfg)
    assert output_entries(tmp_path / "out") == ["as_of_date=2026-01-31"]


def _score_process(book, out, day, conf, *options) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "delinq.pipeline.cli", "score", "-i", str(book), "-o", str(out),
        "--as-of", day, "-c", str(conf), *options,
    ]  # fmt: skip
    environment = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    return subprocess.Popen(
        command, env=environment, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


# A run for 2026-01-31 caught mid-write: it holds the date's lock and a half-written staging
# folder until told to go on, then says whether its files survived the other processes.
LIVE_RUN = """
import sys
from pathlib import Path
from delinq.pipeline.score.publish import partition_lock, staging_folder
out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
with partition_lock(out, "2026-01-31"):
    staging = staging_folder(out, "2026-01-31")
    (staging / "scores.parquet").write_bytes(b"half written")
    print("staged", flush=True)
    sys.stdin.readline()
    print("intact" if (staging / "scores.parquet").exists() else "deleted", flush=True)
"""


def test_two_processes_share_an_output_one_run_per_date(env, tmp_path):
    """While a run for one date is writing, a run for another date publishes every row and
    leaves the first's files alone; a second run for the same date is refused at once."""
    _, _, store = env
    out = tmp_path / "out"
    conf = _score_config(tmp_path, store)
    small = _parquet(tmp_path, _book(2_000, seed=4), "small.parquet")
    environment = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    live = subprocess.Popen(
        [sys.executable, "-c", LIVE_RUN, str(out)], env=environment, cwd=REPO,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert live.stdout.readline().strip() == "staged"

    same_day = _score_process(small, out, "2026-01-31", conf, "--no-reasons")
    other_day = _score_process(small, out, "2026-01-30", conf, "--no-reasons")
    outputs = {name: p.communicate(timeout=300)[0].decode() for name, p in
               (("same", same_day), ("other", other_day))}  # fmt: skip
    waiting = _score_process(small, out, "2026-01-31", conf, "--no-reasons", "--wait")
    time.sleep(3)
    assert waiting.poll() is None  # still waiting for the live run's lock
    survived = live.communicate("go on\n", timeout=60)[0].strip()

    assert survived == "intact"  # before: the other date's run deleted its staging folder
    assert other_day.returncode == 0, outputs["other"]
    assert same_day.returncode == 5, outputs["same"]
    assert f"another run (process {live.pid} on " in outputs["same"]
    assert "is scoring 2026-01-31" in outputs["same"] and "--wait" in outputs["same"]
    assert "Traceback" not in "".join(outputs.values())
    manifest = json.loads((out / "as_of_date=2026-01-30" / MANIFEST_FILE).read_text())
    assert manifest["rows"] == {"read": 2_000, "scored": 2_000, "rejected": 0}
    # The live run ended without publishing: the waiting run takes its lock, cleans up after
    # it and publishes.
    assert waiting.wait(timeout=300) == 0, waiting.stdout.read().decode()
    assert output_entries(out) == ["as_of_date=2026-01-30", "as_of_date=2026-01-31"]
    assert not list(out.glob(".staging-*"))


def test_reasons_for_actioned_rows_only_match_the_full_reasons_there(env, tmp_path):
    cfg, _, _ = env
    path = _parquet(tmp_path, _book(2_000))
    full = pd.read_parquet(
        score_book(path, tmp_path / "a", "2026-01-31", URI, _every_row(cfg)).partition / SCORES_FILE
    )
    assert cfg.explain.reasons_for == "actioned"  # the shipped default
    some = pd.read_parquet(
        score_book(path, tmp_path / "b", "2026-01-31", URI, cfg).partition / SCORES_FILE
    )
    acted = (some["action"] != "none").to_numpy()
    assert 0 < acted.sum() < len(some)
    reasons = [c for c in some if c.startswith("reason_")]
    assert some.loc[~acted, reasons].isna().all().all()
    pd.testing.assert_frame_equal(some.loc[acted, reasons], full.loc[acted, reasons])
    pd.testing.assert_frame_equal(some.drop(columns=reasons), full.drop(columns=reasons))
