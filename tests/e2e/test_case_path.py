"""The whole path in two browsers: a citizen applies (answers, a photo, postal delivery), an officer accepts in
the back office's inbox, a second step approves, the result is posted through the EMS simulator, which reports
it signed for, and the citizen sees the case closed with its parcel's tracking."""

from __future__ import annotations

import re

import pytest

from tests.accounts.factories import PASSWORD as STAFF_PASSWORD
from tests.accounts.factories import make_officer
from tests.cases.conftest import drain, ems, make_citizen, make_item, png_bytes  # noqa: F401  (ems: fixture)
from tests.e2e.a11y import staff_sign_in
from tongban.cases.catalog_bridge import withdraw_item
from tongban.cases.models import Case, Parcel

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


@pytest.fixture
def item():
    spec = make_item("E2E1", workflow="one_review", title="居民身份证换领补领")
    yield spec
    withdraw_item(spec.code)


def test_apply_accept_approve_post_deliver(browser, live_server, ems, item):  # noqa: F811
    base = live_server.url
    citizen = make_citizen(phone="13900000551")
    officer = make_officer("path-accept", region_code="330100")
    reviewer = make_officer("path-approve", region_code="330106")

    person = browser.new_context(locale="zh-CN")
    page = person.new_page()
    page.goto(base + "/login/")
    page.fill("#id_username", "13900000551")
    page.fill("#id_password", "Citizen-2026-pw")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.goto(base + f"/apply/{item.code}/")
    with page.expect_navigation():
        page.click("#start")
    assert "/edit/" in page.url, page.url
    page.check("input[name=reason][value=damaged]")
    page.set_input_files("#id_material_photo", files=[{"name": "photo.png", "mimeType": "image/png",
                                                       "buffer": png_bytes()}])
    page.check("input[name=delivery_method][value=post]")
    page.fill("#id_delivery_recipient", "张三")
    page.fill("#id_delivery_phone", "13800001111")
    page.fill("#id_delivery_address", "浙江省杭州市西湖区文三路 100 号")
    with page.expect_navigation():
        page.click("button[name=next][value=review]")
    assert "/review/" in page.url, page.url
    with page.expect_navigation():
        page.click("#submit")
    case = Case.objects.get(applicant=citizen)
    assert case.state == "submitted" and case.number

    # The officer finds it in the inbox and accepts it; a colleague approves it (the item's one review step).
    staff = browser.new_context(locale="zh-CN")
    desk = staff.new_page()
    staff_sign_in(desk, base, officer, STAFF_PASSWORD)
    desk.goto(base + "/backoffice/cases/?state=submitted")
    with desk.expect_navigation():
        desk.click(f"a[href='/backoffice/cases/{case.pk}/']")
    with desk.expect_navigation():
        desk.click("button[name=go][value=accept]")
    assert "审批" in desk.locator("#case-state").inner_text()
    staff.close()
    staff = browser.new_context(locale="zh-CN")
    desk = staff.new_page()
    staff_sign_in(desk, base, reviewer, STAFF_PASSWORD)
    desk.goto(base + f"/backoffice/cases/{case.pk}/")
    assert re.findall(r'name="go" value="([a-z_]+)"', desk.content()) == ["approve", "deny"]
    with desk.expect_navigation():
        desk.click("button[name=go][value=approve]")
    assert "送达" in desk.locator("#case-state").inner_text()

    # The outbox places the order with the courier; the courier reports each step back, signed.
    drain()
    parcel = Parcel.objects.get(case=case)
    assert parcel.waybill
    for _ in range(4):
        ems.advance(parcel.waybill)
    case.refresh_from_db()
    assert case.state == "closed"

    page.goto(base + f"/me/cases/{case.pk}/")
    text = page.locator("main").inner_text()
    assert "办结" in text and parcel.waybill in text and "签收" in text
    desk.goto(base + f"/backoffice/cases/{case.pk}/")
    assert "办结" in desk.locator("#case-state").inner_text()
    assert parcel.waybill in desk.locator("#timeline").inner_text()
    staff.close()
    person.close()
