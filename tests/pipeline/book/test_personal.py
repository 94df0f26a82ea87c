"""Finding the columns that identify a person, on generated and real tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from delinq.pipeline.book.io import DataError, validate
from delinq.pipeline.book.personal import personal_columns, why_personal
from delinq.pipeline.config import DataConfig

N = 400
rng = np.random.default_rng(0)
PERSONAL = {
    "email": [f"user{i}@example.com" for i in range(N)],
    "Mobile": [f"+86 138 {i:04d} {i * 7 % 10000:04d}" for i in range(N)],
    "national_id": [f"11010519900307{i % 1000:03d}{i % 10}" for i in range(N)],
    "customer": [f"Person Number {i}" for i in range(N)],  # free text, no telling name
    "loanRef": 10_000 + rng.permutation(N),  # sequential account numbers
    "CustomerId": rng.integers(0, 150, N),  # repeats (several loans each), but many values
}
INPUTS = {
    "Has a mobile phone": rng.integers(0, 2, N),  # a flag whose name mentions a phone
    "region_id": rng.choice([f"r{i}" for i in range(12)], N),  # a code with few levels
    "income": rng.lognormal(10, 1, N).round(2),
    "amount": rng.integers(1_000, 500_000, N) * 10,  # whole and near-unique, not a number line
    # 8 digits like a phone number, but a date (30 of them: a distinct one per row is free text)
    "opened": pd.date_range("2020-01-01", periods=30).strftime("%Y-%m-%d")[np.arange(N) % 30],
    "grade": rng.choice(list("ABCDEFG"), N),
}


@pytest.mark.parametrize("column", sorted(PERSONAL))
def test_identifiers_are_found_and_the_reason_holds_no_value(column):
    values = pd.Series(PERSONAL[column], name=column)
    reason = why_personal(values)
    assert reason
    assert not any(str(v) in reason for v in values)


@pytest.mark.parametrize("column", sorted(INPUTS))
def test_ordinary_inputs_are_left_alone(column):
    assert why_personal(pd.Series(INPUTS[column], name=column)) is None


def test_declared_and_kept_columns_override_the_rules():
    frame = pd.DataFrame({**PERSONAL, **INPUTS})
    found = personal_columns(frame, declared=["grade"], not_personal=["customer"])
    assert set(found) == (set(PERSONAL) - {"customer"}) | {"grade"}
    assert found["grade"] == "declared in data.personal"


def _config(**kwargs) -> DataConfig:
    return DataConfig(**{"target": "bad", "id": None, "categorical": [], "history": None, **kwargs})


def test_validation_keeps_personal_columns_out_of_the_inputs():
    frame = pd.DataFrame({**PERSONAL, **INPUTS, "bad": rng.integers(0, 2, N)})
    data = validate(frame, _config(not_personal=["CustomerId"]), "t.csv")
    assert set(data.personal) == set(PERSONAL) - {"CustomerId"}
    assert list(data.X.columns) == ["CustomerId", *INPUTS]


def test_personal_settings_that_cannot_hold_are_clear_errors():
    frame = pd.DataFrame({**INPUTS, "bad": rng.integers(0, 2, N)})
    with pytest.raises(DataError, match="data.personal columns not found: nope"):
        validate(frame, _config(personal=["nope"]), "t.csv")
    with pytest.raises(DataError, match="also declared as inputs.*grade"):
        validate(frame, _config(personal=["grade"], categorical=["grade"]), "t.csv")
    with pytest.raises(DataError, match="no feature columns left"):
        validate(frame, _config(personal=list(INPUTS)), "t.csv")


@pytest.mark.realdata
def test_the_real_tables_lose_only_their_id(taiwan_path, german_path):
    for path, expected in ((taiwan_path, {"ID"}), (german_path, set())):
        frame = pd.read_csv(path)
        assert set(personal_columns(frame, [], [])) == expected
