"""OpenID Connect conformance, the positive flows: the running platform (a live server) driven by `authlib` as an
outside relying party that knows only the discovery document, its client credentials and the protocol — never
tongban's code or tables. Discovery; the code flow with PKCE; the ID token checked by authlib and joserfc
(signature against the JWKS with the algorithm pinned, iss, aud, exp, iat, nonce, at_hash, acr); userinfo;
refresh-token rotation, and the revocation of the whole family when a rotated token comes back; RP-initiated
logout, and back-channel logout tokens received on loopback and checked against the Back-Channel Logout 1.0
rules. The error cases are in test_oidc_errors.py.

The person at the browser is tests.sso.browser.Browser (requests with a cookie jar, filling tongban's login
and consent forms); the clients are registered as an operator would (tests.sso.conftest.register). The only
other step taken inside the platform is running its job worker once, as its in-process worker would, to
deliver the logout tokens from the outbox.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from authlib.oidc.discovery import OpenIDProviderMetadata
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidClaimError, JoseError
from joserfc.jwk import JWKRegistry, KeySet

from tests.sso.browser import Browser
from tests.sso.conftest import _sso_caches, make_person, register  # noqa: F401  (_sso_caches: a fixture)

pytestmark = pytest.mark.django_db(transaction=True)

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
SCOPE = "openid realname phone"
PHONE = "13900000051"


# -- the outside relying party -------------------------------------------------------------------------------


@pytest.fixture
def meta(live_server: Any) -> dict[str, Any]:
    return requests.get(f"{live_server.url}/.well-known/openid-configuration", timeout=15).json()  # type: ignore[no-any-return]


def _keys(meta: dict[str, Any]) -> KeySet:
    """The provider's published keys that this client understands. RFC 7517 §5 asks clients to ignore keys of a
    type they do not understand; joserfc ignores an unknown `kty`, but fails the whole set on the SM2 key
    (`kty: EC`, `crv: SM2`, for the clients that opted into SM2SM3): so the keys are taken one by one
    (see test_the_whole_jwks_loads_in_joserfc)."""
    usable = []
    for key in requests.get(meta["jwks_uri"], timeout=15).json()["keys"]:
        try:
            JWKRegistry.import_key(key)
        except (KeyError, ValueError, JoseError):
            continue
        usable.append(key)
    return KeySet.import_key_set({"keys": usable})


def id_token_claims(id_token: str, meta: dict[str, Any], *, client_id: str, nonce: str | None,
                    access_token: str | None, alg: str = "ES256") -> CodeIDToken:
    """authlib's ID-token validation (OIDC Core §3.1.3.7) over joserfc's signature check with `alg` pinned."""
    token = jwt.decode(id_token, _keys(meta), algorithms=[alg])
    params = {"client_id": client_id, "nonce": nonce, "access_token": access_token}
    claims = CodeIDToken(token.claims, token.header,
                         options={"iss": {"essential": True, "value": meta["issuer"]},
                                  "aud": {"essential": True, "value": client_id}},
                         params={k: v for k, v in params.items() if v is not None})
    claims.validate(leeway=30)
    return claims


@dataclass
class RelyingParty:
    """A confidential client of tongban driven through authlib's OAuth2Session."""

    meta: dict[str, Any]
    client_id: str
    secret: str
    redirect_uri: str
    scope: str = SCOPE
    session: OAuth2Session = field(init=False)

    def __post_init__(self) -> None:
        self.session = OAuth2Session(self.client_id, self.secret, scope=self.scope, redirect_uri=self.redirect_uri,
                                     code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")

    def sign_in(self, browser: Browser, **extra: str) -> tuple[dict[str, Any], CodeIDToken]:
        """The code flow with PKCE through `browser` (signing in and consenting when asked): the token
        response and the validated ID token."""
        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        url, state = self.session.create_authorization_url(self.meta["authorization_endpoint"],
                                                           code_verifier=verifier, nonce=nonce, **extra)
        query = parse_qs(urlsplit(url).query)
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0] and "code_verifier" not in query
        callback = browser.authorize(url, phone=PHONE)
        assert callback.startswith(self.redirect_uri), callback
        assert parse_qs(urlsplit(callback).query)["state"] == [state]
        token = self.session.fetch_token(self.meta["token_endpoint"], authorization_response=callback,
                                         code_verifier=verifier)
        claims = id_token_claims(token["id_token"], self.meta, client_id=self.client_id, nonce=nonce,
                                 access_token=token["access_token"])
        return token, claims

    def userinfo(self, access_token: str) -> requests.Response:
        return requests.get(self.meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"},
                            timeout=15)

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        return self.session.refresh_token(self.meta["token_endpoint"], refresh_token=refresh_token)  # type: ignore[no-any-return]


