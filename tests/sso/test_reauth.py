"""prompt and max_age (OIDC Core §3.1.2.1): prompt=login and max_age make a person signed in too long ago
sign in again before the flow goes on, and the ID token's auth_time is that new sign-in; prompt=none never
shows a page and answers login_required / consent_required to the redirect URI; a malformed max_age is
invalid_request there."""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.sso.conftest import PASSWORD, Flow, decode, register

pytestmark = pytest.mark.django_db


def _signed_in_at(person, when: dt.datetime) -> None:
    """The session's recorded sign-in (accounts.LoginSession) moved into the past."""
    from tongban.accounts.models import LoginSession

    assert LoginSession.objects.filter(user=person).update(created_at=when) == 1


def _hours_ago(hours: float) -> dt.datetime:
    from django.utils import timezone

    return timezone.now() - dt.timedelta(hours=hours)


def _answer(response) -> dict[str, list[str]]:
    assert response.status_code == 302, (response.status_code, response.content[:300])
    return parse_qs(urlsplit(response["Location"]).query)


def _to_reauth(flow: Flow, **extra: str):
    """Start a flow and follow it inside tongban; it must stop at the sign-in-again page."""
    response = flow.http.get(flow.authorize_url(**extra))
    response = flow.http.get(response["Location"])
    assert response.status_code == 302 and "/o/authorize/login/" in response["Location"], response
    page = flow.http.get(response["Location"])
    assert page.status_code == 200 and "重新验证身份" in page.content.decode()
    return page


def test_discovery_lists_prompt_values_and_auth_time(client):
    doc = client.get("/.well-known/openid-configuration").json()
    assert doc["prompt_values_supported"] == ["none", "login", "consent"]
    assert "auth_time" in doc["claims_supported"]


def test_prompt_login_signs_in_again_and_auth_time_is_the_new_sign_in(flow, person):
    from tongban.jobs.models import Job
    from tongban.sso.logout import SID_KEY
    from tongban.sso.models import SessionParticipation

    first = flow.token(flow.code()).json()  # an earlier sign-in of this session at the client
    sid = flow.http.session[SID_KEY]
    _signed_in_at(person, _hours_ago(1))
    started = int(time.time())
    page = _to_reauth(flow, prompt="login")
    txn = page.context["txn"]
    wrong = flow.http.post("/o/authorize/login/", {"txn": txn, "password": "not-the-password"})
    assert wrong.status_code == 422 and "password" in wrong.context["form"].errors
    response = flow.follow(flow.http.post("/o/authorize/login/", {"txn": txn, "password": PASSWORD}))
    answer = _answer(response)
    assert answer["state"] == [flow.state] and "code" in answer
    claims = decode(flow.token(answer["code"][0]).json()["id_token"])
    assert claims["auth_time"] >= started
    assert claims["sid"] == sid  # the same session, signed in again
    # The session's earlier sign-in goes on: nothing ended, nobody told to log out.
    assert flow.refresh(first["refresh_token"]).status_code == 200
    assert not SessionParticipation.objects.filter(ended_at__isnull=False).exists()
    assert not Job.objects.filter(task="outbox.oidc_backchannel").exists()


def test_prompt_login_when_not_signed_in_asks_once(client, rp, person):
    flow = Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb")
    started = int(time.time())
    response = client.get(flow.authorize_url(prompt="login"))
    response = client.get(response["Location"])
    assert response["Location"].startswith("/login/?next=")
    nxt = parse_qs(urlsplit(response["Location"]).query)["next"][0]
    response = client.post("/login/", {"username": person.username, "password": PASSWORD, "next": nxt})
    response = flow.follow(response)
    assert 'name="decision"' in response.content.decode()  # consent next, not a second sign-in
    answer = _answer(flow.follow(client.post("/o/authorize/continue/",
                                             {"txn": response.context["txn"], "decision": "allow"})))
    assert decode(flow.token(answer["code"][0]).json()["id_token"])["auth_time"] >= started


def test_max_age_older_sign_in_must_sign_in_again(flow, person):
    flow.code()  # consent given once
    _signed_in_at(person, _hours_ago(2))
    page = _to_reauth(flow, max_age="3600")
    response = flow.follow(flow.http.post("/o/authorize/login/", {"txn": page.context["txn"], "password": PASSWORD}))
    claims = decode(flow.token(_answer(response)["code"][0]).json()["id_token"])
    assert time.time() - claims["auth_time"] < 60


