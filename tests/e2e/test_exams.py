"""Driving-test booking in the browser, on a phone-sized screen: a citizen with a learner's permit opens the
catalog item 驾驶人考试预约, goes on to the booking pages, books a 科目二 session and sees the request waiting for
the ranking. Every page state passes axe-core at phone and desktop widths (docs/exams.md)."""

from __future__ import annotations

import datetime as dt

import pytest

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

PHONE = "13900000181"


def _submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def test_a_citizen_books_from_the_catalog_item_on_a_phone(phone_page, live_server, assert_accessible):
    from tests.accounts.factories import make_officer
    from tests.exams.conftest import make_session
    from tests.sso.conftest import PASSWORD, make_person
    from tongban.catalog.loading import catalog_load
    from tongban.core import clock
    from tongban.exams import services
    from tongban.exams.models import Booking

    catalog_load()
    person = make_person("learner_e2e", phone=PHONE, level=2, name="林学车")
    officer = make_officer("exam_e2e", department="traffic", region_code="440100")
    today = clock.today_local()
    session = make_session(officer, day=today + dt.timedelta(days=14), capacity=30)
    services.permit_accept(id_number=person.id_number, name="林学车", licence_class="C1", region_code="440106",
                           issued_on=today - dt.timedelta(days=40), component="tests")  # linked on first visit
    page, base = phone_page, live_server.url

    page.goto(base + "/login/")
    page.fill("#id_username", PHONE)
    page.fill("#id_password", PASSWORD)
    _submit(page, "main form button[type=submit]")

    page.goto(base + "/items/440100-GAJG001/")
    assert_accessible(page)
    _submit(page, "#apply")
    assert page.url == base + "/exams/", page.url
    assert "C1 小型汽车" in page.inner_text("#permit")
    assert_accessible(page)

    _submit(page, "a[data-subject=subject2]")
    page.check(f"#session-{session.pk}")
    assert_accessible(page)
    _submit(page, "#submit")
    assert page.url == base + "/exams/"
    assert "待排定" in page.inner_text("#bookings")
    assert_accessible(page)
    booking = Booking.objects.get(permit__user=person)
    assert (booking.session_id, booking.status) == (session.pk, "applied")
    # Nothing on the page is wider than the phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
