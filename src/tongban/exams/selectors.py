"""Reads of driving-test booking, with the reader's permissions: a citizen sees their own record and
bookings; an officer of 交管 sees the sites and sessions of their region."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tongban.accounts.roles import Department, StaffRole
from tongban.core import clock
from tongban.exams.models import Booking, ExamSession, ExamSite, LearnerPermit, SessionStatus


def permits_of(user: Any) -> list[LearnerPermit]:
    """The citizen's applications: those linked to the account, and those under the account's verified ID
    number (linked on first sight by `permit_link`)."""
    return list(LearnerPermit.objects.filter(user_id=user.pk).order_by("-accepted_at"))


def open_permit_of(user: Any) -> LearnerPermit | None:
    return LearnerPermit.objects.filter(user_id=user.pk, closed=False).order_by("-accepted_at").first()


def bookings_of(permit: LearnerPermit) -> QuerySet[Booking]:
    return Booking.objects.filter(permit=permit).select_related("session__site").order_by("-applied_at")


def bookable_sessions(permit: LearnerPermit, subject: str) -> list[ExamSession]:
    """Upcoming published sessions of a subject for the permit's licence class (JSON membership is checked
    here: SQLite has no JSON containment operator)."""
    rows = (ExamSession.objects.filter(subject=subject, status__in=(SessionStatus.PUBLISHED,
                                                                    SessionStatus.ALLOCATED),
                                       starts_at__gt=clock.now())
            .select_related("site").order_by("starts_at")[:200])
    today = clock.today_local()
    return [s for s in rows if permit.licence_class in s.licence_classes
            and (s.status == SessionStatus.PUBLISHED or (s.seats_free > 0 and today < s.exam_date))]


def _region_prefix(user: Any) -> str:
    own = user.region_code or ""
    return own[:2] if own.endswith("0000") else own[:4] if own.endswith("00") else own


def is_exam_officer(user: Any) -> bool:
    return bool(getattr(user, "has_role", None) and user.has_role(StaffRole.OFFICER)
                and user.department == Department.TRAFFIC)


def sites_for_staff(user: Any) -> QuerySet[ExamSite]:
    if not is_exam_officer(user):
        return ExamSite.objects.none()
    return ExamSite.objects.filter(region_code__startswith=_region_prefix(user)).order_by("code")


def sessions_for_staff(user: Any) -> QuerySet[ExamSession]:
    if not is_exam_officer(user):
        return ExamSession.objects.none()
    return (ExamSession.objects.filter(site__region_code__startswith=_region_prefix(user))
            .select_related("site").order_by("-starts_at"))


def session_bookings(session: ExamSession) -> QuerySet[Booking]:
    return (Booking.objects.filter(session=session).exclude(status="cancelled").select_related("permit")
            .order_by("rank", "applied_at"))
