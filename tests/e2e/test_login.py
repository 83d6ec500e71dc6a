"""A demo citizen signs in through the portal's login page with their phone number."""

import pytest

from tongban.demo.seed import DEMO_ACCOUNTS, demo_accounts_ensure

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_demo_citizen_signs_in_and_out(page, live_server):
    demo_accounts_ensure()
    citizen = next(a for a in DEMO_ACCOUNTS if a.account_name == "citizen")
    assert citizen.username == "13800000001"
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", citizen.username)
    page.fill("#id_password", "wrong-password")
    page.click("button[type=submit]")
    # The error pattern: a summary that has the focus, the inputs marked and described by the message.
    assert "手机号或密码不正确" in page.locator(".error-summary").inner_text()
    assert page.title().startswith("错误：")
    page.wait_for_function("() => document.activeElement.id === 'error-summary'", timeout=5000)
    assert page.get_attribute("#id_password", "aria-invalid") == "true"
    page.fill("#id_password", citizen.password)
    page.click("button[type=submit]")
    page.wait_for_url("**/me/")
    assert page.locator("#username").inner_text() == "citizen"
    assert page.locator("#phone").inner_text() == "138****0001"
    page.click("text=退出登录")
    page.wait_for_url(live_server.url + "/")
    assert page.locator("a[href='/login/']").count() == 1
