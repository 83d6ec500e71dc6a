"""The eligibility rules of driving-test booking, as pure functions over the applicant's record and history.

Each rule names the article of 《机动车驾驶证申领和使用规定》(公安部令第162号) it comes from; the tests
repeat the article in their names and try each rule on its edge days. Day rules count calendar days (the
order says 日, not 工作日); the booking window's close counts working days (`tongban.core.calendar`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.utils.translation import gettext as _

from tongban.core.calendar import is_working_day  # noqa: F401  (re-exported for the demo)
from tongban.core.errors import TongbanError

# 第三十七条: 科目二 no earlier than 10 days (小型汽车 types, 轻便摩托车) or 20 days (the large types and the rest)
# after the learner's permit was issued.
SUBJECT2_DAYS = {"C1": 10, "C2": 10, "C5": 10, "F": 10,
                 "A1": 20, "A2": 20, "A3": 20, "B1": 20, "B2": 20, "C3": 20, "C6": 20, "D": 20, "E": 20}
# 第三十八条: 科目三 (道路驾驶技能) after 20 days (低速载货汽车, 摩托车), 30 days (小型汽车 types, 轻型牵引挂车)
# or 40 days (大型客车, 重型牵引挂车, 城市公交车, 中型客车, 大型货车).
SUBJECT3_DAYS = {"C3": 20, "D": 20, "E": 20, "F": 20,
                 "C1": 30, "C2": 30, "C5": 30, "C6": 30,
                 "A1": 40, "A2": 40, "A3": 40, "B1": 40, "B2": 40}
RETAKE_DAYS = 10  # 第四十二条: a failed 科目二 / 科目三 is booked again only ten days later
MAX_BOOKINGS = 5  # 第四十三条: at most five bookings each of 科目二 and 科目三道路 while the permit is valid
LIMITED_SUBJECTS = ("subject2", "subject3_road")
PERMIT_YEARS = 3  # 第三十五条: the learner's permit is valid three years
PRIORITY_MONTHS = 6  # 考试预约排序: a permit with under six months left is ranked first
WINDOW_WORKING_DAYS = 2  # the booking window closes two working days before the exam day
SEATED = ("allocated", "passed", "failed", "no_show")
FAILED = ("failed", "no_show")  # 第四十一条: a no-show counts as a fail


def refused(code: str, message: str) -> TongbanError:
    return TongbanError(code, message, None, 422, details=[{"field": "", "message": message}])


@dataclass(frozen=True)
class Past:
    """One earlier booking of the applicant: its subject, status and exam day."""

    subject: str
    status: str
    exam_date: dt.date


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def permit_valid_to(issued_on: dt.date) -> dt.date:
    """第三十五条: three years from issue, the day before the anniversary."""
    return add_months(issued_on, 12 * PERMIT_YEARS) - dt.timedelta(days=1)


def window_closes_on(exam_date: dt.date) -> dt.date:
    """The day (00:00 local) the booking window closes: the second working day before the exam day."""
    day, counted = exam_date, 0
    while counted < WINDOW_WORKING_DAYS:
        day -= dt.timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return day


def has_priority(valid_to: dt.date | None, exam_date: dt.date) -> bool:
    """考试预约排序: under six months of validity left on the exam day gets priority."""
    return valid_to is not None and add_months(exam_date, PRIORITY_MONTHS) > valid_to


def earliest_booking_day(subject: str, licence_class: str, issued_on: dt.date) -> dt.date | None:
    """第三十七条 (科目二) and 第三十八条 (科目三): the first day the subject may be booked."""
    if subject == "subject2":
        return issued_on + dt.timedelta(days=SUBJECT2_DAYS[licence_class])
    if subject == "subject3_road":
        return issued_on + dt.timedelta(days=SUBJECT3_DAYS[licence_class])
    return None


def check_booking(*, subject: str, licence_class: str, issued_on: dt.date | None, valid_to: dt.date | None,
                  closed: bool, history: Iterable[Past], today: dt.date, exam_date: dt.date) -> None:
    """Raise a TongbanError (with a code and a Chinese message) unless this booking is allowed."""
    past = list(history)
    passed = {p.subject for p in past if p.status == "passed"}
    if issued_on is not None:  # 第三十五条: the permit is issued when 科目一 is passed (records carried over too)
        passed.add("subject1")
    if closed:
        raise refused("exam_permit_closed", _("该驾驶证申请已结束，请重新申请。"))
    if subject in passed:
        raise refused("exam_already_passed", _("该科目已考试合格，无须再预约。"))
    if subject != "subject1":
        # 第三十四条: 科目二 and 科目三道路 after 科目一 is passed; 安全文明驾驶常识 after both are passed.
        if "subject1" not in passed or issued_on is None or valid_to is None:
            raise refused("exam_order", _("科目一考试合格、取得学习驾驶证明后方可预约该科目。"))
        if subject == "subject3_safety" and not {"subject2", "subject3_road"} <= passed:
            raise refused("exam_order", _("科目二和科目三道路驾驶技能考试均合格后方可预约安全文明驾驶常识考试。"))
        # 第三十五条: exams are taken while the permit is valid.
        if exam_date > valid_to:
            raise refused("exam_permit_expired", _("考试日期超出学习驾驶证明有效期。"))
        earliest = earliest_booking_day(subject, licence_class, issued_on)
        if earliest is not None and today < earliest:
            raise refused("exam_too_early", _("取得学习驾驶证明后须满规定天数方可预约，最早可于 %(day)s 预约。")
                          % {"day": earliest.isoformat()})
    if subject in ("subject2", "subject3_road", "subject3_safety"):
        # 第四十二条: after a failed 科目二 / 科目三 (a no-show is a fail, 第四十一条) book again ten days later.
        fails = [p.exam_date for p in past if p.subject == subject and p.status in FAILED]
        if fails and today < max(fails) + dt.timedelta(days=RETAKE_DAYS):
            again = max(fails) + dt.timedelta(days=RETAKE_DAYS)
            raise refused("exam_retake_wait", _("考试不合格后须十日后重新预约，最早可于 %(day)s 预约。")
                          % {"day": again.isoformat()})
    if subject in LIMITED_SUBJECTS:
        # 第四十三条: at most five bookings of each of 科目二 and 科目三道路 while the permit is valid.
        if sum(1 for p in past if p.subject == subject and p.status in SEATED) >= MAX_BOOKINGS:
            raise refused("exam_booking_limit", _("学习驾驶证明有效期内该科目已预约考试五次，不能再预约。"))


def check_cancel(*, today: dt.date, exam_date: dt.date) -> None:
    """第四十一条: a booking is cancelled at the latest the day before the exam."""
    if today >= exam_date:
        raise refused("exam_cancel_too_late", _("取消预约须在考试前一日（含）之前办理。"))


def fifth_fail_closes(history: Iterable[Past], subject: str) -> bool:
    """第四十三条: the fifth booking of a subject failed too ends the application."""
    if subject not in LIMITED_SUBJECTS:
        return False
    past = [p for p in history if p.subject == subject]
    return sum(1 for p in past if p.status in SEATED) >= MAX_BOOKINGS and all(
        p.status != "passed" for p in past)
