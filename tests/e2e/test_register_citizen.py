"""A mainland citizen registers on a phone: code read from the SMS simulator's page, password, L2."""

import pytest

from tests.accounts.browser import (
    read_code_on_simulator_page,
    register_in_browser,
    verify_mainland_in_browser,
)
from tests.accounts.conftest import past_cooldown, people, sms_sim  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_mainland_citizen_registers_and_verifies_to_l2(phone_page, live_server, sms_sim, people,  # noqa: F811
                                                       assert_accessible):
    page = phone_page
    person = people.mainland[0]
    register_in_browser(page, live_server.url, sms_sim, "13912340001")
    assert "注册成功" in page.content()
    # A wrong name first: a clear message next to the form, nothing stored.
    page.fill("#id_id_number", person["id_number"])
    page.fill("#id_name", "王某某")
    page.check("input[name=level][value='1']")
    page.click("button[type=submit]")
    assert "姓名与证件号码不一致" in page.locator("#error-summary").inner_text()
    assert_accessible(page)  # the verification's refusal, in the error pattern
    verify_mainland_in_browser(page, person, level=2)
    assert page.locator("#level").inner_text().strip() == "实证 L2"
    assert_accessible(page)  # the account page with its message
    number = person["id_number"]
    assert page.locator("#id-number").inner_text() == number[:3] + "*" * 11 + number[-4:]
    assert page.locator("#name").inner_text() == person["name"][0] + "*" * (len(person["name"]) - 1)
    assert page.locator("#phone").inner_text() == "139****0001"
    assert person["name"] not in page.content() and number not in page.content()

    # Sign out, then in again by code (once the minute since the registration code has passed: one code per
    # phone a minute, whatever its purpose).
    page.click("text=退出登录")
    past_cooldown()
    page.goto(live_server.url + "/login/code/")
    page.fill("#id_phone", "13912340001")
    page.click("button[type=submit]")
    page.wait_for_url("**/login/code/verify/")
    page.fill("#id_code", read_code_on_simulator_page(page, sms_sim, "13912340001"))
    page.click("button[type=submit]")
    page.wait_for_url("**/me/")
    assert page.locator("#level").inner_text().strip() == "实证 L2"
