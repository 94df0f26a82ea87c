"""Loading and validation: each fault gives a specific error naming file and column."""

import numpy as np
import pandas as pd
import pytest

from delinq.pipeline.book.io import DataError, adapt_to_columns, load_dataset, read_table, validate
from delinq.pipeline.config import DataConfig

CFG = DataConfig(target="y", id="id", categorical=[], history=None)


def _frame(n=20):
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.standard_normal(n),
            "city": rng.choice(["a", "b"], n),
            "y": np.tile([0, 1], n // 2),
        }
    )


def _write(tmp_path, frame, name="t.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False) if name.endswith(".csv") else frame.to_parquet(path)
    return path


def test_reads_csv_and_parquet_alike(tmp_path):
    a = load_dataset(_write(tmp_path, _frame()), CFG)
    b = load_dataset(_write(tmp_path, _frame(), "t.parquet"), CFG)
    pd.testing.assert_frame_equal(a.X, b.X)
    assert a.numeric == ["x"] and a.categorical == ["city"]
    assert a.X["city"].dtype == object and a.y.tolist() == b.y.tolist()


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "none.csv")


def test_empty_file(tmp_path):
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataError, match=r"e\.csv: file is empty"):
        read_table(tmp_path / "e.csv")
    (tmp_path / "h.csv").write_text("id,x,y\n")
    with pytest.raises(DataError, match="header but no rows"):
        read_table(tmp_path / "h.csv")


def test_unreadable_file(tmp_path):
    path = tmp_path / "junk.parquet"
    path.write_bytes(b"this is not parquet at all")
    with pytest.raises(DataError, match=r"junk\.parquet: not a Parquet file"):
        read_table(path)
    with pytest.raises(DataError, match="unsupported file type"):
        read_table(_write(tmp_path, _frame()).rename(tmp_path / "t.xlsx"))


def test_missing_target_suggests_close_names():
    with pytest.raises(DataError, match="target column 'Y_' not found; did you mean y"):
        validate(_frame(), CFG.model_copy(update={"target": "Y_"}), "src")


def test_non_binary_target():
    frame = _frame()
    frame["y"] = np.arange(len(frame)) % 3
    with pytest.raises(DataError, match="exactly two values, found 3"):
        validate(frame, CFG, "src")


def test_missing_target_values_are_not_dropped_silently():
    frame = _frame()
    frame.loc[3, "y"] = np.nan
    with pytest.raises(DataError, match="empty in 1 rows"):
        validate(frame, CFG, "src")


def test_duplicated_ids():
    frame = _frame()
    frame.loc[5, "id"] = 4
    with pytest.raises(DataError, match="id column 'id' has duplicated values in 2 rows"):
        validate(frame, CFG, "src")


def test_entirely_empty_column():
    frame = _frame()
    frame["blank"] = np.nan
    with pytest.raises(DataError, match="entirely empty: blank"):
        validate(frame, CFG, "src")


def test_string_target_with_positive_label():
    frame = _frame()
    frame["y"] = np.where(frame["y"] == 1, "bad", "good")
    ds = validate(frame, CFG.model_copy(update={"positive_label": "bad"}), "src")
    assert ds.y.tolist() == _frame()["y"].tolist()
    # "bad" is recognised without a label; an unknown pair is not
    assert validate(frame, CFG, "src").y.sum() == _frame()["y"].sum()
    frame["y"] = np.where(frame["y"] == "bad", "north", "south")
    with pytest.raises(DataError, match="--positive-label"):
        validate(frame, CFG, "src")
    with pytest.raises(DataError, match="positive label 'east' does not occur"):
        validate(frame, CFG.model_copy(update={"positive_label": "east"}), "src")


def test_history_columns_must_exist_and_be_numeric(book):
    from delinq.pipeline.config import DataConfig as Full

    cfg = Full()
    with pytest.raises(DataError, match="history column 'PAY_6' not found"):
        validate(book.drop(columns=["PAY_6"]), cfg, "src")
    bad = book.astype({"PAY_0": object})
    bad.loc[0, "PAY_0"] = "late"
    with pytest.raises(DataError, match="history column 'PAY_0' must be numeric; 1 values"):
        validate(bad, cfg, "src")


def test_adapt_drops_settings_for_absent_columns():
    cfg = DataConfig()  # the Taiwan-schema defaults
    adapted, notes = adapt_to_columns(cfg, ["a", "b", "default_next_month"])
    assert adapted.history is None and adapted.id is None and adapted.categorical == []
    assert len(notes) == 3


def test_a_numeric_column_with_one_word_in_it_stays_numeric(german_path, tmp_path):
    # The table: one "twelve" among 1,000 durations turned the column into levels.
    frame = pd.read_csv(german_path)
    cfg = DataConfig(
        target="creditability", positive_label="bad", id=None, categorical=[], history=None
    )
    clean = validate(frame, cfg, "german")
    frame["duration_in_month"] = frame["duration_in_month"].astype(object)
    frame.loc[9, "duration_in_month"] = "twelve"
    path = tmp_path / "german.csv"
    frame.to_csv(path, index=False)
    dirty = load_dataset(path, cfg)
    assert dirty.categorical == clean.categorical and "duration_in_month" in dirty.numeric
    assert np.isnan(dirty.X.loc[9, "duration_in_month"])
    assert (
        dirty.X["duration_in_month"]
        .drop(index=9)
        .equals(clean.X["duration_in_month"].drop(index=9))
    )
    (note,) = dirty.notes
    assert "'duration_in_month'" in note and "1 cell(s)" in note and "row position 9" in note
    assert "twelve" not in note


def test_a_column_half_text_stops_reading_and_names_it(tmp_path):
    frame = _frame(100)
    frame["x"] = frame["x"].astype(object)
    frame.loc[[3, 7, 11, 40, 41], "x"] = "n/a?"
    with pytest.raises(DataError, match=r"column 'x' .* 5 \(5\.0%, first at row position 3\)"):
        validate(frame, CFG, "t.csv")
    relaxed = CFG.model_copy(update={"max_unparseable_share": 0.1})
    assert validate(frame, relaxed, "t.csv").X["x"].isna().sum() == 5
    declared = CFG.model_copy(update={"categorical": ["x"]})
    assert "x" in validate(frame, declared, "t.csv").categorical
    # Text columns with a few number-like levels stay text.
    frame["city"] = ["a", "b", "7"] * 33 + ["a"]
    assert "city" in validate(frame, relaxed, "t.csv").categorical


def test_sep_overrides_a_detected_delimiter_that_would_be_wrong(tmp_path):
    # Commas inside the column names outnumber the semicolons that really separate them.
    path = tmp_path / "t.csv"
    path.write_text("id;amount, EUR, net;rate, % p.a., fixed;y\n1;10;1,5;0\n2;20;2,5;1\n")
    names = ["id", "amount, EUR, net", "rate, % p.a., fixed", "y"]
    assert list(read_table(path).columns) != names
    assert list(read_table(path, sep=";").columns) == names


def test_national_ids_with_a_check_letter_are_personal_not_a_numeric_column():
    # 18-character resident ids are digits but for a final X on about one in eleven: they must
    # be kept out as personal data, not parsed as numbers (nor stop reading as half text).
    rng = np.random.default_rng(1)
    frame = _frame(200)
    ids = [f"{rng.integers(10**16, 10**17)}{rng.integers(0, 10)}" for _ in range(200)]
    frame["resident"] = [i[:-1] + "X" if k % 11 == 0 else i for k, i in enumerate(ids)]
    dataset = validate(frame, CFG, "t.csv")
    assert "resident" in dataset.personal and "resident" not in dataset.X
