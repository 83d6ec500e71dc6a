"""交通违法处理 in a phone's browser: from the catalog's item to the citizen's violations, handled online, to the
payment page of the penalty decision. Every page on the way passes axe-core (assert_accessible)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

PHONE = "13900000591"


def test_a_citizen_sees_a_violation_and_handles_it_reaching_payment(phone_page, live_server, assert_accessible):
    from tests.violations.conftest import OWNER_ID, add_licence, add_vehicle, make_citizen, record
    from tongban.catalog.loading import catalog_load
    from tongban.violations.models import Decision

    catalog_load()
    add_vehicle("粤A00501", OWNER_ID)
    add_licence(OWNER_ID)
    make_citizen(id_number=OWNER_ID, name="王车主", phone=PHONE)
    violation = record(code="1625")
    page = phone_page

    page.goto(live_server.url + "/login/")
    page.fill("#id_username", PHONE)
    page.fill("#id_password", "Citizen-2026-pw")
    with page.expect_navigation():
        page.click("main form button[type=submit]")

    page.goto(live_server.url + "/items/440100-GAJG002/")
    page.click("#apply")
    page.wait_for_url(f"{live_server.url}/violations/")
    row = page.locator(f'#violations li[data-number="{violation.number}"]')
    assert row.get_attribute("data-status") == "unhandled"
    assert_accessible(page)

    row.locator("a").click()
    page.wait_for_url(f"{live_server.url}/violations/{violation.number}/")
    assert page.locator("#fine").inner_text() == "200.00 元"
    assert_accessible(page)

    page.click("#handle")
    decision = Decision.objects.get(violation=violation)
    page.wait_for_url(f"{live_server.url}/violations/decision/{decision.number}/")
    assert page.locator("#due-total").inner_text() == "¥200.00"
    assert_accessible(page)

    page.click("#go-pay")
    page.wait_for_url(f"{live_server.url}/pay/{decision.number}/")
    assert page.locator("#total").inner_text() == "¥200.00"
    assert page.locator("#pay").is_visible()
    assert_accessible(page)
