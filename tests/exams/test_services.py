"""Booking, allocation by ranking, cancellation, results, the exam fee and the messages (service level)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.accounts.factories import make_officer
from tests.exams.conftest import START, make_applicant, make_session, make_site
from tongban.audit.models import AuditEntry
from tongban.core.errors import TongbanError
from tongban.exams import services
from tongban.exams.models import Booking, BookingStatus, ExamSession, LearnerPermit
from tongban.exams.tasks import deliver_message
from tongban.jobs.models import Job
from tongban.notifications.models import AccountMessage, SmsMessage
from tongban.payments.models import PayableDocument

pytestmark = pytest.mark.django_db
EXAM = dt.date(2027, 3, 15)  # a Monday; the window closes at 00:00 on Thursday 2027-03-11
ISSUED = dt.date(2027, 1, 4)


def deliver_all() -> None:
    for job in Job.objects.filter(task="outbox.exams_message").order_by("pk"):
        deliver_message(job.payload, idempotency_key=job.idempotency_key or "")


def close_window(at) -> None:
    at.day(dt.date(2027, 3, 11), hour=1)


def test_publish_needs_a_traffic_officer_of_the_region_and_a_week_ahead(at, officer):
    other = make_officer("hukou_officer", department="hukou", region_code="440100")
    with pytest.raises(TongbanError) as info:
        make_site(other)
    assert info.value.code == "forbidden"
    far = make_officer("sz_officer", department="traffic", region_code="440300")
    with pytest.raises(TongbanError):
        make_site(far)
    with pytest.raises(TongbanError) as info:
        make_session(officer, day=START.date() + dt.timedelta(days=6))
    assert info.value.code == "exam_invalid"
    session = make_session(officer, day=START.date() + dt.timedelta(days=7))
    assert session.booking_closes_at < session.starts_at
    assert AuditEntry.objects.filter(action="exams.session.change", subject_id=str(session.pk)).count() == 2


def test_allocation_ranks_and_seats_the_first_n_only(at, officer):
    """考试预约排序: priority for a permit with < 6 months left, then by the last exam's (or cancellation's)
    time; the first N of the capacity get seats, the rest are told."""
    session = make_session(officer, capacity=2)
    _, recent = make_applicant(issued_on=ISSUED)
    _, waited = make_applicant(issued_on=ISSUED)
    _, expiring = make_applicant(issued_on=dt.date(2024, 8, 1))  # valid to 2027-07-31: < 6 months left
    LearnerPermit.objects.filter(pk=recent.pk).update(last_event_at=START - dt.timedelta(days=5))
    LearnerPermit.objects.filter(pk=waited.pk).update(last_event_at=START - dt.timedelta(days=30))
    LearnerPermit.objects.filter(pk=expiring.pk).update(last_event_at=START - dt.timedelta(days=1))
    for permit in (recent, waited, expiring):  # the order of the clicks does not matter
        services.booking_apply(user=permit.user, permit_id=permit.pk, session_id=session.pk)
    assert services.session_allocate(session_id=session.pk) == 0  # the window is still open
    close_window(at)
    assert services.session_allocate(session_id=session.pk) == 2
    ranked = {b.permit_id: b for b in Booking.objects.filter(session=session)}
    assert [ranked[p.pk].rank for p in (expiring, waited, recent)] == [1, 2, 3]
    assert ranked[expiring.pk].priority and ranked[expiring.pk].status == BookingStatus.ALLOCATED
    assert ranked[waited.pk].status == BookingStatus.ALLOCATED
    assert ranked[recent.pk].status == BookingStatus.UNALLOCATED
    session.refresh_from_db()
    assert session.seats_taken == 2 == session.capacity
    assert services.session_allocate(session_id=session.pk) == 0  # once only
    deliver_all()
    assert AccountMessage.objects.filter(user_id=recent.user_id, title="考试预约未排上").count() == 1
    assert AccountMessage.objects.filter(user_id=waited.user_id, title="考试预约成功").count() == 1
    assert SmsMessage.objects.filter(purpose="exams").count() == 3
    deliver_all()  # an outbox delivered twice sends nothing twice
    assert SmsMessage.objects.filter(purpose="exams").count() == 3


def test_first_subject1_ranks_by_the_time_the_application_was_accepted(at, officer):
    session = make_session(officer, subject="subject1", capacity=1)
    _, late = make_applicant(accepted_at=START - dt.timedelta(days=2))
    _, early = make_applicant(accepted_at=START - dt.timedelta(days=9))
    for permit in (late, early):
        services.booking_apply(user=permit.user, permit_id=permit.pk, session_id=session.pk)
    close_window(at)
    services.session_allocate(session_id=session.pk)
    assert Booking.objects.get(permit=early).status == BookingStatus.ALLOCATED
    assert Booking.objects.get(permit=late).status == BookingStatus.UNALLOCATED


def test_art41_cancellation_frees_the_seat_and_ranks_by_its_time(at, officer):
    session = make_session(officer, capacity=1)
    user, permit = make_applicant(issued_on=ISSUED)
    booking = services.booking_apply(user=user, permit_id=permit.pk, session_id=session.pk)
    close_window(at)
    services.session_allocate(session_id=session.pk)
    at.day(EXAM)  # on the exam day: too late
    with pytest.raises(TongbanError) as info:
        services.booking_cancel(user=user, booking_id=booking.pk)
    assert info.value.code == "exam_cancel_too_late"
    at.day(EXAM - dt.timedelta(days=1), hour=23)  # the day before: allowed
    services.booking_cancel(user=user, booking_id=booking.pk)
    assert ExamSession.objects.get(pk=session.pk).seats_taken == 0
    permit.refresh_from_db()
    assert permit.last_event_at == at.moment
    # The freed seat goes to the next taker at once; a second one finds the session full.
    other_user, other = make_applicant(issued_on=ISSUED)
    assert services.booking_apply(user=other_user, permit_id=other.pk,
                                  session_id=session.pk).status == BookingStatus.ALLOCATED
    third_user, third = make_applicant(issued_on=ISSUED)
    with pytest.raises(TongbanError) as info:
        services.booking_apply(user=third_user, permit_id=third.pk, session_id=session.pk)
    assert info.value.code == "exam_session_full"
    assert ExamSession.objects.get(pk=session.pk).seats_taken == 1


def test_art35_subject1_passed_issues_the_permit_and_art37_then_counts_from_it(at, officer):
    site = make_site(officer)
    s1 = make_session(officer, site=site, subject="subject1", capacity=5, day=dt.date(2027, 3, 10))
    user, permit = make_applicant()
    booking = services.booking_apply(user=user, permit_id=permit.pk, session_id=s1.pk)
    with pytest.raises(TongbanError) as info:  # one open booking per subject
        services.booking_apply(user=user, permit_id=permit.pk, session_id=s1.pk)
    assert info.value.code == "exam_invalid"
    at.day(dt.date(2027, 3, 8), hour=1)
    services.session_allocate(session_id=s1.pk)
    at.day(dt.date(2027, 3, 10), hour=12)
    services.booking_result_record(actor=officer, booking_id=booking.pk, result="passed")
    permit.refresh_from_db()
    assert (permit.issued_on, permit.valid_to) == (dt.date(2027, 3, 10), dt.date(2030, 3, 9))
    s2 = make_session(officer, site=site, subject="subject2", capacity=5, day=dt.date(2027, 4, 20))
    at.day(dt.date(2027, 3, 19))  # 第三十七条: C1 after 10 days — day 9
    with pytest.raises(TongbanError) as info:
        services.booking_apply(user=user, permit_id=permit.pk, session_id=s2.pk)
    assert info.value.code == "exam_too_early"
    at.day(dt.date(2027, 3, 20))  # day 10
    assert services.booking_apply(user=user, permit_id=permit.pk, session_id=s2.pk).status == BookingStatus.APPLIED


def test_art41_a_no_show_is_a_fail_and_art42_rebooking_waits_ten_days(at, officer):
    site = make_site(officer)
    session = make_session(officer, site=site, capacity=1)
    user, permit = make_applicant(issued_on=ISSUED)
    booking = services.booking_apply(user=user, permit_id=permit.pk, session_id=session.pk)
    close_window(at)
    services.session_allocate(session_id=session.pk)
    at.day(EXAM - dt.timedelta(days=1))
    with pytest.raises(TongbanError):  # no result before the exam day
        services.booking_result_record(actor=officer, booking_id=booking.pk, result="no_show")
    at.day(EXAM, hour=18)
    services.booking_result_record(actor=officer, booking_id=booking.pk, result="no_show")
    later = make_session(officer, site=site, capacity=1, day=dt.date(2027, 4, 12))
    at.day(EXAM + dt.timedelta(days=9))
    with pytest.raises(TongbanError) as info:
        services.booking_apply(user=user, permit_id=permit.pk, session_id=later.pk)
    assert info.value.code == "exam_retake_wait"
    at.day(EXAM + dt.timedelta(days=10))
    services.booking_apply(user=user, permit_id=permit.pk, session_id=later.pk)
    deliver_all()
    assert AccountMessage.objects.filter(user_id=user.pk, title="考试成绩", body__contains="缺考").exists()


def test_the_exam_fee_is_a_payment_notice_issued_once(at, officer):
    session = make_session(officer, capacity=1)
    user, permit = make_applicant(issued_on=ISSUED)
    booking = services.booking_apply(user=user, permit_id=permit.pk, session_id=session.pk)
    with pytest.raises(TongbanError):  # not before a seat is given
        services.booking_fee_notice(user=user, booking_id=booking.pk)
    close_window(at)
    services.session_allocate(session_id=session.pk)
    first = services.booking_fee_notice(user=user, booking_id=booking.pk)
    again = services.booking_fee_notice(user=user, booking_id=booking.pk)
    assert first.pk == again.pk and PayableDocument.objects.count() == 1
    assert (first.category, first.amount_fen, first.payer_user_id) == ("driving_exam", 16000, user.pk)
    assert first.due_on == EXAM - dt.timedelta(days=1)
    stranger, _ = make_applicant(issued_on=ISSUED)
    with pytest.raises(TongbanError) as info:
        services.booking_fee_notice(user=stranger, booking_id=booking.pk)
    assert info.value.code == "not_found"


def test_the_database_refuses_more_seats_than_the_capacity(at, officer):
    from django.db import IntegrityError, transaction

    session = make_session(officer, capacity=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ExamSession.objects.filter(pk=session.pk).update(seats_taken=2)