def test_max_age_recent_enough_goes_straight_on_with_auth_time(flow, person):
    when = _hours_ago(2)
    _signed_in_at(person, when)
    claims = decode(flow.token(flow.code(max_age="86400")).json()["id_token"])
    assert claims["auth_time"] == int(when.timestamp())


def test_max_age_zero_is_prompt_login(flow, person):
    flow.code()
    _signed_in_at(person, _hours_ago(0.01))
    _to_reauth(flow, max_age="0")


def test_giving_up_answers_login_required(flow, person):
    flow.code()
    page = _to_reauth(flow, prompt="login")
    answer = _answer(flow.http.post("/o/authorize/login/", {"txn": page.context["txn"], "decision": "cancel"}))
    assert answer["error"] == ["login_required"] and answer["state"] == [flow.state]


def test_reauth_page_with_a_stale_or_forged_txn(flow):
    assert flow.http.get("/o/authorize/login/?txn=nope").status_code == 400
    assert flow.http.post("/o/authorize/login/", {"txn": "x" * 500, "password": "a"}).status_code == 400
    assert flow.http.get("/o/authorize/login/").status_code == 400


def test_prompt_none_answers_at_the_redirect_uri(client, rp, person):
    flow = Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb")
    # not signed in
    answer = _answer(flow.follow(client.get(flow.authorize_url(prompt="none"))))
    assert answer["error"] == ["login_required"] and answer["state"] == [flow.state]
    # signed in, never consented
    client.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    answer = _answer(flow.follow(client.get(flow.authorize_url(prompt="none"))))
    assert answer["error"] == ["consent_required"]
    # consented: silently a code
    flow.code()
    assert "code" in _answer(flow.follow(client.get(flow.authorize_url(prompt="none"))))
    # signed in too long ago for max_age: no page, login_required
    _signed_in_at(person, _hours_ago(2))
    answer = _answer(flow.follow(client.get(flow.authorize_url(prompt="none", max_age="60"))))
    assert answer["error"] == ["login_required"] and answer["state"] == [flow.state]
    # prompt=none with anything else is invalid_request (oauthlib)
    answer = _answer(flow.follow(client.get(flow.authorize_url(prompt="none login"))))
    assert answer["error"] == ["invalid_request"]


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "1e3", " 60", "６０", "12345678901", "0x10"])
def test_malformed_max_age_is_invalid_request_at_the_redirect_uri(flow, value):
    answer = _answer(flow.http.get(flow.authorize_url(max_age=value)))
    assert answer["error"] == ["invalid_request"] and answer["state"] == [flow.state]
    assert "max_age" in answer["error_description"][0]


def test_empty_max_age_counts_as_absent(flow):
    assert flow.code(max_age="")


def test_signing_in_again_keeps_the_session_and_its_other_sign_ins(flow, person):
    """The same person signing in again keeps the session (its key, its sid, its LoginSession row brought
    up to date): the sign-ins at other clients go on, and the sweep leaves them alone."""
    from tongban.accounts.models import LoginSession
    from tongban.sso.models import SessionParticipation
    from tongban.sso.services import sessions_sweep

    other = register("乙应用", redirect="https://b.example.cn/cb", backchannel_logout_uri="https://b.example.cn/bcl")
    b = Flow(http=flow.http, client=other.client, secret=other.secret, redirect_uri="https://b.example.cn/cb")
    b_tokens = b.token(b.code()).json()
    row = LoginSession.objects.get(user=person)
    _signed_in_at(person, _hours_ago(1))
    page = _to_reauth(flow, prompt="login")
    flow.follow(flow.http.post("/o/authorize/login/", {"txn": page.context["txn"], "password": PASSWORD}))
    again = LoginSession.objects.get(user=person)
    assert again.pk == row.pk and again.key_hash == row.key_hash and again.created_at > row.created_at
    assert set(SessionParticipation.objects.values_list("session_key_hash", flat=True)) == {row.key_hash}
    assert sessions_sweep().sessions == 0
    assert not SessionParticipation.objects.filter(ended_at__isnull=False).exists()
    assert b.refresh(b_tokens["refresh_token"]).status_code == 200