def _client(meta: dict[str, Any], name: str, port: int, **kwargs: Any) -> RelyingParty:
    redirect = f"http://127.0.0.1:{port}/cb"
    reg = register(name, redirect=redirect, scopes=SCOPE, **kwargs)
    return RelyingParty(meta, reg.client.client_id, reg.secret, redirect)


# -- a back-channel logout receiver on loopback --------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        self.server.received.append((self.path, self.headers.get("Content-Type", ""), form))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def receiver() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _deliver_outbox() -> None:
    """The platform's job worker, run as its in-process worker would: the logout tokens leave the outbox."""
    from tongban.jobs.worker import Worker

    while Worker(worker_id="conformance").run_once():
        pass


def logout_token_claims(token: str, meta: dict[str, Any], *, client_id: str) -> dict[str, Any]:
    """OpenID Connect Back-Channel Logout 1.0 §2.6, as a relying party validates a logout token."""
    decoded = jwt.decode(token, _keys(meta), algorithms=["ES256"])
    assert decoded.header.get("typ") == "logout+jwt"  # §2.4 (explicit typing, recommended)
    registry = jwt.JWTClaimsRegistry(iss={"essential": True, "value": meta["issuer"]},
                                     aud={"essential": True, "value": client_id},
                                     iat={"essential": True}, jti={"essential": True})
    registry.validate(decoded.claims)
    claims = decoded.claims
    assert claims["events"] == {BACKCHANNEL_EVENT: {}}  # the event member, a JSON object
    assert "nonce" not in claims  # a logout token must not carry one (so it is never taken for an ID token)
    assert claims.get("sid") or claims.get("sub")
    return claims  # type: ignore[no-any-return]


# -- the tests -------------------------------------------------------------------------------------------------


def test_discovery_document_and_keys(meta: dict[str, Any], live_server: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # The test server speaks plain HTTP on loopback; authlib refuses a non-https issuer unless told otherwise.
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    OpenIDProviderMetadata(meta).validate()  # RFC 8414 and OpenID Connect Discovery 1.0 §3, as authlib reads them
    assert meta["issuer"] == live_server.url
    for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                     "end_session_endpoint", "revocation_endpoint"):
        assert meta[endpoint].startswith(meta["issuer"] + "/"), endpoint
    assert "code" in meta["response_types_supported"]
    assert {"authorization_code", "refresh_token"} <= set(meta["grant_types_supported"])
    assert meta["code_challenge_methods_supported"] == ["S256"]  # no "plain"
    assert "ES256" in meta["id_token_signing_alg_values_supported"]
    assert "client_secret_basic" in meta["token_endpoint_auth_methods_supported"]
    assert meta["backchannel_logout_supported"] is True and meta["backchannel_logout_session_supported"] is True
    assert {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "sid"} <= set(meta["claims_supported"])
    assert "urn:tongban:acr:l2" in meta["acr_values_supported"]
    # The JWKS: public keys only, each with a kid; one of them verifies ES256.
    jwks = requests.get(meta["jwks_uri"], timeout=15).json()
    assert jwks["keys"] and all(key.get("kid") for key in jwks["keys"])
    assert not any({"d", "p", "q", "dp", "dq", "qi"} & set(key) for key in jwks["keys"])
    assert any(key.get("kty") == "EC" and key.get("crv") == "P-256" for key in jwks["keys"])


