"""A person signs in to a relying party (the national platform's simulator) through tongban in a real
browser: login → consent in Chinese listing exactly what is shared → back at the relying party."""

import pytest

from sim.national_platform import NationalPlatformSimulator
from tests.sso.conftest import make_person, register

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_login_consent_and_return_to_the_client(page, live_server):
    from tongban.sso.secrets import clear_cache

    clear_cache()  # provider secrets and keys cached by earlier tests belong to a flushed database
    make_person("e2e", phone="13900000071", seq=71)
    national = NationalPlatformSimulator.start()
    try:
        reg = register("国家政务服务平台", redirect=national.rp_redirect_uri, organisation="国务院办公厅",
                       scopes="openid realname idcard_masked")
        national.configure_rp(issuer=live_server.url, client_id=reg.client.client_id, client_secret=reg.secret)
        page.goto(f"{national.url}/rp/login")
        page.wait_for_url("**/login/**")
        page.fill("#id_username", "13900000071")
        page.fill("#id_password", "Citizen-2026-pw")
        page.click("button[type=submit]")
        page.wait_for_url("**/o/authorize/continue/**")
        assert page.locator("h1").inner_text() == "授权确认"
        assert page.locator("#client-name").inner_text() == "国家政务服务平台"
        items = page.locator("#consent-items li")
        assert items.count() == 3
        text = page.locator("#consent-items").inner_text()
        assert "真实姓名" in text and "张*" in text and "证件号码（部分隐藏）" in text and "手机号码" not in text
        page.click("#allow")
        page.wait_for_url(f"{national.url}/rp/callback**")
        assert page.locator("#status").inner_text() == "已通过一网通办登录"
        assert page.locator("#acr").inner_text() == "urn:tongban:acr:l2"
        assert "张三丰" in page.locator("#userinfo").inner_text()
    finally:
        national.stop()
