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