@pytest.mark.xfail(strict=True, raises=KeyError, reason=(
    "the JWKS publishes the SM2SM3 key as kty EC, crv SM2, which joserfc (authlib's JOSE library) cannot import: "
    "KeySet.import_key_set fails on the whole set, so a relying party using it cannot verify tongban's ES256 "
    "ID tokens without filtering the set first (RFC 7517 §5 only covers unknown kty values)"))
def test_the_whole_jwks_loads_in_joserfc(meta: dict[str, Any]) -> None:
    KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=15).json())


def test_code_flow_with_pkce_id_token_and_userinfo(meta: dict[str, Any], live_server: Any) -> None:
    make_person("authlib", phone=PHONE, seq=51)
    rp = _client(meta, "Authlib 测试应用", 9)
    browser = Browser()
    token, claims = rp.sign_in(browser, acr_values="urn:tongban:acr:l2")
    assert token["token_type"].lower() == "bearer" and token["expires_in"] > 0
    assert token["access_token"] and token["refresh_token"]
    # The ID token (validated above by authlib: iss, aud, exp, iat, nonce, azp, at_hash against the access token).
    assert claims.header["alg"] == "ES256" and claims.header.get("kid")
    assert "at_hash" in claims  # present, and checked against the access token by CodeIDToken
    assert claims["acr"] == "urn:tongban:acr:l2" and claims["acr"] in meta["acr_values_supported"]
    assert claims["amr"] == ["pwd"] and isinstance(claims["auth_time"], int) and claims["sid"]
    assert claims["auth_time"] <= claims["iat"] < claims["exp"]
    # The validation has teeth: another nonce, another access token, a changed signature are all refused.
    with pytest.raises(InvalidClaimError):
        id_token_claims(token["id_token"], meta, client_id=rp.client_id, nonce="another", access_token=None)
    with pytest.raises(InvalidClaimError):
        id_token_claims(token["id_token"], meta, client_id=rp.client_id, nonce=None, access_token="another-token")
    with pytest.raises(InvalidClaimError):
        id_token_claims(token["id_token"], meta, client_id="someone-else", nonce=None, access_token=None)
    head, body, signature = token["id_token"].split(".")
    forged = f"{head}.{body}.{signature[:-4]}{'AAAA' if signature[-4:] != 'AAAA' else 'BBBB'}"
    with pytest.raises((BadSignatureError, JoseError, ValueError)):
        id_token_claims(forged, meta, client_id=rp.client_id, nonce=None, access_token=None)
    with pytest.raises(JoseError):  # the algorithm is pinned: an ES256 token is not accepted as RS256
        id_token_claims(token["id_token"], meta, client_id=rp.client_id, nonce=None, access_token=None, alg="RS256")

    # Userinfo (OIDC Core §5.3) with the access token: the same subject, the claims of the scopes consented to.
    answer = rp.userinfo(token["access_token"])
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    info = answer.json()
    assert info["sub"] == claims["sub"] and info["name"] == "张三丰" and info["phone_number"] == f"+86{PHONE}"
    assert "id_number" not in info  # not asked for, not given
    assert rp.userinfo("not-a-token").status_code == 401


