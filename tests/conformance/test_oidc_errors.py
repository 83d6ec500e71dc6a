"""The provider's refusals as an outside relying party sees them: authlib (a third-party OAuth 2.0 / OpenID
Connect client library) against the running platform (Django's live server), configured only from the
discovery document. Every error of issue 11's protocol items: grant types not offered, request objects and
registration, response types and modes, the RFC 9207 `iss`, redirect_uri mismatch and spent codes, userinfo's
RFC 6750 challenges, oversized bodies and deeply nested JSON."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2 import rfc9207
from authlib.oidc.discovery import OpenIDProviderMetadata

from tests.sso.browser import Browser
from tests.sso.conftest import make_person, register

pytestmark = pytest.mark.django_db(transaction=True)

REDIRECT = "http://127.0.0.1:9/conformance/cb"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(autouse=True)
def _provider_caches():
    """The provider's per-process caches (secrets key, oauthlib server, federation discovery) start empty:
    each test's database is new."""
    from tongban.sso.core import oauthlib_core
    from tongban.sso.federation import _discovery_cache
    from tongban.sso.secrets import clear_cache
    from tongban.sso.validators import clear_client_cache

    for clear in (clear_cache, oauthlib_core.cache_clear, _discovery_cache.clear, clear_client_cache):
        clear()
    yield
    for clear in (clear_cache, _discovery_cache.clear, clear_client_cache):
        clear()


def _metadata(base: str) -> OpenIDProviderMetadata:
    meta = OpenIDProviderMetadata(requests.get(f"{base}/.well-known/openid-configuration", timeout=15).json())
    meta.validate(metadata_classes=[rfc9207.AuthorizationServerMetadata])
    return meta


def _rp(reg: Any, **kwargs: Any) -> OAuth2Session:
    return OAuth2Session(reg.client.client_id, reg.secret, redirect_uri=REDIRECT, code_challenge_method="S256",
                         token_endpoint_auth_method="client_secret_basic", **kwargs)


def _callback(meta: OpenIDProviderMetadata, rp: OAuth2Session, browser: Browser | None = None,
              phone: str = "", **params: str) -> tuple[str, dict[str, str], str]:
    """An authorization request built by authlib (PKCE S256, state, nonce, extra parameters); the URL the
    provider sends the browser back to, its parameters (from the query: the only response mode), and the
    verifier."""
    verifier = secrets.token_urlsafe(48)
    url, state = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier,
                                             nonce=secrets.token_urlsafe(12), **params)
    if browser is None:
        answer = requests.get(url, allow_redirects=False, timeout=15)
        assert answer.status_code == 302, (answer.status_code, answer.text[:300])
        callback = answer.headers["Location"]
    else:
        callback = browser.authorize(url, phone=phone)
    split = urlsplit(callback)
    assert callback.startswith(REDIRECT) and not split.fragment, callback
    found = {key: values[-1] for key, values in parse_qs(split.query).items()}
    assert found.get("state") == state, found
    # RFC 9207 §2.4: the client checks the iss of every authorization response against the issuer it talks to
    assert found.get("iss") == meta["issuer"], found
    return callback, found, verifier


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_discovery_read_by_authlib_says_what_is_not_offered(live_server):
    meta = _metadata(live_server.url)
    assert meta.request_parameter_supported is False
    assert meta.request_uri_parameter_supported is False  # authlib's default, when omitted, is true
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta.response_types_supported == ["code"] and meta.response_modes_supported == ["query"]
    assert set(meta.grant_types_supported) == {"authorization_code", "refresh_token", "client_credentials"}


def test_the_token_endpoint_refuses_what_is_not_offered(live_server):
    make_person("probe", phone="13900000061", seq=61)
    meta = _metadata(live_server.url)
    reg = register("一致性测试应用", redirect=REDIRECT, client_credentials=True, scopes="openid api")
    rp = _rp(reg)
    # grant types not offered: the same unsupported_grant_type whatever the password, before it is read
    answers = []
    for password in ("Citizen-2026-pw", "wrong"):
        with pytest.raises(OAuthError) as caught:
            rp.fetch_token(meta["token_endpoint"], grant_type="password", username="13900000061",
                           password=password)
        answers.append((caught.value.error, caught.value.description))
    assert answers[0] == answers[1] and answers[0][0] == "unsupported_grant_type"
    for grant_type in ("urn:ietf:params:oauth:grant-type:device_code", "implicit",
                       "urn:ietf:params:oauth:grant-type:jwt-bearer"):
        with pytest.raises(OAuthError) as caught:
            rp.fetch_token(meta["token_endpoint"], grant_type=grant_type, device_code="x" * 20, assertion="x")
        assert caught.value.error == "unsupported_grant_type", grant_type
    assert rp.fetch_token(meta["token_endpoint"], grant_type="client_credentials")["token_type"] == "Bearer"

    # a client assertion whose JSON is nested deeper than any parser goes: invalid_client, not a 500
    nested = _b64(b"[" * 20000 + b"]" * 20000)

    def nested_assertion(auth: Any, method: str, uri: str, headers: dict[str, str], body: str):
        extra = f"client_id={auth.client_id}&client_assertion_type={ASSERTION_TYPE}&client_assertion={nested}.{nested}.c2ln"
        return uri, headers, f"{body}&{extra}" if body else extra

    prober = OAuth2Session(reg.client.client_id, token_endpoint_auth_method="nested_jwt")
    prober.register_client_auth_method(("nested_jwt", nested_assertion))
    for grant_type in ("client_credentials", "refresh_token", "authorization_code"):
        with pytest.raises(OAuthError) as caught:
            prober.fetch_token(meta["token_endpoint"], grant_type=grant_type, refresh_token="x", code="x")
        assert caught.value.error == "invalid_client", grant_type

    # bodies over 2 MiB: 413 in the platform's JSON error envelope
    big = "x" * (2 * 1024 * 1024 + 1)
    for endpoint in (meta["token_endpoint"], meta["revocation_endpoint"], meta["userinfo_endpoint"]):
        answer = rp.post(endpoint, data={"grant_type": "client_credentials", "token": big}, timeout=30)
        assert answer.status_code == 413, (endpoint, answer.status_code)
        assert answer.json()["error"]["code"] == "payload_too_large"


