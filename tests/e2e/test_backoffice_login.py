"""A staff member signs in to the back office in the browser: password, then the TOTP code."""

import pytest

from tests.accounts.factories import device_of, totp_code
from tongban.demo.seed import DEMO_ACCOUNTS, demo_accounts_ensure

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_demo_officer_signs_in_with_totp(page, live_server):
    demo_accounts_ensure()
    officer = next(a for a in DEMO_ACCOUNTS if a.username == "officer")
    from tongban.accounts.models import User

    device = device_of(User.objects.get(username="officer"))
    page.goto(live_server.url + "/backoffice/")
    page.wait_for_url("**/backoffice/login/**")
    page.fill("#id_username", officer.username)
    page.fill("#id_password", officer.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/backoffice/login/totp/")
    page.fill("#id_token", "000000" if totp_code(device) != "000000" else "111111")
    page.click("button[type=submit]")
    assert "动态口令不正确" in page.locator("p.error").inner_text()
    from tongban.accounts.models import StaffTOTPDevice

    StaffTOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)  # skip the back-off delay
    page.fill("#id_token", totp_code(device))
    page.click("button[type=submit]")
    page.wait_for_url(live_server.url + "/backoffice/")
    assert page.locator("#bo-username").inner_text() == "officer"
    assert "业务民警" in page.locator("#bo-roles").inner_text()
    page.click("text=退出")
    page.wait_for_url("**/backoffice/login/")


def test_new_staff_enrols_on_a_phone(phone_page, live_server):
    from tongban.accounts import services
    from tongban.accounts.models import User

    services.staff_create(actor=None, username="p100", password="Initial-pass-2026", roles=["officer"],
                          department="traffic", region_code="330106")
    page = phone_page
    page.goto(live_server.url + "/backoffice/login/")
    page.fill("#id_username", "p100")
    page.fill("#id_password", "Initial-pass-2026")
    page.click("button[type=submit]")
    page.wait_for_url("**/backoffice/login/totp/")
    assert page.locator("#totp-qr svg").count() == 1
    assert page.locator("#totp-qr svg").bounding_box()["width"] <= 390
    from tongban.accounts.models import StaffTOTPDevice

    device = StaffTOTPDevice.objects.get(user=User.objects.get(username="p100"))
    page.fill("#id_token", totp_code(device))
    page.click("button[type=submit]")
    # The initial password is temporary: it is changed before anything else.
    page.wait_for_url("**/backoffice/password/")
    page.fill("#id_old_password", "Initial-pass-2026")
    page.fill("#id_new_password1", "Changed-pass-2026!")
    page.fill("#id_new_password2", "Changed-pass-2026!")
    page.click("main button[type=submit]")
    page.wait_for_url(live_server.url + "/backoffice/")
    assert page.locator("#bo-username").inner_text() == "p100"
