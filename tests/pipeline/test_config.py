"""Config loading: defaults, shipped files, and errors that name the key and the file."""

from pathlib import Path

import pytest

from delinq.pipeline.config import Config, ConfigError, load_config
from delinq.pipeline.portfolio.policy import load_policy

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["train.yaml", "taiwan.yaml", "german.yaml"])
def test_shipped_configs_load(name):
    cfg = load_config(REPO / "configs" / name)
    assert isinstance(cfg, Config)


def test_defaults_describe_the_simulated_book():
    cfg = load_config(None)
    assert cfg.data.target == "default_next_month"
    assert cfg.data.history is not None and cfg.data.history.status[0] == "PAY_0"
    assert cfg.models.families == ["logreg", "svm", "random_forest", "xgboost", "scorecard"]


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("cv:\n  folds: 5\n  fold: 3\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(path) in str(err.value) and "cv.fold: unknown key" in str(err.value)


def test_wrong_type_names_key_and_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  search:\n    n_iter: lots\n")
    with pytest.raises(ConfigError, match=r"models\.search\.n_iter") as err:
        load_config(path)
    assert str(path) in str(err.value)


def test_unknown_family_and_imbalance_method(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("models: {families: [logreg, catboost]}\nimbalance: {method: magic}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "models.families.1" in str(err.value) and "imbalance.method" in str(err.value)


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "broken.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(listy)


def test_a_relative_policy_is_found_from_any_working_folder(tmp_path, monkeypatch):
    # A scheduler starts `delinq score -c /abs/project/configs/night.yaml` from its own folder.
    project = tmp_path / "project"
    (project / "configs").mkdir(parents=True)
    (project / "configs" / "policy.yaml").write_text("rules: []\n")
    (project / "configs" / "night.yaml").write_text("policy: configs/policy.yaml\n")
    (project / "configs" / "beside.yaml").write_text("policy: policy.yaml\n")
    monkeypatch.chdir(tmp_path)
    cfg = load_config(project / "configs" / "night.yaml")
    assert cfg.policy == (project / "configs" / "policy.yaml")
    assert load_config(project / "configs" / "beside.yaml").policy.exists()
    (project / "configs" / "lost.yaml").write_text("policy: nowhere.yaml\n")
    assert load_config(project / "configs" / "lost.yaml").policy == Path("nowhere.yaml")


def test_a_config_that_names_no_policy_gets_the_shipped_one_from_any_folder(tmp_path, monkeypatch):
    # A user's own config (or none at all) in a folder of their own: the card and the nightly
    # actions still find a policy, the repository's.
    shipped = Path(__file__).resolve().parents[2] / "configs" / "collection_policy.yaml"
    (tmp_path / "mine.yaml").write_text("seed: 7\n")
    monkeypatch.chdir(tmp_path)
    assert load_config(tmp_path / "mine.yaml").policy == shipped
    assert Config().policy == shipped
    load_policy(Config().policy, list(Config().scorecard.bands))  # it reads
