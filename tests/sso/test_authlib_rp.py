"""Authlib's OAuth 2.0 / OpenID Connect client against tongban, built only from the discovery document:
PKCE, token, ID-token validation (signature from the JWKS, iss, aud, nonce, exp), userinfo, refresh with
rotation, RP-initiated logout — and the other relying party of the session is told by back-channel."""

from __future__ import annotations

import warnings

import pytest
from authlib.integrations.requests_client import OAuth2Session

from sim.national_platform import NationalPlatformSimulator
from tests.sso.browser import Browser
from tests.sso.conftest import make_person, register

pytestmark = pytest.mark.django_db(transaction=True)


def _decode_id_token(id_token: str, jwks: dict, *, issuer: str, client_id: str, nonce: str | None) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # authlib.jose is deprecated in favour of joserfc; still the RP API
        from authlib.jose import JsonWebKey, jwt
        from authlib.oidc.core import CodeIDToken

        claims = jwt.decode(id_token, JsonWebKey.import_key_set(jwks), claims_cls=CodeIDToken,
                            claims_options={"iss": {"essential": True, "value": issuer},
                                            "aud": {"essential": True, "value": client_id}},
                            claims_params={"nonce": nonce, "client_id": client_id} if nonce else {"client_id": client_id})
    claims.validate()
    return dict(claims)


def test_authlib_relying_party(live_server):
    person = make_person("authlib", phone="13900000051", seq=51)
    national = NationalPlatformSimulator.start()
    try:
        redirect = "http://127.0.0.1:9/authlib/cb"
        reg = register("Authlib 测试应用", redirect=redirect, scopes="openid realname phone",
                       post_logout_redirect_uris=["http://127.0.0.1:9/authlib/bye"])
        other = register("国家政务服务平台", redirect=national.rp_redirect_uri,
                         backchannel_logout_uri=national.rp_backchannel_uri)
        national.configure_rp(issuer=live_server.url, client_id=other.client.client_id, client_secret=other.secret)

        browser = Browser()
        assert "已通过一网通办登录" in browser.sign_in_through(f"{national.url}/rp/login", phone="13900000051").text

        meta = browser.get(f"{live_server.url}/.well-known/openid-configuration").json()
        rp = OAuth2Session(reg.client.client_id, reg.secret, scope="openid realname phone", redirect_uri=redirect,
                           code_challenge_method="S256", token_endpoint_auth_method="client_secret_basic")
        import secrets

        verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(12)
        url, state = rp.create_authorization_url(meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
        # the person is already signed in (single sign-on): only the consent screen
        callback = browser.authorize(url, phone="13900000051")
        assert callback.startswith(redirect), callback
        token = rp.fetch_token(meta["token_endpoint"], authorization_response=callback, code_verifier=verifier)
        jwks = browser.get(meta["jwks_uri"]).json()
        claims = _decode_id_token(token["id_token"], jwks, issuer=meta["issuer"], client_id=reg.client.client_id,
                                  nonce=nonce)
        assert claims["acr"] == "urn:tongban:acr:l2" and claims["amr"] == ["pwd"]
        info = rp.get(meta["userinfo_endpoint"]).json()
        assert info["sub"] == claims["sub"] and info["name"] == "张三丰" and info["phone_number"] == "+8613900000051"
        refreshed = rp.refresh_token(meta["token_endpoint"], refresh_token=token["refresh_token"])
        assert refreshed["refresh_token"] != token["refresh_token"]
        # a refreshed ID token carries no nonce (OIDC Core §12.2): the same subject, a fresh iat
        assert _decode_id_token(refreshed["id_token"], jwks, issuer=meta["issuer"], client_id=reg.client.client_id,
                                nonce=None)["sub"] == claims["sub"]

        # RP-initiated logout with the ID token as hint: logs out at once, then back to the client
        bye = browser.http.get(meta["end_session_endpoint"], params={
            "id_token_hint": token["id_token"], "post_logout_redirect_uri": "http://127.0.0.1:9/authlib/bye",
            "state": "s1"}, allow_redirects=False, timeout=15)
        assert bye.status_code == 302 and bye.headers["Location"] == "http://127.0.0.1:9/authlib/bye?state=s1"
        from tongban.jobs.worker import Worker

        Worker(worker_id="tests").run_once()
        assert browser.get(f"{national.url}/rp/me").status_code == 401  # single logout across the network
        assert rp.get(meta["userinfo_endpoint"]).status_code == 401  # and our tokens are revoked
        assert person.pk
    finally:
        national.stop()

