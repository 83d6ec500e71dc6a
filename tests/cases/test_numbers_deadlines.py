"""受理编号 and deadlines in working days on the Chinese calendar (National Day 2026, 调休 included)."""

import datetime as dt
import itertools

from tongban.cases import deadlines, numbers
from tongban.cases.deadlines import Clock, Status, countdown

D = dt.date


def test_number_has_region_date_and_a_check_digit_catching_typos():
    number = numbers.compose("330106", D(2026, 12, 6), 42)
    assert number == number.strip() and number.isdigit() and len(number) == 18
    assert number.startswith("330106261206")
    assert numbers.display(number) == f"330106-261206-00042-{number[-1]}"
    assert numbers.is_valid(numbers.display(number))
    assert numbers.is_valid("３３０１０６ 261206 00042 " + number[-1])  # full-width digits, spaces
    for i in range(17):  # every single wrong digit is caught
        for d in "0123456789":
            if d != number[i]:
                assert not numbers.is_valid(number[:i] + d + number[i + 1:])
    for i in range(17):  # and every swap of neighbours
        if number[i] != number[i + 1]:
            swapped = number[:i] + number[i + 1] + number[i] + number[i + 2:]
            assert not numbers.is_valid(swapped)


def test_numbers_differ_by_sequence():
    made = {numbers.compose("110101", D(2026, 1, 5), n) for n in range(1, 2000)}
    assert len(made) == 1999


def test_deadline_across_national_day_2026():
    # Submitted Wednesday 2026-09-30 with 5 working days: Oct 1-7 are holidays, Oct 10 (Saturday) is an
    # adjusted working day (调休), so the days are Oct 8, 9, 10, 12, 13.
    clock = Clock(limit_days=5, started_on=D(2026, 9, 30))
    assert deadlines.due_date(clock, D(2026, 9, 30)) == D(2026, 10, 13)
    during = countdown(clock, D(2026, 10, 5))
    assert during.used_days == 0 and during.status == Status.RUNNING
    on_saturday = countdown(clock, D(2026, 10, 10))
    assert on_saturday.used_days == 3 and on_saturday.remaining_days == 2
    assert countdown(clock, D(2026, 10, 12)).status == Status.WARNING  # 4 of 5 used: 80 %
    assert countdown(clock, D(2026, 10, 13)).status == Status.WARNING  # the due day itself is not late
    late = countdown(clock, D(2026, 10, 14))
    assert late.status == Status.OVERDUE and late.remaining_days == -1


def test_adjusted_working_day_counts_and_the_sunday_before_national_day():
    from tongban.core.calendar import is_working_day

    assert is_working_day(D(2026, 10, 10))  # Saturday, 调休
    assert not is_working_day(D(2026, 10, 5))  # Monday, holiday
    clock = Clock(limit_days=1, started_on=D(2026, 10, 9))  # Friday
    assert deadlines.due_date(clock, D(2026, 10, 9)) == D(2026, 10, 10)  # the Saturday counts


def test_clock_stops_during_correction():
    start = D(2026, 9, 14)  # Monday
    # Returned for correction on Wed 16th, still waiting on Mon 21st: the clock stands at 2 used days.
    waiting = Clock(limit_days=5, started_on=start, suspended_since=D(2026, 9, 16))
    cd = countdown(waiting, D(2026, 9, 21))
    assert cd.status == Status.SUSPENDED and cd.used_days == 2
    # Answered Tuesday 22nd: 5 working days (17, 18, Sunday 20 — a 调休 working day — 21, 22) came off.
    assert deadlines.suspension_length(D(2026, 9, 16), D(2026, 9, 22)) == 5
    resumed = Clock(limit_days=5, started_on=start, suspended_days=5)
    # 5 + 5 working days after Monday 14th: 15, 16, 17, 18, 20, 21, 22, 23, 24 and — Friday 25th being
    # Mid-Autumn Festival — Monday 28th.
    assert deadlines.due_date(resumed, D(2026, 9, 22)) == D(2026, 9, 28)
    assert countdown(resumed, D(2026, 9, 22)).used_days == 2
    assert countdown(resumed, D(2026, 9, 28)).remaining_days == 0


def test_finished_cases_say_whether_on_time():
    clock = Clock(limit_days=2, started_on=D(2026, 9, 14), finished_on=D(2026, 9, 16))
    assert countdown(clock, D(2026, 12, 1)).status == Status.FINISHED
    late = Clock(limit_days=2, started_on=D(2026, 9, 14), finished_on=D(2026, 9, 17))
    assert countdown(late, D(2026, 12, 1)).status == Status.FINISHED_LATE
    assert countdown(Clock(limit_days=0, started_on=None), D(2026, 1, 1)).status == Status.NONE


def test_due_date_is_consistent_with_counting():
    for start, limit in itertools.product([D(2026, 9, 25), D(2026, 9, 30), D(2026, 10, 9)], range(0, 12)):
        clock = Clock(limit_days=limit, started_on=start)
        due = deadlines.due_date(clock, start)
        if limit:
            assert countdown(clock, due).remaining_days == 0
