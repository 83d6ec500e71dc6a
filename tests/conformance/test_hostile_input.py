"""Every page and endpoint answers hostile input with a clear 4xx (or its normal page), never a 500.

Walks the URL configuration, so a new view is covered the day it is added — the pages, the OpenID Connect
endpoints (/o/…), the platform API (/api/v1/…) and the partner API (/partner/v1/…), every path of both
OpenAPI documents included (checked below): GET with junk query parameters (a token whose header is JSON
nested 100,000 deep among them), and POST and PUT with junk form and JSON bodies, JSON nested deeper than
any parser goes, bodies over the size limits (2 MiB and the partner API's 256 KiB), bodies that are not
UTF-8, NUL bytes, a broken multipart body and a lying Content-Length; anonymously, as a signed-in citizen
and as staff.
"""

from __future__ import annotations

import base64
import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

JUNK = {
    "phone": "1" * 400,
    "code": "' OR 1=1 --",
    "password": "\x00\ud7ff" + "密" * 300,
    "name": "<script>alert(1)</script>",
    "id_number": "11010519900101123X" * 20,
    "next": "https://evil.example/",
    "start": "9999-99-99",
    "days": "-1e309",
    "level": "l99",
    "page": "-1",
}
SKIP_PREFIXES = ("admin/", "static/")
DEEP = 100_000
DEEP_JSON = ("[" * DEEP + "]" * DEEP).encode()
DEEP_OBJECT = ('{"a":' * DEEP + "1" + "}" * DEEP).encode()
_DEEP_SEGMENT = base64.urlsafe_b64encode(DEEP_JSON[:20_000] + DEEP_JSON[-20_000:]).rstrip(b"=").decode()
DEEP_TOKEN = f"{_DEEP_SEGMENT}.{_DEEP_SEGMENT}.c2ln"  # a JWS whose header and payload nest 20,000 deep
OVERSIZED = b'{"a": "' + b"x" * (2 * 1024 * 1024 + 1) + b'"}'  # over DATA_UPLOAD_MAX_MEMORY_SIZE (2 MiB)
OVER_PARTNER_LIMIT = b'{"a": "' + b"x" * (256 * 1024 + 1) + b'"}'
BODIES = [
    ("deeply nested JSON", DEEP_JSON, "application/json"),
    ("deeply nested JSON object", DEEP_OBJECT, "application/json"),
    ("oversized JSON", OVERSIZED, "application/json"),
    ("oversized form", b"a=" + b"x" * (2 * 1024 * 1024 + 1), "application/x-www-form-urlencoded"),
    ("over the partner limit", OVER_PARTNER_LIMIT, "application/json"),
    ("not UTF-8", b'{"name": "\xff\xfe\xed\xa0\x80"}', "application/json"),
    ("NUL bytes", rb'{"name": "\u0000", "\u0000": 1}' + b"\x00", "application/json"),
    ("NaN", b'{"level": NaN, "days": Infinity}', "application/json"),
    ("JSON not an object", b"[[], 1, null]", "application/json"),
    ("form with NUL", b"phone=%00&code=%00&grant_type=%00&client_id=%00&token=%00", "application/x-www-form-urlencoded"),
    ("form nested token", f"client_assertion={DEEP_TOKEN}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth"
                          f"%3Aclient-assertion-type%3Ajwt-bearer&grant_type=client_credentials".encode(),
     "application/x-www-form-urlencoded"),
    ("broken multipart", b"--xx\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n",
     "multipart/form-data; boundary=xx"),
    ("multipart without boundary", b"--xx--", "multipart/form-data"),
]


def _paths(resolver: URLResolver | None = None, prefix: str = "") -> list[str]:
    resolver = resolver or get_resolver()
    found: list[str] = []
    for entry in resolver.url_patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            if "<" in route or "(?P" in route:
                continue
            found += _paths(entry, prefix + route.lstrip("^"))
        elif isinstance(entry, URLPattern):
            if "<" in route or "(?P" in route or "\\" in route:
                continue
            path = "/" + prefix + route.lstrip("^").rstrip("$")
            if not path.lstrip("/").startswith(SKIP_PREFIXES):
                found.append(path)
    return sorted(set(found))


# A path parameter of an API operation is walked with a real-looking value and a hostile one (a NUL byte).
PATH_SAMPLES = ("330106-GAHZ007", "x%00y")


def _documented_paths() -> set[str]:
    from tongban.api import api
    from tongban.partners.openapi import document

    return set(document()["paths"]) | set(api.get_openapi_schema(path_prefix="/api/v1/")["paths"])


def _templated_samples() -> dict[str, list[str]]:
    """Each documented path with parameters, and the concrete paths the walk sends for it."""
    found: dict[str, list[str]] = {}
    for template in sorted(_documented_paths()):
        names = re.findall(r"{(\w+)}", template)
        if names:
            found[template] = [template.format(**dict.fromkeys(names, sample)) for sample in PATH_SAMPLES]
    return found


def _hit_everything(client, *, bodies: bool = True) -> list[str]:
    failures = []
    client.raise_request_exception = False
    junk_tokens = {**JUNK, "id_token_hint": DEEP_TOKEN, "client_assertion": DEEP_TOKEN, "token": DEEP_TOKEN,
                   "request": DEEP_TOKEN}
    for path in _paths() + [p for samples in _templated_samples().values() for p in samples]:
        attempts = [
            ("GET", lambda p=path: client.get(p, JUNK)),
            ("GET nested tokens", lambda p=path: client.get(p, junk_tokens)),
            ("POST form", lambda p=path: client.post(p, JUNK)),
            ("POST json", lambda p=path: client.post(p, data=json.dumps(JUNK), content_type="application/json")),
            ("POST broken json", lambda p=path: client.post(p, data="{\"a\": [", content_type="application/json")),
        ]
        if bodies:
            for label, body, content_type in BODIES:
                for method in ("POST", "PUT"):
                    attempts.append((f"{method} {label}", lambda p=path, b=body, c=content_type, m=method:
                                     client.generic(m, p, b, content_type=c)))
            attempts.append(("POST lying Content-Length", lambda p=path: client.generic(
                "POST", p, b"{}", content_type="application/json", CONTENT_LENGTH="999999999")))
        for label, call in attempts:
            response = call()
            if response.status_code >= 500:
                failures.append(f"{label} {path} -> {response.status_code}")
    return failures


def test_every_path_of_both_api_documents_is_walked():
    """The walk covers every operation of the partner API and of /api/v1 (a new one is covered when added)."""
    walked = set(_paths()) | set(_templated_samples())
    documented = _documented_paths()
    assert documented and documented <= walked, documented - walked
    assert {"/o/token/", "/o/revoke/", "/o/userinfo/", "/o/logout/"} <= walked


@pytest.mark.django_db(databases="__all__")
def test_anonymous_hostile_requests_never_500(client):
    assert len(_paths()) > 20
    assert _hit_everything(client) == []


@pytest.mark.django_db(databases="__all__")
def test_signed_in_citizen_hostile_requests_never_500(client):
    from tests.accounts.factories import make_citizen

    user = make_citizen()
    client.force_login(user)
    assert _hit_everything(client, bodies=False) == []


@pytest.mark.django_db(databases="__all__")
def test_verified_staff_hostile_requests_never_500(admin_client):
    assert _hit_everything(admin_client, bodies=False) == []
