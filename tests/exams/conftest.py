"""Fixtures for driving-test booking: an exam officer of 交管, a verified citizen with an application and a
learner's permit, sites and sessions, and a clock the tests move by hand."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from tests.accounts.factories import make_officer
from tongban.accounts.models import CitizenProfile, User, UserKind
from tongban.core import clock
from tongban.exams import services
from tongban.exams.models import ExamSession, ExamSite, SessionStatus

_seq = itertools.count(1)
# Valid GB 11643 numbers (check digits computed by python-stdnum in make_id).
START = dt.datetime(2027, 3, 1, 9, 0, tzinfo=clock.SHANGHAI)


def make_id(n: int) -> str:
    from stdnum.cn import ric

    body = f"44010619900101{n % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # the function reads the first 17 of 18


class Clock:
    """Moves `tongban.core.clock` (now and today) to a chosen moment."""

    def __init__(self, monkeypatch: Any) -> None:
        self.monkeypatch = monkeypatch
        self.set(START)

    def set(self, moment: dt.datetime) -> None:
        self.moment = moment
        self.monkeypatch.setattr(clock, "now", lambda: self.moment)
        self.monkeypatch.setattr(clock, "today_local", lambda: self.moment.astimezone(clock.SHANGHAI).date())

    def day(self, day: dt.date, hour: int = 10) -> None:
        self.set(dt.datetime.combine(day, dt.time(hour), tzinfo=clock.SHANGHAI))


@pytest.fixture
def at(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def officer(db):
    return make_officer(f"exam_officer{next(_seq)}", department="traffic", region_code="440100")


def make_applicant(*, licence_class: str = "C1", issued_on: dt.date | None = None,
                   accepted_at: dt.datetime | None = None, phone: str | None = None) -> tuple[Any, Any]:
    n = next(_seq)
    user = User.objects.create_user(f"learner{n}", None, kind=UserKind.CITIZEN)  # no password: no Argon2
    id_number = make_id(n)
    CitizenProfile.objects.create(user=user, phone=phone or f"139{n:08d}", id_type="resident_id",
                                  id_number=id_number, name=f"学员{n}", level=2)
    permit = services.permit_accept(id_number=id_number, name=f"学员{n}", licence_class=licence_class,
                                    region_code="440106", accepted_at=accepted_at or START - dt.timedelta(days=60),
                                    issued_on=issued_on, user_id=user.pk, component="tests")
    return user, permit


def make_site(officer: Any, subjects: tuple[str, ...] = ("subject1", "subject2", "subject3_road",
                                                        "subject3_safety")) -> ExamSite:
    return services.site_create(actor=officer, code=f"S{next(_seq)}", name="广州市车管所天河考场",
                                address="广州市天河区考试路 1 号", region_code="440106", subjects=list(subjects))


def make_session(officer: Any, *, site: ExamSite | None = None, subject: str = "subject2",
                 day: dt.date = dt.date(2027, 3, 15), capacity: int = 2, classes: tuple[str, ...] = ("C1", "C2"),
                 publish: bool = True) -> ExamSession:
    site = site or make_site(officer)
    session = services.session_create(actor=officer, site_id=site.pk, subject=subject,
                                      licence_classes=list(classes),
                                      starts_at=dt.datetime.combine(day, dt.time(9), tzinfo=clock.SHANGHAI),
                                      capacity=capacity)
    if publish:
        session = services.session_publish(actor=officer, session_id=session.pk)
    assert session.status == (SessionStatus.PUBLISHED if publish else SessionStatus.DRAFT)
    return session
