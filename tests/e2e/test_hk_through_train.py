"""Done-when of issue 20, in a phone's browser reading Traditional Chinese (Accept-Language zh-HK): a Hong
Kong resident registers with an +852 number (the SMS simulator delivers the code), reaches L2 with the
permit (typed in Simplified and lower case, stored as the permit has it), applies for 粤港澳直通车批文延期 with
two-way post, pays the fee notice through the payment gateway simulator, posts the originals (EMS
simulator, inbound), and receives the result back by post."""

from __future__ import annotations

import re

import pytest

from tests.accounts.conftest import deliver, people, sms_sim  # noqa: F401  (fixtures)
from tests.accounts.factories import make_officer
from tests.cases.conftest import drain, ems, png_bytes  # noqa: F401  (fixtures)
from tongban.core.hant import to_simplified

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
PASSWORD = "Browser-2026-pw"
CODE = "440000-GACR011"


@pytest.fixture
def gateway(settings, live_server):
    from sim.pay_gateway import PayGatewaySimulator
    from tests.payments.conftest import KEY, point_at

    sim = PayGatewaySimulator.start("127.0.0.1", 0, key=KEY)
    point_at(settings, sim.url, notify_url=live_server.url + "/pay/gateway/notify/")
    settings.TONGBAN_PUBLIC_URL = live_server.url
    yield sim
    sim.stop()


def _code_from_simulator(page, sim, phone):
    deliver()
    tab = page.context.new_page()
    try:
        tab.goto(f"{sim.base_url}/?phone=%2B{phone[1:]}")
        text = tab.locator(f"section.phone[data-phone='{phone}'] li.msg p").first.inner_text()
    finally:
        tab.close()
    match = re.search(r"验证码为 (\d{6})", text)
    assert match, text
    return match.group(1)


def _until_signed(sim, waybill):
    while not sim.app.parcels[waybill].finished:
        sim.advance(waybill)


def test_hong_kong_resident_through_train_in_traditional_chinese(  # noqa: F811
        browser, live_server, sms_sim, people, ems, gateway):  # noqa: F811
    from tongban.cases.models import Case, Parcel, ParcelDirection
    from tongban.cases.services import case_act
    from tongban.catalog.loading import catalog_load

    catalog_load()
    base = live_server.url
    permit = next(p for p in people.hk_macao if p["region"] == "HK")
    context = browser.new_context(locale="zh-HK", viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()

    # Register with a Hong Kong number; the page speaks Traditional Chinese from Accept-Language.
    page.goto(base + "/register/")
    assert page.locator("html").get_attribute("lang") == "zh-Hant"
    assert "一網通辦" in page.locator("header").inner_text()
    page.select_option("#id_region", "852")
    page.fill("#id_phone", "9123 4567")
    page.click("main button[type=submit]")
    page.wait_for_url("**/register/verify/")
    page.fill("#id_code", _code_from_simulator(page, sms_sim, "+85291234567"))
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/me/identity/")

    # L2 with the permit: the Chinese name typed in Simplified, the English name in lower case.
    page.check("input[name=id_type][value=hk_macao_permit]")
    page.fill("#id_id_number", permit["permit_number_with_count"])
    page.fill("#id_name", to_simplified(permit["name_zh"]))
    page.fill("#id_name_en", permit["name_en"].lower())
    page.check("input[name=level][value='2']")
    page.click("main button[type=submit]")
    page.wait_for_url("**/me/")
    assert page.locator("#level").inner_text().strip() == "實證 L2"
    assert page.locator("#name").inner_text() == permit["name_zh"][0] + "*" * (len(permit["name_zh"]) - 1)
    assert page.locator("#phone").inner_text() == "+852 ****4567"

    # Apply for 批文延期 with two-way post.
    page.goto(base + f"/apply/{CODE}/")
    assert "粵港澳直通車批文延期" in page.locator("main").inner_text()
    with page.expect_navigation():
        page.click("#start")
    page.fill("#id_approval_card_number", "PW1234567")
    page.fill("#id_plate_number", "粤ZA123港")
    page.fill("#id_hk_macao_plate", "AB1234")
    page.fill("#id_insurance_policy", "PDZA2026001")
    page.fill("#id_insurance_valid_to", "2030-06-30")
    for field in page.locator("input[type=file]").all():
        field.set_input_files(files=[{"name": "doc.png", "mimeType": "image/png", "buffer": png_bytes()}])
    page.check("input[name=delivery_method][value=post]")
    page.fill("#id_delivery_recipient", permit["name_zh"])
    page.fill("#id_delivery_phone", "+85291234567")
    page.fill("#id_delivery_address", "香港九龍彌敦道 100 號 10 樓")
    with page.expect_navigation():
        page.click("button[name=next][value=review]")
    assert "/review/" in page.url, page.locator("main").inner_text()
    with page.expect_navigation():
        page.click("#submit")
    case = Case.objects.get(item_code=CODE)
    assert case.state == "submitted"

    # The Guangdong exit-entry officer accepts: the fee notice and the originals' waybill appear.
    officer = make_officer("gd-exit-entry", department="exit_entry", region_code="440000")
    case_act(user=officer, case_id=case.pk, action="accept")
    drain()
    inbound = Parcel.objects.get(case=case, direction=ParcelDirection.INBOUND)
    page.goto(base + f"/me/cases/{case.pk}/")
    assert inbound.waybill in page.locator("#inbound-waybill").inner_text()
    assert "待收原件" in page.locator("main").inner_text()  # the workflow's label, in Traditional too
    page.click("main .case-payment a.button")
    page.wait_for_url("**/pay/**")
    page.click("#pay")
    page.wait_for_url(f"{gateway.url}/cashier/**")
    page.click("#confirm-pay")
    page.wait_for_url(f"{base}/pay/return/**")
    assert page.locator("#payment-status").get_attribute("data-status") == "success"

    # The originals arrive at the office; review; the result and the card go back by post.
    _until_signed(ems, inbound.waybill)
    case.refresh_from_db()
    assert case.state == "review"
    case_act(user=officer, case_id=case.pk, action="approve")
    drain()
    outbound = Parcel.objects.get(case=case, direction=ParcelDirection.OUTBOUND)
    _until_signed(ems, outbound.waybill)
    case.refresh_from_db()
    assert case.state == "closed"
    page.goto(base + f"/me/cases/{case.pk}/")
    text = page.locator("main").inner_text()
    assert outbound.waybill in text and "辦結" in text and "郵寄進度" in text
    context.close()
