"""Every page of the portal, the staff site and the SSO pages, in every state the tests reach (empty form,
failed submit, signed in and out), passes axe-core at 375 px and 1280 px and keeps our form pattern
(tests/e2e/a11y.py; docs/accessibility.md)."""

from __future__ import annotations

import pytest

from tests.e2e.a11y import (
    CITIZEN_PAGES,
    OFFICER_PAGES,
    PAYMENT_FINANCE_PAGES,
    PAYMENT_OFFICER_PAGES,
    PUBLIC_PAGES,
    STAFF_PAGES,
    accessibility_problems,
    failed,
    staff_sign_in,
    visit,
    walk,
)
from tests.sso.conftest import PASSWORD, make_person, pkce, register

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

PHONE = "13900000081"


def _report(problems: list[str]) -> str:
    return f"{len(problems)} accessibility problems:\n" + "\n".join(problems)


def _sign_in(page, base_url: str, phone: str = PHONE) -> None:
    page.goto(base_url + "/login/")
    page.fill("#id_username", phone)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/me/" in page.url, page.url


def test_public_pages(page, live_server):
    from tongban.catalog.loading import catalog_load

    make_person("a11y", phone=PHONE)
    catalog_load()
    problems = walk(page, live_server.url, PUBLIC_PAGES)
    assert not problems, _report(problems)


def test_citizen_pages(page, live_server):
    from tongban.accounts.enterprises import enterprise_register
    from tongban.sso.services import consent_grant

    person = make_person("a11y", phone=PHONE, level=2)
    enterprise = enterprise_register(user=person, uscc="91110000600037341L", name="杭州示例科技有限公司",
                                     representative_name="张三丰", declared=True)
    consent_grant(user=person, client=register("市民服务应用").client, scopes=["openid", "realname"])
    from tongban.catalog.loading import catalog_load

    catalog_load()  # the home page's high-frequency items and the signed-in entries
    _sign_in(page, live_server.url)
    problems = walk(page, live_server.url, CITIZEN_PAGES, {"enterprise": enterprise.pk})
    assert not problems, _report(problems)


def test_sso_pages(page, live_server):
    """Step-up, sign-in again (password and SMS code), consent, the hand-back page, logout."""
    from urllib.parse import urlencode

    make_person("a11y", phone=PHONE, level=1)
    client = register("市民服务应用", redirect="https://rp.example.cn/cb").client
    # The client answers its redirect with 204 No Content: the browser stays on the hand-back page.
    page.route("https://rp.example.cn/**", lambda route: route.fulfill(status=204))

    def authorize(**extra: str) -> None:
        _, challenge = pkce()
        page.goto(live_server.url + "/o/authorize/?" + urlencode({
            "response_type": "code", "client_id": client.client_id, "redirect_uri": "https://rp.example.cn/cb",
            "scope": "openid realname", "state": "s", "nonce": "n", "code_challenge": challenge,
            "code_challenge_method": "S256", **extra}))

    _sign_in(page, live_server.url)
    problems: list[str] = []
    authorize(acr_values="urn:tongban:acr:l2")
    assert "/o/authorize/verify/" in page.url
    problems += accessibility_problems(page)
    visit(page, "", failed(page.url))  # nothing filled in
    problems += accessibility_problems(page)

    authorize(prompt="login")
    assert "/o/authorize/login/" in page.url
    problems += accessibility_problems(page)
    page.fill("#id_password", "Not-the-password-1")
    with page.expect_navigation():
        page.click("#reauth")
    problems += accessibility_problems(page)
    with page.expect_navigation():
        page.click("#send-code")
    problems += accessibility_problems(page)
    page.fill("#id_code", "000000")
    with page.expect_navigation():
        page.click("#reauth-code")
    problems += accessibility_problems(page)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("#reauth")
    assert page.locator("#allow").count() == 1, page.url  # the consent
    problems += accessibility_problems(page)
    with page.expect_navigation():
        page.click("#allow")
    assert page.locator("#continue").count() == 1  # the hand-back page
    problems += accessibility_problems(page)

    page.goto(live_server.url + "/o/logout/")
    problems += accessibility_problems(page)
    with page.expect_navigation():
        page.click("#confirm-logout")
    assert "已退出登录" in page.locator("h1").inner_text()
    problems += accessibility_problems(page)
    assert not problems, _report(problems)


