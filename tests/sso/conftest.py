"""Fixtures for the OpenID Connect provider: citizens with verified identities, registered clients, and
a PKCE-speaking test relying party driving Django's test client."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from stdnum.cn import ric

from tests.accounts.conftest import sms_sim  # noqa: F401  (the SMS gateway simulator fixture, shared)

PASSWORD = "Citizen-2026-pw"
BASE = "http://testserver"


def resident_id(seq: int = 1, birth: str = "19900307") -> str:
    body = f"330106{birth}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def make_person(username: str = "p1", *, phone: str = "13900000001", level: int = 2, seq: int = 1,
                name: str = "张三丰") -> Any:
    from django.utils import timezone

    from tongban.accounts.models import CitizenProfile, User, UserKind

    user = User.objects.create_user(username, PASSWORD, kind=UserKind.CITIZEN)
    number = resident_id(seq)
    profile = CitizenProfile(user=user, phone=phone)
    if level:
        profile.id_type = "resident_id"
        profile.id_number = number
        profile.person_key = number
        profile.name = name
        profile.level = level
        profile.verified_at = timezone.now()
    profile.save()
    user.id_number = number  # type: ignore[attr-defined]  (for assertions)
    return user


@pytest.fixture(autouse=True)
def _sso_caches():
    from tongban.sso.core import oauthlib_core
    from tongban.sso.federation import _discovery_cache
    from tongban.sso.secrets import clear_cache

    clear_cache()
    oauthlib_core.cache_clear()
    _discovery_cache.clear()
    yield
    clear_cache()
    _discovery_cache.clear()


@pytest.fixture
def person(db):
    return make_person()


def register(name: str = "测试应用", *, redirect: str = "https://rp.example.cn/cb", **kwargs: Any) -> Any:
    from tongban.sso.services import client_create

    kwargs.setdefault("scopes", "openid realname idcard_masked idcard phone")
    kwargs.setdefault("organisation", "某省政务服务管理局")
    return client_create(name=name, redirect_uris=[redirect], **kwargs)


@pytest.fixture
def rp(db):
    return register(post_logout_redirect_uris=["https://rp.example.cn/bye"],
                    backchannel_logout_uri="http://127.0.0.1:9/logout")


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    return verifier, challenge


def refresh_twice_at_once(client_id: str, secret: str, token: str) -> list[Any]:
    """POST the same refresh token from two threads released together, each on its own database
    connection (PostgreSQL, transactional tests); the two answers."""
    import threading

    from django.db import connections
    from django.test import Client as HttpClient

    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def use(i: int) -> None:
        try:
            http = HttpClient()
            barrier.wait()
            results[i] = http.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": token},
                                   HTTP_AUTHORIZATION=basic(client_id, secret))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=use, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@dataclass
class Flow:
    """One code flow through Django's test client (the browser) with a relying party's parameters."""

    http: Any
    client: Any
    secret: str
    redirect_uri: str
    scope: str = "openid realname idcard_masked"
    verifier: str = ""
    state: str = field(default_factory=lambda: secrets.token_urlsafe(8))
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(8))

    def authorize_url(self, **extra: str) -> str:
        self.verifier, challenge = pkce()
        params = {"response_type": "code", "client_id": self.client.client_id, "redirect_uri": self.redirect_uri,
                  "scope": self.scope, "state": self.state, "nonce": self.nonce, "code_challenge": challenge,
                  "code_challenge_method": "S256", **extra}
        return "/o/authorize/?" + urlencode(params)

    def follow(self, response: Any, limit: int = 10) -> Any:
        """Follow redirects inside tongban; stop at the relying party's redirect URI."""
        for _ in range(limit):
            if response.status_code not in (301, 302):
                return response
            location = response["Location"]
            if location.startswith(self.redirect_uri) or not (location.startswith("/") or location.startswith(BASE)):
                return response
            response = self.http.get(location)
        return response

    def run(self, *, consent: bool = True, **extra: str) -> dict[str, list[str]]:
        response = self.follow(self.http.get(self.authorize_url(**extra)))
        if response.status_code == 200 and b'name="decision"' in response.content and consent:
            txn = response.context["txn"]
            response = self.follow(self.http.post("/o/authorize/continue/", {"txn": txn, "decision": "allow"}))
        assert response.status_code == 302, (response.status_code, response.content[:400])
        location = response["Location"]
        assert location.startswith(self.redirect_uri), location
        return parse_qs(urlsplit(location).query)

    def code(self, **extra: str) -> str:
        answer = self.run(**extra)
        assert answer["state"] == [self.state], answer
        assert "code" in answer, answer
        return answer["code"][0]

    def token(self, code: str, *, verifier: str | None = None, redirect_uri: str | None = None) -> Any:
        return self.http.post("/o/token/", {"grant_type": "authorization_code", "code": code,
                                            "redirect_uri": redirect_uri or self.redirect_uri,
                                            "code_verifier": verifier if verifier is not None else self.verifier},
                              HTTP_AUTHORIZATION=basic(self.client.client_id, self.secret))

    def refresh(self, refresh_token: str) -> Any:
        return self.http.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": refresh_token},
                              HTTP_AUTHORIZATION=basic(self.client.client_id, self.secret))


@pytest.fixture
def flow(client, rp, person):
    client.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    return Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb")


def decode(token: str) -> dict[str, Any]:
    """The claims of a JWS, checked against tongban's published keys with the client's algorithm."""
    import json

    from jwcrypto import jwk

    from tongban.crypto.jose import jws_header, jws_verify
    from tongban.sso import signing

    alg = jws_header(token)["alg"]
    return json.loads(jws_verify(token, jwk.JWKSet.from_json(json.dumps(signing.jwks())), [alg]))


@pytest.fixture
def signed_in(client, person):
    """The person signed in to two clients, each with a back-channel logout URI: [(flow, token answer)]."""
    client.login(username=person.username, password=PASSWORD)
    flows = []
    for name, host in (("甲应用", "a.example.cn"), ("乙应用", "b.example.cn")):
        reg = register(name, redirect=f"https://{host}/cb", backchannel_logout_uri=f"https://{host}/bcl")
        flow = Flow(http=client, client=reg.client, secret=reg.secret, redirect_uri=f"https://{host}/cb")
        flows.append((flow, flow.token(flow.code()).json()))
    return flows