def test_the_authorization_endpoint_refuses_what_is_not_offered(live_server):
    meta = _metadata(live_server.url)
    reg = register("一致性测试应用", redirect=REDIRECT, scopes="openid realname")
    rp = _rp(reg, scope="openid")
    for extra, error in (({"request": "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9."}, "request_not_supported"),
                         ({"request_uri": "https://rp.example.cn/req.jwt"}, "request_uri_not_supported"),
                         ({"registration": json.dumps({"client_name": "x"})}, "registration_not_supported"),
                         ({"response_type": "token"}, "unsupported_response_type"),
                         ({"response_type": "id_token"}, "unsupported_response_type"),
                         ({"response_type": "code id_token"}, "unsupported_response_type"),
                         ({"response_mode": "form_post"}, "invalid_request"),
                         ({"response_mode": "fragment"}, "invalid_request")):
        _, found, _ = _callback(meta, rp, **extra)
        assert found.get("error") == error and "code" not in found, (extra, found)


def test_codes_are_spent_by_a_failed_exchange_and_userinfo_challenges(live_server):
    make_person("rp-person", phone="13900000062", seq=62)
    meta = _metadata(live_server.url)
    reg = register("一致性测试应用", redirect=REDIRECT, scopes="openid realname",
                   post_logout_redirect_uris=["http://127.0.0.1:9/conformance/bye"])
    browser = Browser()
    rp = _rp(reg, scope="openid realname")

    # a successful authorization response carries iss too (checked in _callback); a wrong verifier spends the code
    callback, found, verifier = _callback(meta, rp, browser, phone="13900000062")
    assert found.get("code")
    with pytest.raises(OAuthError) as caught:
        rp.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier="x" * 50)
    assert caught.value.error == "invalid_grant"
    with pytest.raises(OAuthError) as caught:
        rp.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    assert caught.value.error == "invalid_grant"

    # a redirect_uri other than the authorization request's: invalid_grant (RFC 6749 §5.2), and the code is spent
    callback, found, verifier = _callback(meta, rp, browser, phone="13900000062")
    elsewhere = OAuth2Session(reg.client.client_id, reg.secret, redirect_uri=REDIRECT + "/other",
                              token_endpoint_auth_method="client_secret_basic")
    with pytest.raises(OAuthError) as caught:
        elsewhere.fetch_token(meta["token_endpoint"], code=found["code"], code_verifier=verifier)
    assert caught.value.error == "invalid_grant"
    with pytest.raises(OAuthError) as caught:
        rp.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    assert caught.value.error == "invalid_grant"

    # userinfo: no token → a bare challenge; a bad token → invalid_token; a token without openid → 403
    bare = requests.get(meta["userinfo_endpoint"], timeout=15)
    assert bare.status_code == 401 and bare.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error" not in bare.headers["WWW-Authenticate"]
    bad = OAuth2Session(token={"access_token": "nope", "token_type": "Bearer"}).get(meta["userinfo_endpoint"])
    assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["WWW-Authenticate"]
    no_openid = _rp(reg, scope="realname")
    callback, found, verifier = _callback(meta, no_openid, browser, phone="13900000062")
    token = no_openid.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
    assert "id_token" not in token and "openid" not in token["scope"].split()
    denied = no_openid.get(meta["userinfo_endpoint"])
    assert denied.status_code == 403 and denied.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in denied.headers["WWW-Authenticate"]

    # an id_token_hint nested deeper than any JSON parser goes: a clean refusal, and no logout on its say-so
    hint = f"{_b64(b'[' * 12000 + b']' * 12000)}.{_b64(b'{}')}.c2ln"
    refused = browser.http.get(meta["end_session_endpoint"], params={
        "id_token_hint": hint, "post_logout_redirect_uri": "http://127.0.0.1:9/conformance/bye"},
        allow_redirects=False, timeout=15)
    assert refused.status_code == 400 and "invalid_request" in refused.text
    assert "/login/" not in browser.get(f"{live_server.url}/me/").url  # still signed in
