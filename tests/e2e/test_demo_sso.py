"""The demo's single sign-on in a real browser, wired as `tongban demo` wires it: its relying parties registered
by tongban.demo.seed.demo_sso_ensure and served by sim.demo_sso.serve — the two demo applications
(sim/demo_rp.py) and the national platform's simulator, both ways round."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sso.conftest import PASSWORD, make_person

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _deliver() -> int:
    """What the demo's in-process job worker does within a second: deliver the outbox (logout tokens)."""
    from tongban.jobs.worker import Worker

    done = total = Worker(worker_id="tests").run_once()
    while done:
        done = Worker(worker_id="tests").run_once()
        total += done
    return total


@pytest.fixture
def demo_sso(live_server: Any, settings: Any, tmp_path: Any) -> Iterator[Any]:
    from sim.demo_sso import serve
    from tongban.demo.seed import demo_sso_ensure
    from tongban.sso.federation import _discovery_cache
    from tongban.sso.secrets import clear_cache

    clear_cache()  # provider secrets cached by earlier tests belong to a flushed database
    _discovery_cache.clear()
    settings.TONGBAN_VAR_DIR = tmp_path  # the demo keeps its clients' secrets under var/demo/
    national_port, *app_ports = _free_ports(3)
    sso = demo_sso_ensure(base_url=live_server.url, host="127.0.0.1", national_port=national_port,
                          app_ports=app_ports)
    national, apps = serve(sso.config)
    assert national is not None and sso.national_idp is not None
    settings.TONGBAN_NATIONAL_IDP = sso.national_idp  # what `tongban demo` sets before serving
    try:
        yield sso, national, apps
    finally:
        for app in apps:
            app.stop()
        national.stop()
        _discovery_cache.clear()


def test_sign_in_once_at_one_app_signed_in_at_the_other_then_out_of_both(page: Any, live_server: Any,
                                                                          demo_sso: Any) -> None:
    sso, _, (province, traffic) = demo_sso
    person = make_person("demo-sso", phone="13900000081", seq=81)

    # At the provincial platform: sign in with tongban (password), consent, back signed in.
    page.goto(province.base_url + "/")
    assert page.locator("#app-name").inner_text() == "省级政务服务平台"
    assert page.locator("#status").inner_text() == "未登录"
    page.click("#login")
    page.wait_for_url(f"{live_server.url}/login/**")
    page.fill("#id_username", "13900000081")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/o/authorize/continue/**")
    assert page.locator("#client-name").inner_text() == "省级政务服务平台"
    page.click("#allow")
    page.wait_for_url(province.base_url + "/")
    assert page.locator("#status").inner_text() == "已通过一网通办登录"
    assert page.locator("#who").inner_text() == "张三丰"
    claims = page.locator("#claims").inner_text()
    assert "L2 实证" in claims and "330***********" in claims
    province_sub = province.sessions[next(iter(province.sessions))].claims["sub"]

    # At the business system: signing in asks for no password — only this application's consent, once.
    passwords_seen: list[str] = []
    page.on("framenavigated", lambda frame: passwords_seen.append(frame.url)
            if frame == page.main_frame and frame.url.startswith(f"{live_server.url}/login/") else None)
    page.goto(traffic.base_url + "/")
    assert page.locator("#status").inner_text() == "未登录"
    assert page.locator("#peers a").inner_text() == "省级政务服务平台"
    page.click("#login")
    page.wait_for_url("**/o/authorize/continue/**")
    assert page.locator("#id_password").count() == 0
    assert page.locator("#client-name").inner_text() == "交管业务系统"
    page.click("#allow")
    page.wait_for_url(traffic.base_url + "/")
    assert page.locator("#status").inner_text() == "已通过一网通办登录"
    assert page.locator("#who").inner_text() == "张三丰"
    assert passwords_seen == []
    # Each application knows the person under its own pairwise subject, in the same tongban session.
    traffic_claims = traffic.sessions[next(iter(traffic.sessions))].claims
    province_claims = province.sessions[next(iter(province.sessions))].claims
    assert traffic_claims["sub"] != province_sub and traffic_claims["sid"] == province_claims["sid"]

    # Both are listed under 已授权应用.
    page.goto(live_server.url + "/me/authorizations/")
    listed = page.locator("#authorizations li strong").all_inner_texts()
    assert sorted(listed) == ["交管业务系统", "省级政务服务平台"]

    # Logging out at the business system logs out of tongban and, by back-channel, of the provincial platform.
    page.goto(traffic.base_url + "/")
    page.click("#logout")
    page.wait_for_url(traffic.base_url + "/logged-out**")
    assert page.locator("#status").inner_text() == "已退出"
    assert _deliver() >= 1
    page.goto(province.base_url + "/")
    assert page.locator("#status").inner_text() == "未登录"
    assert "后端通道" in page.locator("#note").inner_text()
    page.goto(traffic.base_url + "/")
    assert page.locator("#status").inner_text() == "未登录"
    assert province.refused_logouts == 0 and traffic.refused_logouts == 0
    page.goto(live_server.url + "/me/")
    page.wait_for_url(f"{live_server.url}/login/**")
    assert person.pk


def test_national_platform_button_and_the_other_way_round(page: Any, live_server: Any, demo_sso: Any) -> None:
    from sim.national_platform import PASSWORD as NATIONAL_PASSWORD

    _, national, _ = demo_sso
    person = make_person("demo-np", phone="13900000082", seq=82)
    national.add_person(name="张三丰", id_number=person.id_number, level=2, sub="np-demo-test")

    # 使用国家政务服务平台账号登录: the simulator's login form, then back signed in to the same person's account.
    page.goto(live_server.url + "/login/")
    page.click("#national-login")
    page.wait_for_url(f"{national.url}/idp/authorize**")
    assert "国家政务服务平台（模拟）" in page.locator("h1").inner_text()
    page.fill("input[name=username]", person.id_number)
    page.fill("input[name=password]", NATIONAL_PASSWORD)
    page.click("#np-login button[type=submit]")
    page.wait_for_url(f"{live_server.url}/me/")
    assert page.locator("#username").inner_text() == "demo-np"

    # The other way round: the national platform signs the person in through tongban (signed in: consent only).
    page.goto(national.url + "/")
    page.click("#rp-login")
    page.wait_for_url("**/o/authorize/continue/**")
    assert page.locator("#client-name").inner_text() == "国家政务服务平台（模拟）"
    page.click("#allow")
    page.wait_for_url(f"{national.url}/rp/callback**")
    assert page.locator("#status").inner_text() == "已通过一网通办登录"
    assert "张三丰" in page.locator("#userinfo").inner_text()
