"""Browser steps shared by the e2e tests of citizen accounts (tests/e2e/test_register_*.py, test_enterprise.py)."""

from __future__ import annotations

import re

from tests.accounts.conftest import deliver

PASSWORD = "Browser-2026-pw"


def read_code_on_simulator_page(page, sim, phone: str) -> str:
    """Open the SMS simulator's page in another tab of the same browser and read the newest code."""
    deliver()  # the in-process worker does this within a second in the demo
    tab = page.context.new_page()
    try:
        tab.goto(f"{sim.base_url}/?phone={phone}")
        text = tab.locator(f"section.phone[data-phone='{phone}'] li.msg p").first.inner_text()
    finally:
        tab.close()
    match = re.search(r"验证码为 (\d{6})", text)
    assert match, text
    return match.group(1)


def register_in_browser(page, base_url: str, sim, phone: str, password: str = PASSWORD) -> None:
    page.goto(base_url + "/register/")
    page.fill("#id_phone", phone)
    page.click("button[type=submit]")
    page.wait_for_url("**/register/verify/")
    assert "验证码已发送至" in page.locator("p.intro").inner_text()
    code = read_code_on_simulator_page(page, sim, phone)
    page.fill("#id_code", code)
    page.fill("#id_password", password)
    page.fill("#id_password2", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/me/identity/")


def verify_mainland_in_browser(page, person: dict, level: int = 2) -> None:
    page.check("input[name=id_type][value=resident_id]")
    page.fill("#id_id_number", person["id_number"])
    page.fill("#id_name", person["name"])
    page.check(f"input[name=level][value='{level}']")
    if level == 2:
        card = person["card"]
        page.fill("#id_card_valid_from", card["valid_from"])
        if card["valid_to"] == "长期":
            page.check("#id_card_long_term")
        else:
            page.fill("#id_card_valid_to", card["valid_to"])
    page.click("button[type=submit]")
    page.wait_for_url("**/me/")
