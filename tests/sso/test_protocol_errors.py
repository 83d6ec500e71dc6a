"""The provider's answers to what it does not offer or must refuse, as the standards name them (issue 11):
grant types not offered refused before any credential is looked at; `request`, `request_uri`,
`registration`, other response types and response modes refused at the redirect URI; a redirect_uri
mismatch at the token endpoint is `invalid_grant` and a failed exchange spends the code; userinfo's RFC 6750
errors; RFC 9207 `iss` on every authorization response; oversized and deeply nested input answered cleanly."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.sso.conftest import PASSWORD, basic, register

pytestmark = pytest.mark.django_db

ISS = "http://testserver"


def _answer(response) -> dict[str, list[str]]:
    """The parameters of an authorization response (302 to the client), which must come in the query."""
    assert response.status_code == 302, (response.status_code, response.content[:300])
    location = urlsplit(response["Location"])
    assert not location.fragment, response["Location"]
    return parse_qs(location.query)


def _token(client, data, **extra):
    return client.post("/o/token/", data, **extra)


# -- 1, 2: grant types not offered ------------------------------------------------------------------------


@pytest.mark.parametrize("grant_type", [
    "password", "urn:ietf:params:oauth:grant-type:device_code", "implicit", "openid", "client-credentials",
    "urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:token-exchange",
])
def test_grant_types_not_offered_are_refused_before_any_credential(client, flow, person, grant_type):
    auth = {"HTTP_AUTHORIZATION": basic(flow.client.client_id, flow.secret)}
    body = {"grant_type": grant_type, "username": person.username, "device_code": "x" * 20}
    right = _token(client, {**body, "password": PASSWORD}, **auth)
    wrong = _token(client, {**body, "password": "not-the-password"}, **auth)
    anonymous = _token(client, {**body, "password": PASSWORD})
    for answer in (right, wrong, anonymous):
        assert answer.status_code == 400, answer.content
        assert answer.json()["error"] == "unsupported_grant_type"
    assert right.content == wrong.content == anonymous.content  # no oracle: the same answer whatever was sent


def test_password_grant_cannot_sign_in_a_staff_member(client, admin_user):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.get(pk=admin_user.pk)
    staff.set_password(PASSWORD)
    staff.save()
    reg = register("口令模式探测", client_credentials=True)
    auth = {"HTTP_AUTHORIZATION": basic(reg.client.client_id, reg.secret)}
    answers = [_token(client, {"grant_type": "password", "username": staff.get_username(), "password": pw}, **auth)
               for pw in (PASSWORD, "wrong")]
    assert [a.json() for a in answers] == [answers[0].json()] * 2
    assert answers[0].json()["error"] == "unsupported_grant_type"


def test_missing_grant_type_is_invalid_request(client, db):
    answer = _token(client, {"code": "x"})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


# -- 4, 5, 8: the authorization endpoint --------------------------------------------------------------------


@pytest.mark.parametrize(("param", "error"), [
    ("request", "request_not_supported"),
    ("request_uri", "request_uri_not_supported"),
    ("registration", "registration_not_supported"),
])
def test_request_objects_and_registration_are_refused(flow, param, error):
    value = {"request": "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.",
             "request_uri": "https://rp.example.cn/request.jwt",
             "registration": json.dumps({"client_name": "x"})}[param]
    answer = _answer(flow.http.get(flow.authorize_url(**{param: value})))
    assert answer["error"] == [error] and answer["state"] == [flow.state] and answer["iss"] == [ISS]
    assert "code" not in answer


@pytest.mark.parametrize("response_type", ["token", "id_token", "id_token token", "code id_token",
                                           "code token", "none", "code%20id_token"])
def test_response_types_not_offered_are_unsupported(flow, response_type):
    answer = _answer(flow.http.get(flow.authorize_url(response_type=response_type)))
    assert answer["error"] == ["unsupported_response_type"] and answer["iss"] == [ISS]
    assert answer["state"] == [flow.state] and "code" not in answer


@pytest.mark.parametrize("mode", ["form_post", "fragment", "query.jwt", "web_message"])
def test_response_modes_not_offered_are_refused_in_the_query(flow, mode):
    answer = _answer(flow.http.get(flow.authorize_url(response_mode=mode)))
    assert answer["error"] == ["invalid_request"] and "response_mode" in answer["error_description"][0]
    assert answer["state"] == [flow.state] and answer["iss"] == [ISS] and "code" not in answer


def test_response_mode_query_is_accepted(flow):
    assert flow.code(response_mode="query")


def test_every_authorization_response_carries_iss(flow):
    answer = flow.run()  # success
    assert answer["iss"] == [ISS] and answer["code"]
    assert flow.token(answer["code"][0]).status_code == 200  # the extra parameter changes nothing else
    # errors from oauthlib's validation, from the view's own checks, and from the login continuation
    assert _answer(flow.http.get(flow.authorize_url(scope="openid nonexistent")))["iss"] == [ISS]
    assert _answer(flow.http.get(flow.authorize_url(max_age="x")))["iss"] == [ISS]
    declined = flow.run(consent=False, prompt="none", scope="openid phone")
    assert declined["error"] == ["consent_required"] and declined["iss"] == [ISS]


def test_discovery_says_what_is_not_supported(client, db):
    meta = client.get("/.well-known/openid-configuration").json()
    assert meta["request_parameter_supported"] is False
    assert meta["request_uri_parameter_supported"] is False
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["grant_types_supported"] == ["authorization_code", "refresh_token", "client_credentials"]
    assert meta["response_types_supported"] == ["code"] and meta["response_modes_supported"] == ["query"]


# -- 6: the code at the token endpoint ----------------------------------------------------------------------


def test_redirect_uri_mismatch_is_invalid_grant_and_spends_the_code(flow):
    from tongban.audit.models import AuditEntry

    code = flow.code()
    wrong = flow.token(code, redirect_uri="https://rp.example.cn/other")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    entry = AuditEntry.objects.filter(action="sso.code.exchange", outcome="denied").get()
    assert entry.details["error"] == "invalid_grant" and entry.details["code_spent"] is True
    again = flow.token(code)  # the right redirect_uri and verifier: too late, the code is spent
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_a_wrong_pkce_verifier_spends_the_code(flow):
    from tongban.sso.models import SessionParticipation

    code = flow.code()
    assert flow.token(code, verifier="x" * 50).json()["error"] == "invalid_grant"
    again = flow.token(code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    part = SessionParticipation.objects.get()
    assert part.code_used_at is not None and part.ended_at is not None and part.access_token_id is None


def test_a_missing_pkce_verifier_spends_the_code(flow):
    code = flow.code()
    missing = flow.http.post("/o/token/", {"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": flow.redirect_uri},
                             HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.secret))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert flow.token(code).json()["error"] == "invalid_grant"


def test_a_failed_client_authentication_leaves_the_code_to_its_client(flow):
    code = flow.code()
    stranger = flow.http.post("/o/token/", {"grant_type": "authorization_code", "code": code,
                                            "redirect_uri": flow.redirect_uri, "code_verifier": flow.verifier},
                              HTTP_AUTHORIZATION=basic(flow.client.client_id, "wrong-secret"))
    assert stranger.status_code == 401
    assert flow.token(code).status_code == 200


# -- 7: userinfo's errors (RFC 6750 §3) ---------------------------------------------------------------------


def test_userinfo_without_a_token_is_a_bare_challenge(client, db):
    answer = client.get("/o/userinfo/")
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"].startswith("Bearer") and "error" not in answer["WWW-Authenticate"]


def test_userinfo_with_a_bad_token_is_invalid_token(client, db):
    answer = client.get("/o/userinfo/", HTTP_AUTHORIZATION="Bearer not-a-token")
    assert answer.status_code == 401 and 'error="invalid_token"' in answer["WWW-Authenticate"]
    assert answer.json()["error"] == "invalid_token"


def test_userinfo_with_a_token_lacking_openid_is_insufficient_scope(flow):
    flow.scope = "realname"
    tokens = flow.token(flow.code()).json()
    assert "openid" not in tokens["scope"].split() and "id_token" not in tokens
    answer = flow.http.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert answer.status_code == 403 and answer.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in answer["WWW-Authenticate"]


def test_userinfo_with_a_client_credentials_token_is_insufficient_scope(client, db):
    reg = register("系统间调用", client_credentials=True, scopes="api")
    token = _token(client, {"grant_type": "client_credentials"},
                   HTTP_AUTHORIZATION=basic(reg.client.client_id, reg.secret)).json()["access_token"]
    answer = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 403 and answer.json()["error"] == "insufficient_scope"


# -- 15: oversized and deeply nested input ------------------------------------------------------------------


OVER = 2 * 1024 * 1024 + 1


@pytest.mark.parametrize("path", ["/o/token/", "/o/revoke/", "/o/userinfo/"])
def test_bodies_over_2_mib_answer_413_in_the_envelope(client, db, path):
    client.raise_request_exception = False
    for answer in (client.post(path, {"grant_type": "client_credentials", "token": "x" * OVER}),
                   client.post(path, data="{" + " " * OVER + "}", content_type="application/json")):
        assert answer.status_code == 413, (path, answer.status_code)
        assert answer.json()["error"]["code"] == "payload_too_large"


def test_too_many_fields_is_invalid_request(client, db, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    client.raise_request_exception = False
    answer = client.post("/o/token/", {f"f{i}": "x" for i in range(20)})
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_request"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


NESTED = b"[" * 20000 + b"]" * 20000


def test_a_deeply_nested_client_assertion_is_invalid_client(client, db):
    from jwcrypto import jwk

    key = jwk.JWK.generate(kty="EC", crv="P-256", kid="rp-1")
    reg = register("私钥认证", client_credentials=True, scopes="api", auth_method="private_key_jwt",
                   jwks={"keys": [json.loads(key.export_public())]})
    body = {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    client.raise_request_exception = False
    payload = _b64(json.dumps({"iss": reg.client.client_id, "sub": reg.client.client_id}).encode())
    for grant_type in ("client_credentials", "refresh_token", "authorization_code"):
        for assertion in (f"{_b64(NESTED)}.{_b64(NESTED)}.sig",  # the claims nested
                          f"{_b64(NESTED)}.{payload}.sig"):  # the header nested, the client known
            answer = _token(client, {**body, "grant_type": grant_type, "client_assertion": assertion,
                                     "refresh_token": "x", "code": "x"})
            assert answer.status_code == 401, (grant_type, answer.status_code, answer.content[:200])
            assert answer.json()["error"] == "invalid_client"


def test_a_deeply_nested_id_token_hint_is_refused_cleanly(client, person):
    client.raise_request_exception = False
    client.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    hint = f"{_b64(NESTED)}.{_b64(NESTED)}.c2ln"
    answer = client.get("/o/logout/", {"id_token_hint": hint})
    assert answer.status_code == 400 and "invalid_request" in answer.content.decode()
    assert client.get("/me/authorizations/").status_code == 200  # not logged out on a hint that is not ours
