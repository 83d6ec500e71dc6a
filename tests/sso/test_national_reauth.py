"""Signing in again (prompt=login, max_age) through the national platform: tongban asks it to authenticate
the person again (prompt=login, max_age=0) and accepts its answer only if the ID token's auth_time says it
did — a live session at the national platform is not a new sign-in. A first sign-in through it is unchanged,
but counts as recent only as of the national platform's own auth_time.

The browser is Django's test client for tongban and `requests` for the simulator's pages (its login form);
tongban reaches the simulator over loopback as it would the real platform."""

from __future__ import annotations

import datetime as dt
import html
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests

from sim.national_platform import PASSWORD as NATIONAL_PASSWORD
from sim.national_platform import NationalPlatformSimulator
from tests.sso.browser import hidden
from tests.sso.conftest import BASE, Flow, decode
from tests.sso.test_reauth import _answer, _hours_ago, _signed_in_at, _to_reauth

pytestmark = pytest.mark.django_db

CALLBACK = f"{BASE}/login/national/callback/"


@pytest.fixture
def national(settings):
    sim = NationalPlatformSimulator.start(idp_redirect_uris=[CALLBACK])
    settings.TONGBAN_NATIONAL_IDP = {"ISSUER": sim.idp_issuer, "CLIENT_ID": sim.idp_client_id,
                                     "CLIENT_SECRET": sim.idp_client_secret, "ALG": "ES256"}
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def np_person(national, person):
    """The person of the `person` fixture, registered at the national platform and signed in there now."""
    np = national.add_person(name="张三丰", id_number=person.id_number, level=2)
    national.sign_in(np)
    return np


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def _to_national(http: Any, url: str) -> str:
    """Follow tongban's link to the national platform: the authorization URL it redirects to."""
    response = http.get(url)
    assert response.status_code == 302, (response.status_code, response.content[:300])
    return str(response["Location"])


def _sign_in_at_national(national: NationalPlatformSimulator, page: requests.Response, id_number: str,
                         password: str = NATIONAL_PASSWORD) -> requests.Response:
    return requests.post(f"{national.url}/idp/login", data={
        "login_id": hidden(page.text, "login_id"), "username": id_number, "password": password},
        allow_redirects=False, timeout=10)


def _back_at_tongban(http: Any, national_answer: requests.Response) -> Any:
    """The national platform's redirect to tongban's callback, followed by the test client."""
    assert national_answer.status_code == 302, (national_answer.status_code, national_answer.text[:300])
    location = national_answer.headers["Location"]
    assert location.startswith(CALLBACK), location
    return http.get(location[len(BASE):])


def _reauth_through_national(flow: Flow, national: NationalPlatformSimulator, id_number: str) -> Any:
    """On the sign-in-again page, choose the national platform, sign in at its form; tongban's answer."""
    page = _to_reauth(flow, prompt="login")
    url = _to_national(flow.http, page.context["national_url"])
    form = requests.get(url, allow_redirects=False, timeout=10)
    assert form.status_code == 200 and 'name="password"' in form.text, (form.status_code, form.text[:300])
    return _back_at_tongban(flow.http, _sign_in_at_national(national, form, id_number))


def _login_row(person: Any) -> Any:
    from tongban.accounts.models import LoginSession

    return LoginSession.objects.get(user=person)


