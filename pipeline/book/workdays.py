"""Day counts for days past due: calendar days (自然日) or mainland China's working days (工作日).

Working days leave out weekends and statutory holidays, and count the weekend days the State
Council makes working days (调休, e.g. a Sunday before Spring Festival). The calendar comes
from ``chinesecalendar``, which is updated each year when the holidays are announced. A date in
a year it does not cover is an error: counting such a year as all weekdays would be silently
wrong around its holidays.

Days are numbers: days since 1970-01-01 (numpy ``datetime64[D]`` as integers).
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import numpy as np

from delinq.pipeline.book.io import DataError

CALENDAR, WORKING = "calendar", "working"


@cache
def _working_table() -> tuple[int, np.ndarray]:
    """(first day covered, cumulative working days on or before each covered day)."""
    from chinese_calendar import is_workday
    from chinese_calendar.constants import holidays

    first = dt.date(min(holidays).year, 1, 1)
    last = dt.date(max(holidays).year, 12, 31)
    days = [first + dt.timedelta(n) for n in range((last - first).days + 1)]
    working = np.fromiter((is_workday(d) for d in days), dtype=np.int64, count=len(days))
    return int(np.datetime64(first, "D").astype(np.int64)), np.cumsum(working)


def covered_years() -> tuple[int, int]:
    """The first and last year whose holidays the working-day calendar knows."""
    start, table = _working_table()
    first = np.datetime64(start, "D").astype(object)
    last = np.datetime64(start + len(table) - 1, "D").astype(object)
    return first.year, last.year


def day_numbers(days: np.ndarray, count: str) -> np.ndarray:
    """Each day's position on the ``count`` scale ("calendar" or "working").

    The difference of two positions is the number of days counted after the first up to and
    including the second: for working days, the working days in that span. A weekend day or
    holiday takes the position of the working day before it.
    """
    days = np.asarray(days, dtype=np.int64)
    if count == CALENDAR:
        return days
    if count != WORKING:
        raise ValueError(f"unknown day count {count!r}: calendar or working")
    start, table = _working_table()
    outside = (days < start) | (days >= start + len(table))
    if outside.any():
        years = sorted({int(str(np.datetime64(int(d), "D"))[:4]) for d in np.unique(days[outside])})
        first, last = covered_years()
        raise DataError(
            f"working days: the holiday calendar (chinesecalendar) covers {first}-{last}, and "
            f"{int(outside.sum())} date(s) fall in {', '.join(map(str, years[:5]))}: upgrade "
            "chinesecalendar once those holidays are announced, or count those products in "
            "calendar days"
        )
    return table[days - start]