def test_staff_pages(page, live_server):
    from tests.accounts.factories import PASSWORD as STAFF_PASSWORD
    from tests.accounts.factories import device_of, make_staff, totp_code
    from tongban.accounts.models import StaffTOTPDevice
    from tongban.accounts.roles import StaffRole

    officer = make_staff("a11y", StaffRole.SECURITY_ADMIN,
                         department="hukou", region_code="330100")
    make_staff("newcomer", StaffRole.OFFICER, department="hukou", region_code="330100", totp=False)
    make_staff("other", StaffRole.KEY_ADMIN)
    base = live_server.url
    problems: list[str] = []

    # The login page and its failures are in PUBLIC_PAGES; the TOTP step: as shown, wrong, right.
    page.goto(base + "/backoffice/login/")
    page.fill("#id_username", "a11y")
    page.fill("#id_password", STAFF_PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/backoffice/login/totp/" in page.url
    problems += accessibility_problems(page)
    device = device_of(officer)
    page.fill("#id_token", "000000" if totp_code(device) != "000000" else "111111")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    problems += accessibility_problems(page)
    StaffTOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)  # skip the back-off delay
    page.fill("#id_token", totp_code(device))
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url == base + "/backoffice/"

    problems += walk(page, base, STAFF_PAGES, {"staff": "newcomer", "other": "other"})

    # A message on the next page: the password changed.
    page.goto(base + "/backoffice/password/")
    page.fill("#id_old_password", STAFF_PASSWORD)
    page.fill("#id_new_password1", "Changed-pass-2026!")
    page.fill("#id_new_password2", "Changed-pass-2026!")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "密码已修改" in page.locator(".messages").inner_text()
    problems += accessibility_problems(page)

    # A newcomer's first login: the TOTP enrolment page.
    page.click("text=退出")
    page.wait_for_url("**/backoffice/login/")
    page.fill("#id_username", "newcomer")
    page.fill("#id_password", STAFF_PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.locator("#totp-qr svg").count() == 1
    problems += accessibility_problems(page)
    assert not problems, _report(problems)



def test_officer_case_pages(page, live_server):
    import io

    from tests.accounts.factories import PASSWORD as STAFF_PASSWORD
    from tests.accounts.factories import make_officer
    from tests.cases.conftest import make_citizen, make_item, png_bytes
    from tongban.cases.attachments import attachment_add
    from tongban.cases.catalog_bridge import withdraw_item
    from tongban.cases.services import case_save_draft, case_start, case_submit

    item = make_item("A11Y1")
    try:
        citizen = make_citizen()
        case = case_start(user=citizen, item_code=item.code)
        case_save_draft(user=citizen, case_id=case.pk, answers={"name": "张三", "reason": "damaged"},
                        delivery={"method": "pickup", "station": "西湖区公安分局接待大厅"})
        attachment_add(user=citizen, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes()))
        case_submit(user=citizen, case_id=case.pk)
        officer = make_officer("a11y-officer", region_code="330100")
        make_officer("a11y-colleague", region_code="330106")
        staff_sign_in(page, live_server.url, officer, STAFF_PASSWORD)
        problems = walk(page, live_server.url, OFFICER_PAGES, {"case": case.pk})
    finally:
        withdraw_item(item.code)
    assert not problems, _report(problems)


def _staff_session(page, base_url: str, user) -> None:
    """Signed in with password and second factor (the login pages themselves are checked above)."""
    from django.test import Client

    from tests.accounts.factories import login_verified

    client = Client()
    login_verified(client, user)
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "tongban_session", "value": client.cookies["tongban_session"].value,
                               "url": base_url}])


def test_payment_pages(page, live_server, settings):
    """The payer's pages of a notice (unpaid, then paid: the return page with its receipt, the receipt check)
    and the staff's payments pages, as an officer and as finance staff."""
    from sim.pay_gateway import PayGatewaySimulator
    from tests.accounts.factories import make_officer, make_staff
    from tests.payments.conftest import KEY, make_notice, point_at
    from tongban.accounts.roles import StaffRole
    from tongban.payments import services
    from tongban.payments.models import Receipt
    from tongban.payments.receipts import receipt_ensure

    sim = PayGatewaySimulator.start("127.0.0.1", 0, key=KEY)
    try:
        point_at(settings, sim.url)
        base = live_server.url
        unpaid = make_notice(region_code="440106")
        paid = make_notice(region_code="440106")
        payment = services.payment_create(document_id=paid.pk, idempotency_key="a11y").payment
        sim.pay(payment.order_id)
        services.payment_refresh(payment_id=payment.pk)
        receipt_ensure(payment_id=payment.pk)
        receipt = Receipt.objects.get(payment=payment)
        problems: list[str] = []
        page.goto(f"{base}/pay/{unpaid.number}/?t={services.qr_token(unpaid.number)}")
        problems += accessibility_problems(page)
        page.goto(f"{base}/pay/{paid.number}/?t={services.qr_token(paid.number)}")
        problems += accessibility_problems(page)
        page.goto(f"{base}/pay/return/{payment.order_id}/")
        problems += accessibility_problems(page)
        page.goto(f"{base}/verify/receipt/?number={receipt.number}&code={receipt.check_code}")
        problems += accessibility_problems(page)

        _staff_session(page, base, make_officer("pay_a11y", department="traffic", region_code="440100"))
        problems += walk(page, base, PAYMENT_OFFICER_PAGES, {"notice": unpaid.number, "paid": paid.number})
        _staff_session(page, base, make_staff("finance_a11y", StaffRole.FINANCE))
        problems += walk(page, base, PAYMENT_FINANCE_PAGES)
    finally:
        sim.stop()
    assert not problems, _report(problems)
