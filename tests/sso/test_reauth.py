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


# -- signing in again by a code sent to the account's phone --------------------------------------------------

PHONE = "13900000001"  # the person fixture's phone


def _send_code(flow: Flow, page, **extra: str):
    """Press "发送短信验证码" on the sign-in-again page; the page that comes back shows the code field."""
    txn = page.context["txn"]
    response = flow.http.post("/o/authorize/login/", {"txn": txn, "action": "send_code", **extra})
    assert response.status_code == 302 and "/o/authorize/login/" in response["Location"], response
    page = flow.http.get(response["Location"])
    assert page.status_code == 200 and page.context["code_form"] is not None
    return page


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** 6:06d}"


def test_sms_code_signs_in_again_and_auth_time_is_the_new_sign_in(flow, person, sms_sim, caplog):
    import logging

    from tests.accounts.conftest import code_for
    from tongban.accounts.models import LoginSession
    from tongban.sso.logout import SID_KEY

    first = flow.token(flow.code()).json()
    sid = flow.http.session[SID_KEY]
    _signed_in_at(person, _hours_ago(1))
    started = int(time.time())
    page = _to_reauth(flow, prompt="login")
    html = page.content.decode()
    assert "发送短信验证码" in html and "139****0001" in html and PHONE not in html
    assert 'name="viewport"' in html  # the portal's responsive layout
    with caplog.at_level(logging.DEBUG):
        # A number typed into the request is ignored: the code goes to the account's own phone.
        page = _send_code(flow, page, phone="13800000000")
        html = page.content.decode()
        assert "验证码已发送至账号绑定的手机" in html and "139****0001" in html
        assert 'autocomplete="one-time-code"' in html and 'inputmode="numeric"' in html
        code = code_for(sms_sim, PHONE)
        assert sms_sim.messages("13800000000") == []
        response = flow.follow(flow.http.post("/o/authorize/login/",
                                              {"txn": page.context["txn"], "action": "code", "code": code}))
    logged = " ".join(str(r.msg) + str(r.args) for r in caplog.records)
    assert PHONE not in logged and code not in logged
    answer = _answer(response)
    assert answer["state"] == [flow.state] and "code" in answer
    claims = decode(flow.token(answer["code"][0]).json()["id_token"])
    assert claims["auth_time"] >= started and claims["amr"] == ["sms", "otp"]
    assert claims["sid"] == sid  # the same session, signed in again
    assert LoginSession.objects.get(user=person).method == "sms_code"
    assert flow.refresh(first["refresh_token"]).status_code == 200  # its earlier sign-in goes on


def test_wrong_sms_code_is_refused_and_changes_nothing(flow, person, sms_sim):
    from tests.accounts.conftest import code_for
    from tongban.accounts.models import LoginSession
    from tongban.sso.models import SessionParticipation

    flow.code()
    _signed_in_at(person, _hours_ago(1))
    before = LoginSession.objects.get(user=person).created_at
    page = _send_code(flow, _to_reauth(flow, prompt="login"))
    txn = page.context["txn"]
    code = code_for(sms_sim, PHONE)
    wrong = flow.http.post("/o/authorize/login/", {"txn": txn, "action": "code", "code": _wrong(code)})
    assert wrong.status_code == 422
    assert wrong.context["code_form"].errors["code"] == ["验证码不正确，还可尝试 4 次。"]
    assert LoginSession.objects.get(user=person).created_at == before
    assert SessionParticipation.objects.count() == 1
    # Still not fresh: the login stops at the sign-in-again page again.
    again = flow.http.get(f"/o/authorize/continue/?txn={txn}")
    assert again.status_code == 302 and "/o/authorize/login/" in again["Location"]
    # Without a code sent first there is nothing to check.
    other = _to_reauth(flow, prompt="login")
    refused = flow.http.post("/o/authorize/login/", {"txn": other.context["txn"], "action": "code", "code": code})
    assert refused.status_code == 422 and "请先获取短信验证码" in refused.content.decode()
    # The right code still works afterwards.
    response = flow.follow(flow.http.post("/o/authorize/login/", {"txn": txn, "action": "code", "code": code}))
    assert "code" in _answer(response)


