"""A points card as one SQL query: a CASE expression per input, summed with the base.

Plain SQL that SQLite, DuckDB and PostgreSQL all run. The CASE branches test, in order, a
missing value, each special value, then the cuts from the lowest (``x < cut``), exactly as
:meth:`delinq.models.binning.ColumnBins.bin_of` assigns bins. Text inputs compare the value cast
to text (integer codes give ``'1'``, as training read them).
"""

from __future__ import annotations

from delinq.models.binning import OTHER
from delinq.models.points_card import PointsCard


def _name(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _number(value: float) -> str:
    return repr(float(value))


def _case(card: PointsCard, col: str) -> str:
    bins, pts = card.woe.bins_[col], card.points[col]
    n_reg = bins.n_regular
    x = _name(col)
    branches = [f"WHEN {x} IS NULL THEN {pts[n_reg + len(bins.specials)]}"]
    if bins.kind == "numeric":
        for i, v in enumerate(bins.specials):
            branches.append(f"WHEN {x} = {_number(v)} THEN {pts[n_reg + i]}")
        for k, cut in enumerate(bins.cuts):
            branches.append(f"WHEN {x} < {_number(cut)} THEN {pts[k]}")
        fallback = pts[n_reg - 1]
    else:
        for k, level in enumerate(bins.levels):
            if level != OTHER:
                branches.append(f"WHEN CAST({x} AS TEXT) = {_text(level)} THEN {pts[k]}")
        # Unseen levels score as the rare-levels bin, or as missing when there was none.
        other = bins.levels.index(OTHER) if OTHER in bins.levels else n_reg + len(bins.specials)
        fallback = pts[other]
    body = "\n    ".join(branches)
    return f"CASE\n    {body}\n    ELSE {fallback}\n  END"


def scorecard_sql(card: PointsCard, table: str, id_column: str | None = None) -> str:
    """A SELECT that scores every row of ``table``: its id (if given) and ``points``."""
    terms = [str(int(card.base))] + [_case(card, c) for c in card.points]
    select = f"{_name(id_column)}, " if id_column else ""
    total = "\n  + ".join(terms)
    return f"SELECT {select}\n  {total}\n  AS points\nFROM {_name(table)}"


def sql_types(card: PointsCard) -> dict[str, str]:
    """The column types the query expects, for creating a table to load a file into."""
    return {
        c: "DOUBLE PRECISION" if card.woe.bins_[c].kind == "numeric" else "TEXT"
        for c in card.points
    }