def test_signing_in_again_through_the_national_platform_makes_it_authenticate_again(flow, person, national,
                                                                                     np_person):
    flow.code()  # consent given once
    _signed_in_at(person, _hours_ago(1))
    started = int(time.time())
    page = _to_reauth(flow, prompt="login")
    assert page.context["national_url"]
    url = _to_national(flow.http, page.context["national_url"])
    assert url.startswith(f"{national.idp_issuer}/authorize?")
    query = _query(url)
    assert query["prompt"] == ["login"] and query["max_age"] == ["0"]

    # The national platform shows its login form again although the person is signed in there.
    form = requests.get(url, allow_redirects=False, timeout=10)
    assert form.status_code == 200 and 'name="password"' in form.text and "国家政务服务平台" in form.text
    wrong = _sign_in_at_national(national, form, person.id_number, password="not-the-password")
    assert wrong.status_code == 401 and "账号或密码错误" in wrong.text
    response = _back_at_tongban(flow.http, _sign_in_at_national(national, form, person.id_number))
    assert response.status_code == 302 and "/o/authorize/login/" in response["Location"]

    answer = _answer(flow.follow(response))
    assert answer["state"] == [flow.state] and "code" in answer
    claims = decode(flow.token(answer["code"][0]).json()["id_token"])
    assert claims["auth_time"] >= started and claims["amr"] == ["fed"]
    row = _login_row(person)
    assert row.method == "national" and row.created_at.timestamp() >= started


@pytest.mark.parametrize(("misreport", "reason"), [("old", "auth_time_too_old"), ("missing", "auth_time_missing")])
def test_a_national_sign_in_that_is_not_new_is_refused_for_signing_in_again(flow, person, national, np_person,
                                                                           misreport, reason):
    from tongban.audit.actions import Action, Outcome
    from tongban.audit.models import AuditEntry

    if misreport == "old":
        national.auth_time_shift = 3600  # its ID token says the person signed in an hour ago
    else:
        national.auth_time_omitted = True
    flow.code()
    _signed_in_at(person, _hours_ago(1))
    before = _login_row(person).created_at
    failures = AuditEntry.objects.filter(action=Action.AUTH_LOGIN_FAILURE.value).count()

    response = _reauth_through_national(flow, national, person.id_number)
    text = response.content.decode()
    assert response.status_code == 403
    assert "国家政务服务平台未重新验证您的身份，请重新登录。" in text and "federation_not_reauthenticated" in text

    row = _login_row(person)
    assert row.created_at == before and row.method != "national"  # no fresh sign-in
    entries = list(AuditEntry.objects.filter(action=Action.AUTH_LOGIN_FAILURE.value).order_by("id"))
    assert len(entries) == failures + 1
    entry = entries[-1]
    assert entry.outcome == Outcome.FAILURE
    assert (entry.subject_type, entry.subject_id) == ("accounts.user", str(person.pk))
    assert entry.details["via"] == "national_platform" and entry.details["reason"] == reason
    assert entry.details["reauth"] is True
    assert person.id_number not in str(entry.details) and "张三丰" not in str(entry.details)
    # The login request still waits for a real sign-in: back at the sign-in-again page.
    retry = re.search(r'id="retry" href="([^"]+)"', text)
    assert retry and retry.group(1).startswith("/o/authorize/login/?txn=")
    txn = _query(html.unescape(retry.group(1)))["txn"][0]
    again = flow.http.get(f"/o/authorize/continue/?{urlencode({'txn': txn})}")
    assert again.status_code == 302 and "/o/authorize/login/" in again["Location"]


def test_signing_in_again_as_someone_else_at_the_national_platform_is_refused(flow, person, national, np_person):
    """Signing in again must prove the same person: another person's national account changes nothing."""
    from tests.sso.conftest import make_person
    from tongban.audit.actions import Action
    from tongban.audit.models import AuditEntry

    other = make_person("p2", phone="13900000002", seq=2, name="李四")
    national.add_person(name="李四", id_number=other.id_number, level=2)
    flow.code()
    _signed_in_at(person, _hours_ago(1))
    before = _login_row(person).created_at

    response = _reauth_through_national(flow, national, other.id_number)
    text = response.content.decode()
    assert response.status_code == 403 and "federation_different_person" in text
    assert "与当前登录的账号不是同一人" in text and 'id="retry"' in text
    assert int(flow.http.session["_auth_user_id"]) == person.pk  # still the same person signed in
    row = _login_row(person)
    assert row.created_at == before and row.method != "national"
    entry = AuditEntry.objects.filter(action=Action.AUTH_LOGIN_FAILURE.value).order_by("-id").first()
    assert entry is not None and entry.details["reason"] == "different_person"
    assert (entry.subject_type, entry.subject_id) == ("accounts.user", str(person.pk))
    assert other.id_number not in str(entry.details)


