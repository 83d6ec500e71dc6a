"""Working days on the Chinese calendar (invariant 6), adjusted working days (调休) included.

The holiday schedule comes from the maintained `chinesecalendar` package, which follows the
State Council's yearly notice. A year the package does not cover yet (the notice for year N is
published late in year N-1) falls back to weekends plus the fixed-date statutory holidays and is
reported as provisional, so a deadline computed for it can be shown as such.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import chinese_calendar

# Fixed-date statutory holidays (全国年节及纪念日放假办法): New Year, Labour Day, National Day.
_FIXED_HOLIDAYS = {(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)}


@lru_cache(maxsize=1)
def covered_years() -> tuple[int, int]:
    """The first and last year the official schedule is known for."""
    years = {d.year for d in chinese_calendar.holidays} | {d.year for d in chinese_calendar.workdays}
    return min(years), max(years)


def is_provisional(day: dt.date) -> bool:
    first, last = covered_years()
    return not first <= day.year <= last


def is_working_day(day: dt.date) -> bool:
    if isinstance(day, dt.datetime):
        raise TypeError("pass a date in Asia/Shanghai, not a datetime")
    if not is_provisional(day):
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5 and (day.month, day.day) not in _FIXED_HOLIDAYS


# Working days counted once into a cumulative table, so that a deadline or a countdown costs two look-ups
# instead of a walk over every day (a year-old case's countdown walked ~365 days, and a list page shows 20).
_TABLE_FIRST = dt.date(2000, 1, 1)
_TABLE_LAST = dt.date(2060, 12, 31)


@lru_cache(maxsize=1)
def _cumulative() -> tuple[int, ...]:
    """counts[i] = working days in (_TABLE_FIRST, _TABLE_FIRST + i days]."""
    counts = [0]
    day = _TABLE_FIRST
    while day < _TABLE_LAST:
        day += dt.timedelta(days=1)
        counts.append(counts[-1] + is_working_day(day))
    return tuple(counts)


def _in_table(*days: dt.date) -> bool:
    return all(_TABLE_FIRST <= day <= _TABLE_LAST for day in days)


def add_working_days(start: dt.date, days: int) -> dt.date:
    """The date `days` working days after `start` (start itself is not counted).

    A case accepted on Thursday 2026-09-17 with a promise of 3 working days is due on Monday
    2026-09-21: Friday the 18th, then Sunday the 20th, a 调休 working day, then the 21st.
    """
    if days < 0:
        raise ValueError("days must not be negative")
    if _in_table(start, start + dt.timedelta(days=days * 3 + 30)):  # room for the longest holidays
        from bisect import bisect_left

        counts = _cumulative()
        index = bisect_left(counts, counts[(start - _TABLE_FIRST).days] + days, lo=(start - _TABLE_FIRST).days)
        return _TABLE_FIRST + dt.timedelta(days=index)
    current = start
    remaining = days
    while remaining:
        current += dt.timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days in (start, end]; negative when end is before start.

    working_days_between(d, add_working_days(d, n)) == n for every n >= 0.
    """
    if end < start:
        return -working_days_between(end, start)
    if _in_table(start, end):
        counts = _cumulative()
        return counts[(end - _TABLE_FIRST).days] - counts[(start - _TABLE_FIRST).days]
    count = 0
    current = start
    while current < end:
        current += dt.timedelta(days=1)
        if is_working_day(current):
            count += 1
    return count
