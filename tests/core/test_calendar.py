import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tongban.core import calendar

D = dt.date


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (D(2024, 2, 4), True),   # Sunday, 调休 before the Spring Festival 2024
        (D(2024, 2, 12), False),  # Spring Festival holiday, a Monday
        (D(2024, 10, 12), True),  # Saturday, 调休 after National Day 2024
        (D(2025, 1, 26), True),  # Sunday, 调休 for the Spring Festival 2025
        (D(2025, 10, 8), False),  # National Day + Mid-Autumn 2025
        (D(2026, 2, 14), True),  # Saturday, 调休 for the Spring Festival 2026
        (D(2026, 2, 16), False),  # Spring Festival 2026
        (D(2026, 9, 20), True),  # Sunday, 调休 for National Day 2026
        (D(2026, 9, 25), False),  # Mid-Autumn 2026, a Friday
        (D(2026, 11, 24), True),  # an ordinary Tuesday
        (D(2026, 11, 28), False),  # an ordinary Saturday
    ],
)
def test_official_schedule(day, working):
    assert calendar.is_working_day(day) is working
    assert calendar.is_provisional(day) is False


def test_add_working_days_crosses_tiaoxiu_and_holiday():
    # Thursday 17 Sept 2026 + 3: Fri 18th, Sun 20th (调休), Mon 21st.
    assert calendar.add_working_days(D(2026, 9, 17), 3) == D(2026, 9, 21)
    # Over National Day 2026 (1-7 Oct off): Wed 30 Sept + 1 -> Thu 8 Oct.
    assert calendar.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)
    # Over the Spring Festival 2026: Sat 14 Feb is worked, 15-23 Feb off.
    assert calendar.add_working_days(D(2026, 2, 13), 2) == D(2026, 2, 24)
    assert calendar.add_working_days(D(2026, 2, 13), 0) == D(2026, 2, 13)


def test_working_days_between_counts_half_open_interval():
    assert calendar.working_days_between(D(2026, 9, 30), D(2026, 10, 8)) == 1
    assert calendar.working_days_between(D(2026, 10, 8), D(2026, 9, 30)) == -1
    assert calendar.working_days_between(D(2026, 11, 23), D(2026, 11, 23)) == 0
    # A whole ordinary week: Mon..Sun -> Tue..Fri counted = 4
    assert calendar.working_days_between(D(2026, 11, 23), D(2026, 11, 29)) == 4


def test_negative_days_rejected():
    with pytest.raises(ValueError):
        calendar.add_working_days(D(2026, 1, 5), -1)


def test_datetime_rejected():
    with pytest.raises(TypeError):
        calendar.is_working_day(dt.datetime(2026, 1, 5, tzinfo=dt.UTC))


def test_uncovered_year_is_provisional_and_keeps_fixed_holidays():
    first, last = calendar.covered_years()
    assert first <= 2024 and last >= 2026
    day = D(last + 1, 10, 1)
    assert calendar.is_provisional(day)
    assert calendar.is_working_day(day) is False
    assert calendar.is_working_day(D(last + 1, 1, 1)) is False


@given(start=st.dates(min_value=D(2024, 1, 1), max_value=D(2026, 9, 1)), n=st.integers(0, 40))
def test_between_inverts_add(start, n):
    due = calendar.add_working_days(start, n)
    assert calendar.working_days_between(start, due) == n
    if n:
        assert calendar.is_working_day(due)
