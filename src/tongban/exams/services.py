"""Writes of driving-test booking: sites and sessions (the exam office), the applicant's record, bookings,
the allocation by ranking when a window closes, cancellations, results and the exam fee.

Seats change only here, in two ways, both safe with concurrent writers: the allocation holds the session's
row lock (SELECT … FOR UPDATE) while it gives the first N their seats, and a leftover seat is taken by one
conditional UPDATE (`seats_taken < capacity`). The check constraint `exams_session_no_overbooking` refuses
anything else. Every change is audited in its transaction; messages leave through the outbox.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils.translation import gettext as _
from stdnum.cn import ric

from tongban.accounts.roles import Department, StaffRole
from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.exams import rules
from tongban.exams.models import (
    OPEN_STATUSES,
    Booking,
    BookingStatus,
    ExamSession,
    ExamSite,
    LearnerPermit,
    LicenceClass,
    SessionStatus,
)
from tongban.exams.models import Subject as ExamSubject
from tongban.jobs.services import outbox_send

MESSAGE_CHANNEL = "exams_message"
PUBLISH_AHEAD_DAYS = 7  # sessions are published at least a week before the exam day
RESULTS = (BookingStatus.PASSED, BookingStatus.FAILED, BookingStatus.NO_SHOW)
FEE_ITEMS = {"subject1": "exam_subject1", "subject2": "exam_subject2_c", "subject3_road": "exam_subject3_c",
             "subject3_safety": "exam_subject3_safety"}
MOTORCYCLE = ("D", "E", "F")


def invalid(message: str, field: str = "") -> TongbanError:
    return TongbanError("exam_invalid", message, None, 422, details=[{"field": field, "message": message}])


def not_found() -> TongbanError:
    # "Not found" and "not allowed" look the same (STYLE habit 6).
    return TongbanError("not_found", _("未找到该考试预约信息。"), "No such booking.", 404)


def _exam_officer(actor: Any, region_code: str) -> None:
    """An officer of 交管 whose region covers `region_code` (province 440000 covers 4401xx …)."""
    if not (getattr(actor, "has_role", None) and actor.has_role(StaffRole.OFFICER)
            and actor.department == Department.TRAFFIC):
        raise TongbanError("forbidden", _("仅交管部门民警可以管理考场与考试场次。"), None, 403)
    own = actor.region_code or ""
    prefix = own[:2] if own.endswith("0000") else own[:4] if own.endswith("00") else own
    if not region_code.startswith(prefix):
        raise TongbanError("forbidden", _("该考场不在您的辖区内。"), None, 403)


def _notify(key: str, payload: dict[str, Any]) -> None:
    outbox_send(channel=MESSAGE_CHANNEL, payload=payload, idempotency_key=key)


# -- the exam office: sites and sessions ---------------------------------------------------------------------


@transaction.atomic
def site_create(*, actor: Any, code: str, name: str, address: str, region_code: str,
                subjects: list[str]) -> ExamSite:
    code, name, address = code.strip(), " ".join(name.split()), address.strip()
    if not (1 <= len(code) <= 32 and 1 <= len(name) <= 100 and 1 <= len(address) <= 200):
        raise invalid(_("请填写考场编号、名称和地址。"))
    if not (len(region_code) == 6 and region_code.isdigit()):
        raise invalid(_("辖区代码应为 6 位数字。"), "region_code")
    if not subjects or any(s not in ExamSubject.values for s in subjects):
        raise invalid(_("请选择考场可考的科目。"), "subjects")
    _exam_officer(actor, region_code)
    if ExamSite.objects.filter(code=code).exists():
        raise invalid(_("考场编号已存在。"), "code")
    site = ExamSite.objects.create(code=code, name=name, address=address, region_code=region_code,
                                   subjects=sorted(set(subjects)))
    audit_record(action=Action.EXAMS_SITE_CHANGE, actor=Actor.user(actor), subject=Subject.of(site),
                 details={"code": code, "subjects": site.subjects})
    return site


@transaction.atomic
def session_create(*, actor: Any, site_id: int, subject: str, licence_classes: list[str],
                   starts_at: dt.datetime, capacity: int) -> ExamSession:
    """A draft session; its booking window closes at 00:00 of the second working day before the exam."""
    site = ExamSite.objects.filter(pk=site_id, active=True).first()
    if site is None:
        raise invalid(_("考场不存在或已停用。"), "site")
    _exam_officer(actor, site.region_code)
    if subject not in site.subjects:
        raise invalid(_("该考场不设此科目。"), "subject")
    if not licence_classes or any(c not in LicenceClass.values for c in licence_classes):
        raise invalid(_("请选择准驾车型。"), "licence_classes")
    if isinstance(capacity, bool) or not isinstance(capacity, int) or not 1 <= capacity <= 10_000:
        raise invalid(_("考试名额须为 1-10000 的整数。"), "capacity")
    if starts_at.tzinfo is None:
        raise invalid(_("考试时间须带时区。"), "starts_at")
    exam_date = clock.to_local(starts_at).date()
    if exam_date < clock.today_local() + dt.timedelta(days=PUBLISH_AHEAD_DAYS):
        raise invalid(_("考试场次须至少提前 %(n)d 日发布。") % {"n": PUBLISH_AHEAD_DAYS}, "starts_at")
    closes = dt.datetime.combine(rules.window_closes_on(exam_date), dt.time(0), tzinfo=clock.SHANGHAI)
    session = ExamSession.objects.create(site=site, subject=subject, licence_classes=sorted(set(licence_classes)),
                                         starts_at=starts_at, booking_closes_at=closes, capacity=capacity,
                                         created_by=actor)
    audit_record(action=Action.EXAMS_SESSION_CHANGE, actor=Actor.user(actor), subject=Subject.of(session),
                 details={"event": "create", "subject": subject, "capacity": capacity,
                          "starts_at": starts_at.isoformat()})
    return session


@transaction.atomic
def session_publish(*, actor: Any, session_id: int) -> ExamSession:
    session = ExamSession.objects.select_for_update().select_related("site").filter(pk=session_id).first()
    if session is None:
        raise not_found()
    _exam_officer(actor, session.site.region_code)
    if session.status != SessionStatus.DRAFT:
        raise invalid(_("只有未发布的场次可以发布。"))
    if session.exam_date < clock.today_local() + dt.timedelta(days=PUBLISH_AHEAD_DAYS):
        raise invalid(_("考试场次须至少提前 %(n)d 日发布。") % {"n": PUBLISH_AHEAD_DAYS})
    session.status, session.published_at = SessionStatus.PUBLISHED, clock.now()
    session.save(update_fields=["status", "published_at"])
    audit_record(action=Action.EXAMS_SESSION_CHANGE, actor=Actor.user(actor), subject=Subject.of(session),
                 details={"event": "publish"})
    return session


# -- the applicant's record ----------------------------------------------------------------------------------


@transaction.atomic
def permit_accept(*, id_number: str, name: str, licence_class: str, region_code: str,
                  accepted_at: dt.datetime | None = None, issued_on: dt.date | None = None,
                  user_id: int | None = None, actor: Any = None, component: str = "") -> LearnerPermit:
    """Record an accepted licence application (受理) — and, for a migration of old records, the learner's
    permit already issued (`issued_on`, after 科目一)."""
    id_number = id_number.strip().upper()
    if not ric.is_valid(id_number):
        raise invalid(_("身份证号码不正确。"), "id_number")
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100:
        raise invalid(_("请填写姓名。"), "name")
    if licence_class not in LicenceClass.values:
        raise invalid(_("准驾车型不正确。"), "licence_class")
    open_ = LearnerPermit.objects.blind_filter(id_number=id_number).filter(closed=False)
    if open_.exists():
        raise invalid(_("该申请人已有未结束的驾驶证申请。"), "id_number")
    permit = LearnerPermit(id_number=id_number, name=name, licence_class=licence_class, region_code=region_code,
                           accepted_at=accepted_at or clock.now(), user_id=user_id, issued_on=issued_on,
                           valid_to=rules.permit_valid_to(issued_on) if issued_on else None)
    permit.save()
    audit_record(action=Action.EXAMS_PERMIT_CHANGE,
                 actor=Actor.user(actor) if actor is not None else Actor.system(component or "exams"),
                 subject=Subject.of(permit), details={"event": "accept", "licence_class": licence_class})
    return permit


def history_of(permit: LearnerPermit) -> list[rules.Past]:
    rows = Booking.objects.filter(permit=permit).select_related("session").only(
        "subject", "status", "session__starts_at")
    return [rules.Past(b.subject, b.status, b.session.exam_date) for b in rows]


# -- bookings ------------------------------------------------------------------------------------------------


def _lock_permit(permit_id: int, user: Any) -> LearnerPermit:
    permit = LearnerPermit.objects.select_for_update().filter(pk=permit_id, user_id=user.pk).first()
    if permit is None:
        raise not_found()
    return permit


@transaction.atomic
def booking_apply(*, user: Any, permit_id: int, session_id: int) -> Booking:
    """Apply for a seat in a session. In the booking window the request waits for the ranking; after the
    allocation a leftover seat (a cancellation, an unfilled session) is taken at once if one is free."""
    permit = _lock_permit(permit_id, user)  # one applicant's requests go one at a time
    session = ExamSession.objects.select_related("site").filter(pk=session_id).first()
    if session is None or session.status not in (SessionStatus.PUBLISHED, SessionStatus.ALLOCATED):
        raise not_found()
    if permit.licence_class not in session.licence_classes:
        raise invalid(_("该场次不考您申请的准驾车型。"), "session")
    now, today = clock.now(), clock.today_local()
    rules.check_booking(subject=session.subject, licence_class=permit.licence_class, issued_on=permit.issued_on,
                        valid_to=permit.valid_to, closed=permit.closed, history=history_of(permit),
                        today=today, exam_date=session.exam_date)
    if Booking.objects.filter(permit=permit, subject=session.subject, status__in=OPEN_STATUSES).exists():
        raise invalid(_("您已有该科目的预约，请先取消原预约。"), "session")
    if now < session.booking_closes_at and session.status == SessionStatus.PUBLISHED:
        status = BookingStatus.APPLIED
    elif session.status == SessionStatus.ALLOCATED and today < session.exam_date:
        # A leftover seat: one conditional UPDATE, so concurrent takers can never pass the capacity.
        taken = ExamSession.objects.filter(pk=session.pk, seats_taken__lt=F("capacity")).update(
            seats_taken=F("seats_taken") + 1)
        if not taken:
            raise TongbanError("exam_session_full", _("该场次名额已满，请选择其他场次。"), None, 409)
        status = BookingStatus.ALLOCATED
    else:
        raise invalid(_("该场次预约已截止。"), "session")
    booking = Booking(permit=permit, session=session, subject=session.subject, status=status, applied_at=now,
                      priority=rules.has_priority(permit.valid_to, session.exam_date),
                      decided_at=now if status == BookingStatus.ALLOCATED else None)
    try:
        with transaction.atomic():
            booking.save()
    except IntegrityError as exc:  # the partial unique index: another request of the same applicant won
        raise invalid(_("您已有该科目的预约，请先取消原预约。"), "session") from exc
    audit_record(action=Action.EXAMS_BOOKING, actor=Actor.user(user), subject=Subject.of(booking),
                 details={"event": "apply", "session": session.pk, "status": status})
    if status == BookingStatus.ALLOCATED:
        _notify(f"exams:booking:{booking.pk}:allocated", {"booking_id": booking.pk, "event": "allocated"})
    return booking


@transaction.atomic
def booking_cancel(*, user: Any, booking_id: int) -> Booking:
    """第四十一条: cancel until the day before the exam; a seat given back is free for others at once."""
    found = Booking.objects.filter(pk=booking_id, permit__user_id=user.pk).values_list("session_id", flat=True)
    session_id = found.first()
    if session_id is None:
        raise not_found()
    session = ExamSession.objects.select_for_update().get(pk=session_id)  # lock order: session, then booking
    booking = Booking.objects.select_for_update().select_related("permit").get(pk=booking_id)
    if booking.status not in OPEN_STATUSES:
        raise invalid(_("该预约已不能取消。"))
    rules.check_cancel(today=clock.today_local(), exam_date=session.exam_date)
    before = booking.status
    if before == BookingStatus.ALLOCATED:
        ExamSession.objects.filter(pk=session.pk).update(seats_taken=F("seats_taken") - 1)
    now = clock.now()
    booking.status, booking.decided_at = BookingStatus.CANCELLED, now
    booking.save(update_fields=["status", "decided_at"])
    if before == BookingStatus.ALLOCATED:
        # 考试预约排序: after a cancellation the applicant ranks by the time of that cancellation.
        LearnerPermit.objects.filter(pk=booking.permit_id).update(last_event_at=now)
    audit_record(action=Action.EXAMS_BOOKING, actor=Actor.user(user), subject=Subject.of(booking),
                 details={"event": "cancel", "before": before})
    _notify(f"exams:booking:{booking.pk}:cancelled", {"booking_id": booking.pk, "event": "cancelled"})
    return booking


def rank_key(*, priority: bool, last_event_at: dt.datetime | None, accepted_at: dt.datetime,
             applied_at: dt.datetime, booking_id: int) -> tuple[int, dt.datetime, dt.datetime, int]:
    """考试预约排序: a permit with under six months left first; then the first 科目一 by the time the
    application was accepted, everyone else by the time of their last exam, cancellation or no-show —
    the longer one has waited, the earlier; ties by the time of the request."""
    return (0 if priority else 1, last_event_at or accepted_at, applied_at, booking_id)


@transaction.atomic
def session_allocate(*, session_id: int, actor: Any = None) -> int:
    """Give the first N of the ranking their seats once the window has closed; the number seated."""
    session = ExamSession.objects.select_for_update().filter(pk=session_id).first()
    if session is None or session.status != SessionStatus.PUBLISHED or clock.now() < session.booking_closes_at:
        return 0
    rows = list(Booking.objects.filter(session=session, status=BookingStatus.APPLIED).select_related("permit")
                .only("id", "applied_at", "priority", "permit__last_event_at", "permit__accepted_at",
                      "permit__valid_to"))
    exam_date = session.exam_date
    for b in rows:
        b.priority = rules.has_priority(b.permit.valid_to, exam_date)
        b.rank_time = b.permit.last_event_at or b.permit.accepted_at
    rows.sort(key=lambda b: rank_key(priority=b.priority, last_event_at=b.permit.last_event_at,
                                     accepted_at=b.permit.accepted_at, applied_at=b.applied_at, booking_id=b.pk))
    free = session.capacity - session.seats_taken
    now = clock.now()
    for position, b in enumerate(rows, start=1):
        b.rank = position
    seated = min(free, len(rows))
    # Set-wise updates (a handful of statements whatever the number of applicants), then the per-row rank.
    Booking.objects.filter(pk__in=[b.pk for b in rows[:seated]]).update(status=BookingStatus.ALLOCATED,
                                                                          decided_at=now)
    Booking.objects.filter(pk__in=[b.pk for b in rows[seated:]]).update(status=BookingStatus.UNALLOCATED,
                                                                          decided_at=now)
    Booking.objects.filter(pk__in=[b.pk for b in rows if b.priority]).update(priority=True)
    _ranks_write(rows)
    session.seats_taken += seated
    session.status, session.allocated_at = SessionStatus.ALLOCATED, now
    session.save(update_fields=["seats_taken", "status", "allocated_at"])
    audit_record(action=Action.EXAMS_SESSION_CHANGE,
                 actor=Actor.user(actor) if actor is not None else Actor.system("exams.allocate"),
                 subject=Subject.of(session),
                 details={"event": "allocate", "applicants": len(rows), "seated": seated})
    _notify(f"exams:session:{session.pk}:allocated", {"session_id": session.pk, "event": "allocated"})
    return seated


def _ranks_write(rows: list[Booking]) -> None:
    """Each row's rank and ranking time: one UPDATE from arrays on PostgreSQL, bulk_update elsewhere."""
    if not rows:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE exams_booking AS b SET rank = v.rank, rank_time = v.rank_time "
                "FROM unnest(%s::bigint[], %s::integer[], %s::timestamptz[]) AS v(id, rank, rank_time) "
                "WHERE b.id = v.id",
                [[b.pk for b in rows], [b.rank for b in rows], [b.rank_time for b in rows]])
    else:
        Booking.objects.bulk_update(rows, ["rank", "rank_time"], batch_size=500)


