"""schemathesis over both OpenAPI documents as the platform serves them — the partner API
(/partner/v1/openapi.json) and the platform API (/api/v1/openapi.json) — through the platform's own WSGI
entry point (config.wsgi, the fast lane included).

The partner API's requests are signed by a small hook written from docs/partner-api.md §2 on `gmalg`
(not tongban's signing code), so the generated bodies get past the signature check to the validation and
the engine; every answer's signature is checked too (§4: every answer is signed). For each operation:
no 5xx, every status is one the document declares, every body and header matches its schema, and a
method the path does not offer is a 405 naming the allowed ones. The number of examples is bounded so
that the module runs in CI in well under two minutes.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any

import gmalg
import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.core import NotSet  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from config.wsgi import application  # noqa: E402
from tongban.partners.schemas import RESIDENT_ID_PATTERN  # noqa: E402  (the pattern the document publishes)

UID = b"1234567812345678"
NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES = 20
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))


# -- the signing hook (docs/partner-api.md §2 and §4, on gmalg only) ---------------------------------------------


def sm3_hex(data: bytes) -> str:
    h = gmalg.SM3()
    h.update(data)
    return h.value().hex()


class Signer:
    """A partner's key pair and the four headers of §2; checks the platform's answers as §4 says."""

    def __init__(self, app_id: str, private: bytes, public: bytes, platform_keys: dict[str, bytes]) -> None:
        self.app_id, self.private, self.public, self.platform_keys = app_id, private, public, platform_keys
        self.verified: dict[str, set[int]] = {}  # the statuses whose signature was checked, per path

    def headers(self, method: str, path: str, body: bytes) -> dict[str, str]:
        timestamp, nonce = str(int(time.time())), secrets.token_urlsafe(18)
        canonical = "\n".join(["TONGBAN-SM2-SM3", method.upper(), path, timestamp, nonce, sm3_hex(body)])
        r, s = gmalg.SM2(sk=self.private, uid=UID, pk=self.public).sign(canonical.encode("utf-8"))
        signature = base64.b64encode(r.rjust(32, b"\0") + s.rjust(32, b"\0")).decode()
        return {"X-Tongban-App": self.app_id, "X-Tongban-Timestamp": timestamp, "X-Tongban-Nonce": nonce,
                "X-Tongban-Signature": signature}

    def answer_verifies(self, nonce: str, status: int, body: bytes, headers: dict[str, Any]) -> bool:
        lower = {k.lower(): v[0] if isinstance(v, list) else v for k, v in headers.items()}
        key = self.platform_keys[lower["x-tongban-key-id"]]
        raw = base64.b64decode(lower["x-tongban-response-signature"])
        canonical = "\n".join(["TONGBAN-SM2-SM3-RESPONSE", nonce, str(status), sm3_hex(body)]).encode()
        return bool(gmalg.SM2(uid=UID, pk=key).verify(canonical, raw[:32], raw[32:]))


SIGNED_HEADERS = ("X-Tongban-App", "X-Tongban-Timestamp", "X-Tongban-Nonce", "X-Tongban-Signature")


def headers_well_formed(headers: dict[str, Any] | None) -> bool:
    """Whether schemathesis generated the four signature headers in their documented shape. A case where it
    left one out or broke its shape (its coverage phase does) is sent as generated, unsigned: it tests the
    refusal. Every other case is signed by the hook (the values the schema allows are then replaced)."""
    headers = headers or {}
    patterns = {p["name"]: p["schema"]["pattern"] for p in _partner_document()["paths"]["/partner/v1/verifications"]
                ["post"]["parameters"] if p["name"] in SIGNED_HEADERS}
    return all(isinstance(headers.get(name), str) and re.search(patterns[name], headers[name])
               for name in SIGNED_HEADERS)


def _check_character(first17: str) -> str:
    """GB 11643-1999 §6.2 (ISO 7064 MOD 11-2), written from the standard."""
    return "10X98765432"[sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(first17)) % 11]


def steer(value: Any) -> Any:
    """Generated bodies, brought past what the schema cannot know so that they reach the engine: the purpose
    (a string the schema allows) becomes one the app registered, and a resident ID number in the documented
    shape gets a region in use and its check character. (Refusals of those are tests/partners/test_input.py's.)"""
    if isinstance(value, list):
        return [steer(item) for item in value]
    if not isinstance(value, dict):
        return value
    value = {key: steer(item) if key == "items" else item for key, item in value.items()}
    if isinstance(value.get("purpose"), str) and value["purpose"].strip():
        value["purpose"] = "gov_service"
    number = value.get("id_number")
    if value.get("id_type", "resident_id") == "resident_id" and isinstance(number, str) and \
            re.fullmatch(RESIDENT_ID_PATTERN, number):
        value["id_number"] = "110105" + number[6:17] + _check_character("110105" + number[6:17])
    return value


def wire_body(value: Any) -> bytes:
    """The bytes sent for a generated body (schemathesis also generates no body and raw bytes)."""
    if isinstance(value, NotSet):
        return b""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    if hasattr(value, "data") and isinstance(value.data, bytes):  # schemathesis's Binary
        return bytes(value.data)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@pytest.fixture
def _keep_test_connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """As Django's test client does: a request finishing must not close the test's database connections
    (neither through Django's signals nor through the fast lane's own end-of-request check)."""
    from django.core import signals
    from django.db import close_old_connections

    monkeypatch.setattr("tongban.core.fastlane.release_connections", lambda: None)
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


def _served(client: Any, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.json()  # type: ignore[no-any-return]


def _partner_document() -> dict[str, Any]:
    from tongban.partners.openapi import document

    return document()


def _platform_document() -> dict[str, Any]:
    from tongban.api import api

    return api.get_openapi_schema(path_prefix="/api/v1/")  # type: ignore[return-value]


# The documents are built here as the views build them (the schemas are needed to collect the tests);
# test_the_fuzzed_documents_are_the_served_ones checks they are byte for byte what the platform serves.
DOCUMENTS = {"partner": ("/partner/v1/openapi.json", _partner_document),
             "platform": ("/api/v1/openapi.json", _platform_document)}
partner_api = schemathesis.openapi.from_dict(_partner_document())
platform_api = schemathesis.openapi.from_dict(_platform_document())
SCHEMAS = {"partner": partner_api, "platform": platform_api}


@pytest.mark.django_db
@pytest.mark.parametrize("name", DOCUMENTS)
def test_the_fuzzed_documents_are_the_served_ones(client: Any, name: str) -> None:
    url, build = DOCUMENTS[name]
    assert _served(client, url) == json.loads(json.dumps(build()))


@pytest.fixture
def signer(db: None, client: Any) -> Signer:
    """An app registered as an operator does (`tongban partners create-app` with the partner's public key)."""
    from io import StringIO

    from django.core.management import call_command

    private, public = gmalg.SM2().generate_keypair()
    out = StringIO()
    call_command("partners", "create-app", "--org", "模糊测试单位", "--name", "schemathesis",
                 "--purposes", "gov_service,transport", "--levels", "l1,l2", "--public-key", public.hex(),
                 "--rate-per-second", "1000", "--rate-per-minute", "100000", stdout=out)
    app_id = out.getvalue().split("app_id:", 1)[1].split()[0]
    keys = {k["key_id"]: base64.b64decode(k["public_key"]) for k in _served(client, "/partner/v1/keys")["keys"]}
    return Signer(app_id, private, public, keys)


@pytest.mark.django_db(databases="__all__")
@pytest.mark.usefixtures("_keep_test_connections")
@partner_api.parametrize()
@SETTINGS
def test_the_partner_api_conforms_to_its_document(case: Any, signer: Signer) -> None:
    if case.method.upper() == "POST" and headers_well_formed(case.headers):
        body = wire_body(steer(case.body))
        case.headers = {**(case.headers or {}), **signer.headers("POST", case.path, body)}
        response = case.call(app=application, data=body)
    else:
        response = case.call(app=application)
    case.validate_response(response, checks=CHECKS)
    assert response.status_code < 500, response.content
    # Every answer carries a signature; one answer of each status per operation is verified with gmalg (a
    # verification costs gmalg ~0.1 s; tests/partners/test_input.py verifies each kind of refusal too).
    assert response.headers.get("x-tongban-response-signature"), (case.method, case.path, response.status_code)
    if response.status_code not in signer.verified.setdefault(case.path, set()):
        signer.verified[case.path].add(response.status_code)
        nonce = (case.headers or {}).get("X-Tongban-Nonce", "")
        nonce = nonce if NONCE.match(nonce) else ""
        assert signer.answer_verifies(nonce, response.status_code, response.content, dict(response.headers)), \
            (case.method, case.path, response.status_code)


@pytest.mark.django_db(databases="__all__")
@pytest.mark.usefixtures("_keep_test_connections")
@platform_api.parametrize()
@SETTINGS
def test_the_platform_api_conforms_to_its_document(case: Any) -> None:
    response = case.call(app=application)
    case.validate_response(response, checks=CHECKS)


@pytest.mark.django_db(databases="__all__")
@pytest.mark.usefixtures("_keep_test_connections")
@pytest.mark.parametrize("name", SCHEMAS)
def test_a_method_not_offered_is_a_405_naming_the_allowed_ones(name: str) -> None:
    schema = SCHEMAS[name]
    for result in schema.get_all_operations():
        operation = result.ok()
        names = re.findall(r"{(\w+)}", operation.path)
        case = operation.Case(path_parameters=dict.fromkeys(names, "330106-GAHZ007") if names else None)
        offered = {m.upper() for m in schema.raw_schema["paths"][operation.path]}
        for method in ("GET", "POST", "PUT", "DELETE", "PATCH"):
            if method in offered:
                continue
            case.method = method
            response = case.call(app=application)
            assert response.status_code == 405, (method, operation.path, response.status_code)
            allow = response.headers["allow"][0]  # schemathesis's Response: lower-case names, lists of values
            assert set(allow.replace(" ", "").split(",")) >= offered, response.headers
            assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.django_db(databases="__all__")
@pytest.mark.parametrize("name", SCHEMAS)
def test_every_operation_has_an_id_and_declares_its_errors(name: str) -> None:
    schema = SCHEMAS[name].raw_schema
    ids = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            ids.append(operation.get("operationId"))
            assert operation.get("operationId"), (path, method)
            statuses = set(operation["responses"])
            assert {"500"} <= statuses, (path, method, statuses)
    assert len(ids) == len(set(ids))
