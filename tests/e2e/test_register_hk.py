"""A Hong Kong resident registers and verifies to L2 with their Mainland Travel Permit."""

import pytest

from tests.accounts.browser import register_in_browser
from tests.accounts.conftest import people, sms_sim  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_hong_kong_resident_registers_with_the_permit(page, live_server, sms_sim, people):  # noqa: F811
    permit = next(p for p in people.hk_macao if p["region"] == "HK")
    register_in_browser(page, live_server.url, sms_sim, "13912340002")
    page.check("input[name=id_type][value=hk_macao_permit]")
    page.fill("#id_id_number", permit["permit_number_with_count"])
    page.fill("#id_name", permit["name_en"])
    page.check("input[name=level][value='2']")
    page.click("button[type=submit]")
    page.wait_for_url("**/me/")
    assert page.locator("#level").inner_text().strip() == "实证 L2"
    assert page.locator("#id-type").inner_text() == "港澳居民来往内地通行证"
    number = permit["permit_number_with_count"]
    assert page.locator("#id-number").inner_text() == number[0] + "*" * (len(number) - 5) + number[-4:]