def sessions_allocate_due(*, now: dt.datetime | None = None, limit: int = 1000) -> int:
    """Allocate every published session whose window has closed (the job runs it every minute)."""
    due = list(ExamSession.objects.filter(status=SessionStatus.PUBLISHED,
                                          booking_closes_at__lte=now or clock.now())
               .order_by("booking_closes_at").values_list("pk", flat=True)[:limit])
    for pk in due:
        session_allocate(session_id=pk)
    return len(due)


@transaction.atomic
def booking_result_record(*, actor: Any, booking_id: int, result: str) -> Booking:
    """The exam office records passed / failed / no-show (第四十一条: a no-show is a fail) on or after the exam
    day. 科目一 passed issues the learner's permit (第三十五条); a fifth failed booking of 科目二 or 科目三道路
    ends the application (第四十三条)."""
    if result not in RESULTS:
        raise invalid(_("考试结果不正确。"), "result")
    booking = Booking.objects.select_for_update().select_related("session__site").filter(pk=booking_id).first()
    if booking is None:
        raise not_found()
    _exam_officer(actor, booking.session.site.region_code)
    if booking.status != BookingStatus.ALLOCATED:
        raise invalid(_("只有预约成功的考试可以登记结果。"))
    exam_date = booking.session.exam_date
    if clock.today_local() < exam_date:
        raise invalid(_("考试日之前不能登记结果。"))
    permit = LearnerPermit.objects.select_for_update().get(pk=booking.permit_id)
    booking.status, booking.decided_at, booking.recorded_by = result, clock.now(), actor
    booking.save(update_fields=["status", "decided_at", "recorded_by"])
    permit.last_event_at = booking.session.starts_at
    fields = ["last_event_at"]
    if booking.subject == ExamSubject.SUBJECT1 and result == BookingStatus.PASSED and permit.issued_on is None:
        permit.issued_on, permit.valid_to = exam_date, rules.permit_valid_to(exam_date)
        fields += ["issued_on", "valid_to"]
    if result != BookingStatus.PASSED and rules.fifth_fail_closes(history_of(permit), booking.subject):
        permit.closed = True
        fields.append("closed")
    if (booking.subject == ExamSubject.SUBJECT3_SAFETY and result == BookingStatus.PASSED):
        permit.closed = True  # every subject passed: the licence is issued elsewhere (制证)
        fields.append("closed")
    permit.save(update_fields=fields)
    audit_record(action=Action.EXAMS_RESULT, actor=Actor.user(actor), subject=Subject.of(booking),
                 details={"result": result, "subject": booking.subject})
    _notify(f"exams:booking:{booking.pk}:result", {"booking_id": booking.pk, "event": "result"})
    return booking