def test_refresh_rotates_and_reusing_a_rotated_token_revokes_the_family(meta: dict[str, Any], live_server: Any) -> None:
    make_person("refresh", phone=PHONE, seq=52)
    rp = _client(meta, "刷新测试应用", 9)
    first, claims = rp.sign_in(Browser())
    second = rp.refresh(first["refresh_token"])
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != first["access_token"]
    # A refreshed ID token (OIDC Core §12.2): same iss, sub, aud; no nonce; a valid at_hash for the new token.
    refreshed = id_token_claims(second["id_token"], meta, client_id=rp.client_id, nonce=None,
                                access_token=second["access_token"])
    assert refreshed["sub"] == claims["sub"] and "nonce" not in refreshed
    assert rp.userinfo(second["access_token"]).status_code == 200
    third = rp.refresh(second["refresh_token"])
    assert rp.userinfo(third["access_token"]).json()["sub"] == claims["sub"]

    # The rotated token comes back (stolen, say): refused, and the whole family with it (RFC 9700 §4.14.2).
    with pytest.raises(OAuthError) as reused:
        rp.refresh(first["refresh_token"])
    assert reused.value.error == "invalid_grant"
    with pytest.raises(OAuthError) as newest:
        rp.refresh(third["refresh_token"])
    assert newest.value.error == "invalid_grant"
    assert rp.userinfo(third["access_token"]).status_code == 401  # the family's live access token ends too


def test_rp_initiated_logout_and_back_channel_logout(meta: dict[str, Any], live_server: Any,
                                                     receiver: ThreadingHTTPServer) -> None:
    make_person("logout", phone=PHONE, seq=53)
    hook = f"http://127.0.0.1:{receiver.server_address[1]}"
    first = _client(meta, "甲应用", 9, post_logout_redirect_uris=["http://127.0.0.1:9/bye"],
                    backchannel_logout_uri=f"{hook}/a")
    second = _client(meta, "乙应用", 10, backchannel_logout_uri=f"{hook}/b")
    browser = Browser()
    token_a, claims_a = first.sign_in(browser)
    token_b, claims_b = second.sign_in(browser)  # single sign-on: the same browser session
    assert claims_a["sid"] == claims_b["sid"]

    # RP-initiated logout (RP-Initiated Logout 1.0 §2, §3): with the ID token as hint, logged out at once and
    # sent back to the registered post-logout URI with the state.
    bye = browser.http.get(meta["end_session_endpoint"], params={
        "id_token_hint": token_a["id_token"], "post_logout_redirect_uri": "http://127.0.0.1:9/bye",
        "state": "s1"}, allow_redirects=False, timeout=15)
    assert bye.status_code in (302, 303) and bye.headers["Location"] == "http://127.0.0.1:9/bye?state=s1"

    # Back-channel logout: each relying party of the session gets a logout token at its URI.
    _deliver_outbox()
    received = {path: (content_type, form) for path, content_type, form in receiver.received}  # type: ignore[attr-defined]
    assert set(received) == {"/a", "/b"}
    for path, rp, claims in (("/a", first, claims_a), ("/b", second, claims_b)):
        content_type, form = received[path]
        assert content_type.startswith("application/x-www-form-urlencoded") and set(form) == {"logout_token"}
        logout = logout_token_claims(form["logout_token"], meta, client_id=rp.client_id)
        assert logout["sid"] == claims["sid"] and logout["sub"] == claims["sub"]
    assert len(receiver.received) == 2  # type: ignore[attr-defined]  (one token per relying party, once)

    # The session and its tokens are over: both access tokens refused, both refresh tokens too.
    assert first.userinfo(token_a["access_token"]).status_code == 401
    assert second.userinfo(token_b["access_token"]).status_code == 401
    for rp, token in ((first, token_a), (second, token_b)):
        with pytest.raises(OAuthError) as refused:
            rp.refresh(token["refresh_token"])
        assert refused.value.error == "invalid_grant"
    # …and the browser is no longer signed in: a silent authorization request answers login_required.
    url, state = first.session.create_authorization_url(meta["authorization_endpoint"],
                                                        code_verifier=secrets.token_urlsafe(48), prompt="none")
    answer = parse_qs(urlsplit(browser.authorize(url, phone=PHONE)).query)
    assert answer["error"] == ["login_required"] and answer["state"] == [state]