def test_first_sign_in_through_the_national_platform_is_unchanged(client, rp, person, national, np_person):
    """No prompt, no max_age: the national platform's live session signs the person in silently, as before;
    the ID token's auth_time is when the national platform authenticated the person, not this sign-in."""
    national_at = int(time.time() - 7200)
    national.sign_in(np_person, at=national_at)
    url = _to_national(client, "/login/national/?next=/me/")
    assert "prompt" not in _query(url) and "max_age" not in _query(url)
    answer = requests.get(url, allow_redirects=False, timeout=10)
    response = _back_at_tongban(client, answer)
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert int(client.session["_auth_user_id"]) == person.pk
    flow = Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb")
    claims = decode(flow.token(flow.code()).json()["id_token"])
    assert claims["amr"] == ["fed"] and abs(claims["auth_time"] - national_at) <= 1

    # That sign-in counts as recent only as of the national platform's auth_time (two hours ago): a
    # relying party's max_age of an hour asks the person to sign in again, as it would anyone.
    response = client.get(flow.authorize_url(max_age="3600"))
    response = client.get(response["Location"])
    assert response.status_code == 302 and "/o/authorize/login/" in response["Location"]


def test_first_sign_in_for_a_request_with_max_age_passes_it_on_and_checks_auth_time(client, rp, person, national,
                                                                                    np_person):
    national.sign_in(np_person, at=time.time() - 7200)  # signed in there longer ago than max_age allows
    flow = Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb")
    started = int(time.time())
    response = client.get(client.get(flow.authorize_url(max_age="600"))["Location"])
    assert response["Location"].startswith("/login/?next=")
    nxt = _query(response["Location"])["next"][0]
    url = _to_national(client, f"/login/national/?{urlencode({'next': nxt})}")
    query = _query(url)
    assert "prompt" not in query and 600 <= int(query["max_age"][0]) <= 660  # the same deadline as the request's

    form = requests.get(url, allow_redirects=False, timeout=10)  # its session is too old: the form
    assert form.status_code == 200 and 'name="password"' in form.text
    response = _back_at_tongban(client, _sign_in_at_national(national, form, person.id_number))
    response = flow.follow(response)
    assert 'name="decision"' in response.content.decode()  # consent next, not a second sign-in
    answer = _answer(flow.follow(client.post("/o/authorize/continue/",
                                             {"txn": response.context["txn"], "decision": "allow"})))
    claims = decode(flow.token(answer["code"][0]).json()["id_token"])
    assert claims["auth_time"] >= started and claims["amr"] == ["fed"]


def test_first_sign_in_for_a_request_with_max_age_refuses_an_old_auth_time(client, rp, person, national,
                                                                          np_person):
    national.auth_time_shift = 7200  # signed in there just now, but its ID token says two hours ago
    flow = Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb")
    response = client.get(client.get(flow.authorize_url(max_age="600"))["Location"])
    nxt = _query(response["Location"])["next"][0]
    url = _to_national(client, f"/login/national/?{urlencode({'next': nxt})}")
    response = _back_at_tongban(client, requests.get(url, allow_redirects=False, timeout=10))
    assert response.status_code == 403 and "国家政务服务平台未重新验证您的身份" in response.content.decode()
    assert "_auth_user_id" not in client.session  # not signed in


def test_national_auth_time_is_the_earlier_of_the_two():
    from django.test import RequestFactory

    from tongban.sso.federation import AUTH_TIME_KEY, national_auth_time

    request = RequestFactory().get("/")
    request.session = {}
    login_at = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert national_auth_time(request, login_at) is None  # its ID token did not say
    request.session[AUTH_TIME_KEY] = login_at.timestamp() - 3600
    assert national_auth_time(request, login_at) == login_at - dt.timedelta(hours=1)
    request.session[AUTH_TIME_KEY] = login_at.timestamp() + 30
    assert national_auth_time(request, login_at) == login_at
