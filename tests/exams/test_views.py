"""The citizen's pages, the exam office's pages, the catalog item's entry and the demo data."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.accounts.factories import login_verified, make_officer
from tests.exams.conftest import make_applicant, make_session
from tongban.exams.models import Booking, BookingStatus, ExamSession
from tongban.portal.item_views import service_entry_url

pytestmark = pytest.mark.django_db


def test_the_catalog_item_leads_to_the_booking_pages():
    assert service_entry_url("GAJG001") == "/exams/"


def test_a_citizen_books_cancels_and_pays_from_the_pages(client, at, officer):
    session = make_session(officer, capacity=1)
    user, permit = make_applicant(issued_on=dt.date(2027, 1, 4))
    client.force_login(user)
    page = client.get("/exams/")
    assert page.status_code == 200 and "C1 小型汽车" in page.content.decode()
    listing = client.get("/exams/book/subject2/")
    assert f'value="{session.pk}"' in listing.content.decode()
    assert client.get("/exams/book/subject9/").status_code == 404
    assert client.post("/exams/book/subject2/", {"session": session.pk}).status_code == 302
    booking = Booking.objects.get(permit=permit)
    assert booking.status == BookingStatus.APPLIED
    refused = client.post("/exams/book/subject2/", {"session": session.pk})
    assert refused.status_code == 422 and "已有该科目的预约" in refused.content.decode()
    at.day(dt.date(2027, 3, 11), hour=1)
    from tongban.exams.services import session_allocate

    session_allocate(session_id=session.pk)
    paid = client.post(f"/exams/bookings/{booking.pk}/pay/")
    assert paid.status_code == 302 and paid["Location"].startswith("/pay/")
    other, _ = make_applicant()
    client.force_login(other)
    assert client.post(f"/exams/bookings/{booking.pk}/cancel/").status_code == 404  # not theirs
    client.force_login(user)
    assert client.post(f"/exams/bookings/{booking.pk}/cancel/").status_code == 302
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.CANCELLED


def test_an_officer_publishes_a_session_in_the_back_office(client, at, officer):
    login_verified(client, officer)
    session = make_session(officer, publish=False)
    page = client.get(f"/backoffice/exams/sessions/{session.pk}/")
    assert page.status_code == 200 and 'id="publish"' in page.content.decode()
    assert client.post(f"/backoffice/exams/sessions/{session.pk}/publish/").status_code == 302
    assert ExamSession.objects.get(pk=session.pk).status == "published"
    home = client.get("/backoffice/exams/")
    assert home.status_code == 200 and f'data-session="{session.pk}"' in home.content.decode()


def test_the_demo_makes_sessions_and_a_permit_for_the_demo_citizen(at):
    from tongban.exams.demo import demo_exams_ensure
    from tongban.exams.models import LearnerPermit

    user, _ = make_applicant()
    LearnerPermit.objects.filter(user=user).update(closed=True)
    demo_exams_ensure(citizen_username=user.username)
    demo_exams_ensure(citizen_username=user.username)  # idempotent
    assert ExamSession.objects.filter(status="published").count() == 24
    assert LearnerPermit.objects.filter(user=user, closed=False, licence_class="C1").count() == 1


def test_the_api_lists_open_sessions_without_personal_data(client, at, officer):
    session = make_session(officer, capacity=3, classes=("C1",))
    make_session(officer, subject="subject1", classes=("A1",))
    body = client.get("/api/v1/exams/sessions", {"subject": "subject2", "licence_class": "C1",
                                                 "region": "440100"}).json()
    assert [s["id"] for s in body["sessions"]] == [session.pk]
    assert body["sessions"][0]["seats_free"] == 3
    assert client.get("/api/v1/exams/sessions", {"licence_class": "C1"}).json()["sessions"][0]["id"] == session.pk
    bad = client.get("/api/v1/exams/sessions", {"region": "44"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"


def test_an_officer_allocates_a_closed_window_and_records_a_result(client, at, officer):
    session = make_session(officer, capacity=1)
    user, permit = make_applicant(issued_on=dt.date(2027, 1, 4))
    from tongban.exams.services import booking_apply

    booking = booking_apply(user=user, permit_id=permit.pk, session_id=session.pk)
    login_verified(client, officer)
    at.day(dt.date(2027, 3, 11), hour=1)
    assert 'id="allocate"' in client.get(f"/backoffice/exams/sessions/{session.pk}/").content.decode()
    client.post(f"/backoffice/exams/sessions/{session.pk}/allocate/")
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.ALLOCATED
    at.day(dt.date(2027, 3, 15), hour=17)
    page = client.get(f"/backoffice/exams/sessions/{session.pk}/").content.decode()
    assert f'id="result-{booking.pk}"' in page and permit.name not in page  # names masked
    client.post(f"/backoffice/exams/bookings/{booking.pk}/result/", {"result": "failed", "session": session.pk})
    assert Booking.objects.get(pk=booking.pk).status == BookingStatus.FAILED
    other = make_officer("exam_other_dept", department="hukou", region_code="440100")
    login_verified(client, other)
    assert client.get("/backoffice/exams/").status_code == 404
