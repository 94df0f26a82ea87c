"""Columns that identify a person, found by name, shape and uniqueness, so none is a model input.

A registered model is copied, shared and served: if a name, an e-mail or a loan number were an
input, its values would live on in the model file (category levels), in the input example
and in the drift bins. Such columns are taken out of the inputs before anything is fitted,
and a note names each one and why (never a value). ``data.personal`` declares more;
``data.not_personal`` keeps a column the rules would take out.
"""

from __future__ import annotations

import re

import pandas as pd

# Whole words of a column name that say it identifies someone (also in camelCase and with
# spaces, dots or dashes: "loan_id", "CustomerName", "e-mail", "Phone No").
NAME_WORDS = frozenset(
    {
        "id", "ids", "uid", "uuid", "guid",
        "name", "firstname", "lastname", "surname", "fullname",
        "email", "mail", "phone", "mobile", "tel", "telephone", "fax",
        "address", "addr", "street", "ssn", "passport", "nid", "iban",
    }
)  # fmt: skip
NAME_PHRASES = (
    "national id",
    "id card",
    "id number",
    "身份证",
    "姓名",
    "电话",
    "手机",
    "地址",
    "邮箱",
)
# A column named like that is personal only if it has many values: "Has a mobile phone" (0/1)
# and a 12-level "region_no" are inputs, a customer number is not.
NAMED_MIN_DISTINCT = 50
NAMED_MIN_SHARE = 0.05
# Text with this share of distinct values among its filled cells is free text: names, notes.
TEXT_MIN_SHARE = 0.5
TEXT_MIN_DISTINCT = 20
# Values shaped like these in at least half of a column's (sampled) cells.
SHAPES = {
    "e-mail addresses": re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"),
    "national id numbers": re.compile(r"^\d{6}(19|20)\d{2}(0[1-9]|1[0-2])\d{2}\d{3}[\dXx]$"),
    # 7 to 15 digits with the usual separators; not a date ("2024-01-31" has 8 digits).
    "phone numbers": re.compile(r"^(?!\d{4}[-/.]\d{1,2}[-/.]\d{1,2}$)\+?(?:[\s\-().]*\d){7,15}$"),
}
SHAPE_SAMPLE = 1_000
MIN_ROWS = 30


def _words(name: str) -> set[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", name)
    return {w for w in re.split(r"[^0-9A-Za-z]+", spaced.lower()) if w}


def _named_personal(name: str) -> bool:
    lowered = name.lower().replace("_", " ").replace("-", " ")
    return bool(_words(name) & NAME_WORDS) or any(p in lowered for p in NAME_PHRASES)


def _shape(values: pd.Series) -> str | None:
    """The personal shape most of ``values`` (as text) have, if any."""
    text = values.astype(str).str.strip()
    for what, pattern in SHAPES.items():
        if text.str.match(pattern).mean() >= 0.5:
            return what
    return None


def why_personal(column: pd.Series) -> str | None:
    """Why ``column`` looks like it identifies a person, in words; ``None`` if it does not.

    The reasons name a rule, never a value, so they can go into any note or log.
    """
    filled = column.dropna()
    if len(filled) < MIN_ROWS:
        return None
    distinct = filled.nunique()
    share = distinct / len(filled)
    name = str(column.name)
    text = not pd.api.types.is_numeric_dtype(filled) or pd.api.types.is_bool_dtype(filled)
    if text:
        shape = _shape(filled.iloc[:SHAPE_SAMPLE])
        if shape:
            return f"values shaped like {shape}"
        numbers = pd.to_numeric(filled, errors="coerce")
        if numbers.notna().mean() >= 0.5:  # numbers with a few words: judged as numbers
            filled, text = numbers.dropna(), False
            distinct, share = filled.nunique(), filled.nunique() / len(filled)
        elif share >= TEXT_MIN_SHARE and distinct >= TEXT_MIN_DISTINCT:
            return f"free text: {share:.0%} of its values are distinct"
    if not text and len(filled) and (filled == filled.round()).all():
        digits = filled.abs().astype("int64").astype(str).str.len()
        if distinct == len(filled) and (
            filled.max() - filled.min() < 3 * len(filled) or digits.min() >= 9
        ):
            return "a distinct whole number on every row, like an account or loan number"
        if (
            digits.min() >= 9
            and share >= 0.5
            and _shape(filled.iloc[:SHAPE_SAMPLE].astype("int64"))
        ):
            return "values shaped like phone or id numbers"
    if _named_personal(name) and distinct >= NAMED_MIN_DISTINCT and share >= NAMED_MIN_SHARE:
        return "its name says it identifies someone, and it has many distinct values"
    return None


def personal_columns(
    frame: pd.DataFrame, declared: list[str], not_personal: list[str]
) -> dict[str, str]:
    """Every column of ``frame`` to keep out of the inputs, with the reason for each.

    ``declared`` columns are personal by config; ``not_personal`` ones are never taken out.
    """
    found = {c: "declared in data.personal" for c in declared if c in frame.columns}
    for col in frame.columns:
        if col in found or col in not_personal:
            continue
        reason = why_personal(frame[col])
        if reason:
            found[col] = reason
    return found