def fee_item(subject: str, licence_class: str) -> str:
    if subject == ExamSubject.SUBJECT2 and licence_class in MOTORCYCLE:
        return "exam_subject2_motorcycle"
    return FEE_ITEMS[subject]


@transaction.atomic
def booking_fee_notice(*, user: Any, booking_id: int) -> Any:
    """The payment notice of the exam fee of a seated booking (issued once, on first asking)."""
    from tongban.payments import selectors as payment_selectors
    from tongban.payments.services import notice_issue

    booking = (Booking.objects.select_for_update().select_related("permit", "session__site")
               .filter(pk=booking_id, permit__user_id=user.pk).first())
    if booking is None:
        raise not_found()
    if booking.fee_number:
        return payment_selectors.document_by_number(booking.fee_number)
    if booking.status != BookingStatus.ALLOCATED:
        raise invalid(_("预约成功后方可缴纳考试费。"))
    today = clock.today_local()
    document = notice_issue(
        category="driving_exam", items=[{"code": fee_item(booking.subject, booking.permit.licence_class),
                                         "quantity": 1}],
        payer_name=booking.permit.name, payer_id_number=booking.permit.id_number, payer_user_id=user.pk,
        region_code=booking.session.site.region_code, payee_unit=booking.session.site.name[:100],
        due_on=max(today, booking.session.exam_date - dt.timedelta(days=1)), component="exams")
    booking.fee_number = document.number
    booking.save(update_fields=["fee_number"])
    return document


@transaction.atomic
def permits_link(*, user: Any) -> int:
    """Link the exam office's records under the account's verified ID number to the account (level ≥ 2:
    the ID number was checked against both sources); the number linked."""
    from tongban.accounts.models import CitizenProfile

    profile = CitizenProfile.objects.filter(user_id=user.pk, closed_at__isnull=True).first()
    if profile is None or profile.level < 2 or not profile.id_number:
        return 0
    rows = list(LearnerPermit.objects.blind_filter(id_number=profile.id_number).filter(user__isnull=True))
    for permit in rows:
        permit.user_id = user.pk
        permit.save(update_fields=["user"])
        audit_record(action=Action.EXAMS_PERMIT_CHANGE, actor=Actor.user(user), subject=Subject.of(permit),
                     details={"event": "link"})
    return len(rows)
