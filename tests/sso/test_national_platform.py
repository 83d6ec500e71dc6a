"""One user system with the national platform: its simulator signs people in through tongban (a relying
party completing the code flow, logged out by back-channel), and tongban signs people in through it
("使用国家政务服务平台账号登录"), linking accounts by the verified ID number only."""

from __future__ import annotations

import pytest

from sim.national_platform import NationalPlatformSimulator
from tests.sso.browser import Browser
from tests.sso.conftest import make_person, register, resident_id

pytestmark = pytest.mark.django_db(transaction=True)


def deliver() -> int:
    from tongban.jobs.worker import Worker

    return Worker(worker_id="tests").run_once()


@pytest.fixture
def national():
    sim = NationalPlatformSimulator.start()
    try:
        yield sim
    finally:
        sim.stop()


def test_national_platform_signs_in_through_tongban_and_is_logged_out_by_back_channel(live_server, national):
    from tongban.sso.claims import pairwise_sub

    person = make_person("np1", phone="13900000011", seq=11)
    reg = register("国家政务服务平台", redirect=national.rp_redirect_uri, organisation="国务院办公厅",
                   backchannel_logout_uri=national.rp_backchannel_uri, scopes="openid realname idcard_masked")
    national.configure_rp(issuer=live_server.url, client_id=reg.client.client_id, client_secret=reg.secret)
    browser = Browser()
    landed = browser.sign_in_through(f"{national.url}/rp/login", phone="13900000011")
    assert landed.status_code == 200 and "已通过一网通办登录" in landed.text, landed.text[:300]
    me = browser.get(f"{national.url}/rp/me").json()
    assert me["claims"]["sub"] == pairwise_sub(sector=reg.client.sector, user_id=person.pk)
    assert me["claims"]["acr"] == "urn:tongban:acr:l2"
    assert me["userinfo"]["name"] == "张三丰" and "id_number" not in me["userinfo"]

    browser.logout_at_tongban(live_server.url)  # logged out elsewhere: at tongban's own site
    assert deliver() >= 1
    assert national.state.logouts and national.state.logouts[0]["sid"] == me["claims"]["sid"]
    assert browser.get(f"{national.url}/rp/me").status_code == 401
    assert national.state.refused_logouts == 0


@pytest.fixture
def national_idp(live_server, national, settings):
    national.idp_redirect_uris = [f"{live_server.url}/login/national/callback/"]
    settings.TONGBAN_NATIONAL_IDP = {"ISSUER": national.idp_issuer, "CLIENT_ID": national.idp_client_id,
                                     "CLIENT_SECRET": national.idp_client_secret, "ALG": "ES256"}
    return national


def _current_user(browser: Browser, base: str) -> str:
    page = browser.get(f"{base}/me/")
    import re

    match = re.search(r'id="username">([^<]+)<', page.text)
    return match.group(1) if match else ""


def test_national_account_links_to_the_existing_account_by_verified_identity(live_server, national_idp):
    from tongban.sso.models import FederatedIdentity

    person = make_person("known", phone="13900000021", seq=21, level=1)
    np_person = national_idp.add_person(name="张三丰", id_number=person.id_number, level=2)
    national_idp.sign_in(np_person)
    browser = Browser()
    response = browser.get(f"{live_server.url}/login/national/?next=/me/")
    assert response.status_code == 200 and response.url.endswith("/me/"), response.text[:300]
    assert _current_user(browser, live_server.url) == "known"
    link = FederatedIdentity.objects.get(subject=np_person.sub)
    assert link.user_id == person.pk and not link.created_account
    from tongban.accounts.models import CitizenProfile

    assert CitizenProfile.objects.get(user=person).level == 2  # the national platform asserted L2


def test_unknown_national_account_gets_an_account_without_registering(live_server, national_idp):
    from tongban.accounts.models import CitizenProfile
    from tongban.sso.models import FederatedIdentity

    # someone here has the phone number the newcomer might have: never a reason to link
    make_person("phoneowner", phone="13900000031", seq=31)
    np_person = national_idp.add_person(name="李四", id_number=resident_id(32), level=1)
    national_idp.sign_in(np_person)
    browser = Browser()
    browser.get(f"{live_server.url}/login/national/?next=/me/")
    username = _current_user(browser, live_server.url)
    assert username and username != "phoneowner"
    link = FederatedIdentity.objects.get(subject=np_person.sub)
    assert link.created_account
    profile = CitizenProfile.objects.get(user=link.user)
    assert profile.level == 1 and profile.name == "李四" and profile.phone is None
    # the second time: the same account, by the link
    browser2 = Browser()
    browser2.get(f"{live_server.url}/login/national/?next=/me/")
    assert _current_user(browser2, live_server.url) == username


def test_unverified_national_assertion_is_refused(live_server, national_idp):
    np_person = national_idp.add_person(name="王五", id_number=resident_id(41), level=0)
    national_idp.sign_in(np_person)
    response = Browser().get(f"{live_server.url}/login/national/?next=/me/")
    assert response.status_code == 403 and "实名认证" in response.text
