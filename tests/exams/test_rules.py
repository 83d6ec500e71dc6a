"""Each eligibility rule of 公安部令第162号 on its edge days (pure functions, no database)."""

from __future__ import annotations

import datetime as dt

import pytest

from tongban.core.errors import TongbanError
from tongban.exams import rules
from tongban.exams.rules import Past

ISSUED = dt.date(2027, 1, 4)  # 学习驾驶证明 issued the day 科目一 was passed
S1 = Past("subject1", "passed", ISSUED)
FAR = dt.date(2027, 6, 1)


def check(subject: str, today: dt.date, *, cls: str = "C1", history: tuple[Past, ...] = (S1,),
          exam: dt.date = FAR, closed: bool = False) -> None:
    rules.check_booking(subject=subject, licence_class=cls, issued_on=ISSUED, valid_to=rules.permit_valid_to(ISSUED),
                        closed=closed, history=history, today=today, exam_date=exam)


def code(subject: str, today: dt.date, **kw: object) -> str:
    with pytest.raises(TongbanError) as info:
        check(subject, today, **kw)  # type: ignore[arg-type]
    return info.value.code


@pytest.mark.parametrize(("cls", "days"), [("C1", 10), ("C2", 10), ("C5", 10), ("F", 10),
                                           ("A1", 20), ("A2", 20), ("B2", 20), ("D", 20), ("E", 20)])
def test_art37_subject2_after_10_or_20_days_of_the_permit(cls, days):
    assert code("subject2", ISSUED + dt.timedelta(days=days - 1), cls=cls) == "exam_too_early"
    check("subject2", ISSUED + dt.timedelta(days=days), cls=cls)


@pytest.mark.parametrize(("cls", "days"), [("C3", 20), ("E", 20), ("F", 20), ("C1", 30), ("C2", 30), ("C6", 30),
                                           ("A1", 40), ("A3", 40), ("B1", 40), ("B2", 40)])
def test_art38_subject3_road_after_20_30_or_40_days_by_type(cls, days):
    assert code("subject3_road", ISSUED + dt.timedelta(days=days - 1), cls=cls) == "exam_too_early"
    check("subject3_road", ISSUED + dt.timedelta(days=days), cls=cls)


def test_art34_subject2_and_3_only_after_subject1_and_safety_after_both():
    today = ISSUED + dt.timedelta(days=40)
    with pytest.raises(TongbanError) as info:
        rules.check_booking(subject="subject2", licence_class="C1", issued_on=None, valid_to=None, closed=False,
                            history=(Past("subject1", "failed", ISSUED),), today=today, exam_date=FAR)
    assert info.value.code == "exam_order"
    both = (S1, Past("subject2", "passed", ISSUED + dt.timedelta(days=12)))
    assert code("subject3_safety", today, history=both) == "exam_order"
    check("subject3_safety", today, history=(*both, Past("subject3_road", "passed", today)))
    assert code("subject1", today) == "exam_already_passed"


def test_art35_permit_valid_three_years_exam_on_the_last_day_only():
    valid_to = rules.permit_valid_to(ISSUED)
    assert valid_to == dt.date(2030, 1, 3)
    today = ISSUED + dt.timedelta(days=30)
    check("subject2", today, exam=valid_to)
    assert code("subject2", today, exam=valid_to + dt.timedelta(days=1)) == "exam_permit_expired"
    assert rules.permit_valid_to(dt.date(2028, 2, 29)) == dt.date(2031, 2, 27)  # leap day: to 28 Feb, minus one


@pytest.mark.parametrize("failure", ["failed", "no_show"])
@pytest.mark.parametrize("subject", ["subject2", "subject3_road", "subject3_safety"])
def test_art42_rebook_a_failed_subject_only_ten_days_later(subject, failure):
    fail_day = ISSUED + dt.timedelta(days=60)
    history: tuple[Past, ...] = (S1, Past("subject2", "passed", ISSUED + dt.timedelta(days=20)),
               Past("subject3_road", "passed", ISSUED + dt.timedelta(days=50)) if subject == "subject3_safety"
               else Past("subject1", "passed", ISSUED), Past(subject, failure, fail_day))
    history = tuple(p for p in history if not (p.subject == subject and p.status == "passed"))
    assert code(subject, fail_day + dt.timedelta(days=9), history=history) == "exam_retake_wait"
    check(subject, fail_day + dt.timedelta(days=10), history=history)


def test_art41_no_show_counts_as_a_fail():
    fail_day = ISSUED + dt.timedelta(days=20)
    assert code("subject2", fail_day + dt.timedelta(days=5),
                history=(S1, Past("subject2", "no_show", fail_day))) == "exam_retake_wait"


@pytest.mark.parametrize("subject", ["subject2", "subject3_road"])
def test_art43_at_most_five_bookings_within_the_permit(subject):
    today = ISSUED + dt.timedelta(days=400)
    four = tuple(Past(subject, "failed", ISSUED + dt.timedelta(days=40 + 20 * i)) for i in range(4))
    check(subject, today, history=(S1, *four))  # the fifth booking is allowed
    five = (*four, Past(subject, "failed", ISSUED + dt.timedelta(days=200)))
    assert code(subject, today, history=(S1, *five)) == "exam_booking_limit"  # the sixth is not
    # Cancelled and unallocated requests are not bookings of an exam.
    check(subject, today, history=(S1, *four, Past(subject, "cancelled", today), Past(subject, "unallocated", today)))
    assert rules.fifth_fail_closes((S1, *five), subject)
    assert not rules.fifth_fail_closes((S1, *four), subject)


def test_art41_cancel_until_the_day_before_the_exam():
    exam = dt.date(2027, 3, 15)
    rules.check_cancel(today=exam - dt.timedelta(days=1), exam_date=exam)
    with pytest.raises(TongbanError) as info:
        rules.check_cancel(today=exam, exam_date=exam)
    assert info.value.code == "exam_cancel_too_late"


def test_ranking_priority_when_under_six_months_of_the_permit_are_left():
    valid_to = dt.date(2030, 1, 3)
    assert not rules.has_priority(valid_to, dt.date(2029, 7, 3))  # exactly six months left
    assert rules.has_priority(valid_to, dt.date(2029, 7, 4))  # a day less
    assert not rules.has_priority(None, dt.date(2029, 7, 4))  # no permit yet (科目一)


def test_window_closes_two_working_days_before_the_exam_on_the_calendar():
    # Monday 2027-03-15: the window closes at 00:00 on Thursday the 11th (Fri 12th, then the exam Monday).
    assert rules.window_closes_on(dt.date(2027, 3, 15)) == dt.date(2027, 3, 11)
    # After the National Day holiday (2026-10-01..08, 09-27 and 10-10 worked): exam Monday 2026-10-12.
    assert rules.window_closes_on(dt.date(2026, 10, 12)) == dt.date(2026, 10, 9)
