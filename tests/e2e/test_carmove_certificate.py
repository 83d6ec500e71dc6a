"""Two everyday services on a phone-sized screen: 一键挪车 (the requester reports a car with a camera photo, the
owner answers through the SMS link, neither sees the other's number) and 无犯罪记录证明 (applied for online,
accepted and issued by the station, the signed certificate verified online by number and check code)."""

from __future__ import annotations

import re

import pytest
from django.db import connections

from tests.accounts.factories import make_officer
from tests.cases.conftest import drain, make_citizen, png_bytes
from tongban.carmove.models import MoveRequest
from tongban.cases.models import Case, ElectronicResult
from tongban.cases.services import case_act
from tongban.notifications.models import SmsMessage

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _sign_in(page, base: str, phone: str) -> None:
    page.goto(base + "/login/")
    page.fill("#id_username", phone)
    page.fill("#id_password", "Citizen-2026-pw")
    with page.expect_navigation():
        page.click("main form button[type=submit]")


def test_carmove_and_certificate_on_a_phone(browser, phone_page, live_server, assert_accessible):
    from tongban.catalog.loading import catalog_load
    from tongban.registry.generator import generate

    base = live_server.url
    catalog_load()
    generate(people=200, seed=11, parallel=False)
    with connections["traffic"].cursor() as cursor:
        cursor.execute("SELECT plate, plate_type, owner_phone FROM traffic_vehicle ORDER BY plate LIMIT 1")
        plate, plate_type, owner_phone = cursor.fetchone()
    with connections["criminal"].cursor() as cursor:
        cursor.execute("SELECT id_number FROM criminal_record")
        recorded = {row[0] for row in cursor.fetchall()}
    with connections["population"].cursor() as cursor:
        cursor.execute("SELECT id_number, name FROM population_person WHERE status = 'normal' ORDER BY id_number")
        number, name = next(row for row in cursor.fetchall() if row[0] not in recorded)
    make_citizen(id_number=number, name=name, phone="13900000661")

    # 一键挪车: the form asks the camera for photos; the request goes out; the status page, not the number.
    page = phone_page
    _sign_in(page, base, "13900000661")
    page.goto(base + "/carmove/")
    assert page.get_attribute("#id_photo1", "capture") == "environment"
    assert_accessible(page)
    page.select_option("#id_plate_type", plate_type)
    page.fill("#id_plate", plate)
    page.fill("#id_location", "文三路 100 号地下车库 B2-031")
    page.fill("#id_message", "挡住出口了，麻烦挪一下")
    page.set_input_files("#id_photo1", files=[{"name": "car.png", "mimeType": "image/png", "buffer": png_bytes()}])
    with page.expect_navigation():
        page.click("#send")
    move = MoveRequest.objects.get()
    assert page.url.endswith(f"/carmove/{move.pk}/")
    assert page.locator("#move-status").get_attribute("data-status") == "notified"
    assert owner_phone not in page.content()
    assert_accessible(page)

    # The owner opens the SMS link on their phone, without signing in, and answers.
    sms = SmsMessage.objects.get(purpose="carmove")
    link = re.search(r"/carmove/r/[A-Za-z0-9_-]+/", sms.text).group(0)
    owner = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True,
                                has_touch=True)
    owner_page = owner.new_page()
    owner_page.goto(base + link)
    assert plate in owner_page.content() and "13900000661" not in owner_page.content() and name not in owner_page.content()
    assert_accessible(owner_page)
    with owner_page.expect_navigation():
        owner_page.click("#answer-moving")
    assert owner_page.locator("#move-status").get_attribute("data-status") == "moving"
    owner.close()
    page.reload()
    assert page.locator("#move-status").get_attribute("data-status") == "moving"

    # 无犯罪记录证明: apply (reason, period, station), the station accepts and issues, the citizen downloads
    # the certificate and anyone can verify it by number and check code.
    page.goto(base + "/apply/330106-GAZA001/")
    with page.expect_navigation():
        page.click("#start")
    assert "/edit/" in page.url, page.url
    page.select_option("#id_purpose", "employment")
    page.fill("#id_recipient", "杭州某科技有限公司")
    page.fill("#id_period_years", "5")
    page.select_option("#id_station", "s2")
    page.check("input[name=delivery_method][value=electronic]")
    assert_accessible(page)
    with page.expect_navigation():
        page.click("button[name=next][value=review]")
    assert "/review/" in page.url, page.url
    with page.expect_navigation():
        page.click("#submit")
    case = Case.objects.get(item_code="330106-GAZA001")
    station = make_officer("station-e2e", department="public_order", region_code="330100")
    case_act(user=station, case_id=case.pk, action="accept")
    case_act(user=station, case_id=case.pk, action="approve")
    drain()
    result = ElectronicResult.objects.get(case=case)
    page.goto(base + f"/me/cases/{case.pk}/")
    assert page.locator("#result-download").is_visible()
    assert page.locator("#case-state").get_attribute("data-state") == "closed"
    page.goto(base + f"/verify/result/?number={case.number}&code={result.check_code}")
    assert "无犯罪记录证明" in page.content()
    assert_accessible(page)
