"""Fixtures for the partner API: a generated registry, an app whose key pair is made with gmalg, and a
request signer written from docs/partner-api.md alone (gmalg, not tongban's code)."""

from __future__ import annotations

import base64
import dataclasses
import json
import secrets
import time
from dataclasses import dataclass

import gmalg
import pytest

from tests.verification.conftest import (  # noqa: F401 - fixtures re-used here
    _fixed_today_and_fresh_breakers,
    registry,
)

UID = b"1234567812345678"


def sm3_hex(data: bytes) -> str:
    h = gmalg.SM3()
    h.update(data)
    return h.value().hex()


def canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The canonical request exactly as the documentation states it."""
    return "\n".join(["TONGBAN-SM2-SM3", method, path, timestamp, nonce, sm3_hex(body)]).encode()


def gm_sign(private: bytes, public: bytes, message: bytes) -> str:
    r, s = gmalg.SM2(sk=private, uid=UID, pk=public).sign(message)
    return base64.b64encode(r.rjust(32, b"\0") + s.rjust(32, b"\0")).decode()


def gm_verify(public: bytes, message: bytes, signature_b64: str) -> bool:
    raw = base64.b64decode(signature_b64)
    return gmalg.SM2(uid=UID, pk=public).verify(message, raw[:32], raw[32:])


@dataclass
class Partner:
    app_id: str
    private: bytes
    public: bytes
    app: object

    def headers(self, method: str, path: str, body: bytes, *, timestamp: int | None = None,
                nonce: str | None = None, signature: str | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_urlsafe(18)
        sig = signature or gm_sign(self.private, self.public, canonical(method, path, ts, nonce, body))
        return {"HTTP_X_TONGBAN_APP": self.app_id, "HTTP_X_TONGBAN_TIMESTAMP": ts, "HTTP_X_TONGBAN_NONCE": nonce,
                "HTTP_X_TONGBAN_SIGNATURE": sig}

    def post(self, client, path: str, payload, *, extra: dict[str, str] | None = None, **kw):
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        headers = self.headers("POST", path, body, **kw)
        headers.update(extra or {})
        return client.generic("POST", path, body, content_type="application/json", **headers)


@pytest.fixture(autouse=True)
def _partner_settings(settings):
    from tongban.partners import metering
    from tongban.partners.selectors import forget_apps

    settings.TONGBAN_PARTNERS = dataclasses.replace(settings.TONGBAN_PARTNERS, meter_flush_seconds=0,
                                                    app_cache_seconds=0)
    metering.discard()
    forget_apps()
    yield
    metering.discard()
    forget_apps()


def make_partner(name="核验应用", org="某省公安厅", kind="province", region="330000", levels=("l1", "l2"),
                 purposes=("gov_service", "transport"), **kw) -> Partner:
    from tongban.audit.services import Actor
    from tongban.partners import services

    private, public = gmalg.SM2().generate_keypair()
    organisation = services.organisation_get_or_create(name=org, kind=kind, region_code=region,
                                                       actor=Actor.system("tests"))
    new = services.partner_app_create(organisation=organisation, name=name, levels=levels, purposes=purposes,
                                      public_key=public, actor=Actor.system("tests"), **kw)
    return Partner(new.app.app_id, private, public, new.app)


@pytest.fixture
def partner(db):
    return make_partner()


def platform_key(client, key_id: str) -> bytes:
    keys = client.get("/partner/v1/keys").json()["keys"]
    [key] = [k for k in keys if k["key_id"] == key_id]
    return base64.b64decode(key["public_key"])


def response_verifies(client, response, nonce: str) -> bool:
    """The platform's answer signature, checked per the documentation with gmalg."""
    message = "\n".join(["TONGBAN-SM2-SM3-RESPONSE", nonce, str(response.status_code),
                         sm3_hex(response.content)]).encode()
    public = platform_key(client, response["X-Tongban-Key-Id"])
    return gm_verify(public, message, response["X-Tongban-Response-Signature"])