def test_wrong_sms_codes_burn_the_code_and_do_not_lock_the_account(flow, person, sms_sim):
    """A code is a challenge of its own (tongban.accounts.citizens.citizen_login_code): five wrong tries burn
    it; they count against the address, not the account, which stays open to its password (issue 11, item 17)."""
    from tests.accounts.conftest import code_for
    from tongban.accounts import lockout

    flow.code()
    page = _send_code(flow, _to_reauth(flow, prompt="login"))
    txn = page.context["txn"]
    code = code_for(sms_sim, PHONE)
    for _ in range(int(lockout.limits().max_failures)):
        response = flow.http.post("/o/authorize/login/", {"txn": txn, "action": "code", "code": _wrong(code)})
        assert response.status_code == 422
    assert "验证码错误次数过多" in response.context["code_form"].errors["code"][0]
    person.refresh_from_db()
    assert not person.is_locked()
    response = flow.follow(flow.http.post("/o/authorize/login/", {"txn": txn, "password": PASSWORD}))
    assert "code" in _answer(response)


def test_sending_again_at_once_gets_the_accounts_rate_limit(flow, person, sms_sim):
    from tongban.accounts.models import OneTimeCode

    flow.code()
    page = _send_code(flow, _to_reauth(flow, prompt="login"))
    response = flow.http.post("/o/authorize/login/", {"txn": page.context["txn"], "action": "send_code"})
    assert response.status_code == 422
    assert "秒后再重新获取" in response.context["sms_error"]  # the accounts app's cooldown message
    assert OneTimeCode.objects.count() == 1


def test_without_a_phone_there_is_no_sms_option(client, rp, sms_sim):
    from tests.sso.conftest import make_person
    from tongban.accounts.models import OneTimeCode

    nophone = make_person("p9", phone=None, seq=9)  # e.g. an account made through the national platform
    client.force_login(nophone, backend="tongban.accounts.backends.TongbanBackend")
    flow = Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb")
    flow.code()
    page = _to_reauth(flow, prompt="login")
    assert "发送短信验证码" not in page.content.decode() and page.context["code_form"] is None
    response = flow.http.post("/o/authorize/login/", {"txn": page.context["txn"], "action": "send_code",
                                                      "phone": "13800000000"})
    assert response.status_code == 422 and "未绑定手机号" in response.context["sms_error"]
    assert not OneTimeCode.objects.exists()


def test_sms_reauth_forms_need_the_csrf_token(rp, person, sms_sim):
    import re

    from django.test import Client as Browser

    from tests.accounts.conftest import code_for

    strict = Browser(enforce_csrf_checks=True)
    strict.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    reg = register("免授权应用", redirect="https://d.example.cn/cb", skip_authorization=True)
    flow = Flow(http=strict, client=reg.client, secret=reg.secret, redirect_uri="https://d.example.cn/cb")
    flow.code()
    page = _to_reauth(flow, prompt="login")
    txn = page.context["txn"]
    assert strict.post("/o/authorize/login/", {"txn": txn, "action": "send_code"}).status_code == 403

    def token(html: str) -> str:
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
        assert match
        return match.group(1)

    response = strict.post("/o/authorize/login/", {"txn": txn, "action": "send_code",
                                                   "csrfmiddlewaretoken": token(page.content.decode())})
    assert response.status_code == 302
    page = strict.get(response["Location"])
    code = code_for(sms_sim, PHONE)
    assert strict.post("/o/authorize/login/", {"txn": txn, "action": "code", "code": code}).status_code == 403
    response = flow.follow(strict.post("/o/authorize/login/", {"txn": txn, "action": "code", "code": code,
                                                               "csrfmiddlewaretoken": token(page.content.decode())}))
    assert "code" in _answer(response)
