"""Every page and endpoint answers hostile input with a clear 4xx (or its normal page), never a 500.

Walks the URL configuration, so a new view is covered the day it is added: GET with junk query
parameters and POST with junk form and JSON bodies, anonymously and as a signed-in citizen.
"""

from __future__ import annotations

import json

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


def _hit_everything(client) -> list[str]:
    failures = []
    client.raise_request_exception = False
    for path in _paths():
        attempts = [
            ("GET", lambda p=path: client.get(p, JUNK)),
            ("POST form", lambda p=path: client.post(p, JUNK)),
            ("POST json", lambda p=path: client.post(p, data=json.dumps(JUNK), content_type="application/json")),
            ("POST broken json", lambda p=path: client.post(p, data="{\"a\": [", content_type="application/json")),
        ]
        for label, call in attempts:
            response = call()
            if response.status_code >= 500:
                failures.append(f"{label} {path} -> {response.status_code}")
    return failures


@pytest.mark.django_db(databases="__all__")
def test_anonymous_hostile_requests_never_500(client):
    assert len(_paths()) > 20
    assert _hit_everything(client) == []


@pytest.mark.django_db(databases="__all__")
def test_signed_in_citizen_hostile_requests_never_500(client):
    from tests.accounts.factories import make_citizen

    user = make_citizen()
    client.force_login(user)
    assert _hit_everything(client) == []


@pytest.mark.django_db(databases="__all__")
def test_verified_staff_hostile_requests_never_500(admin_client):
    assert _hit_everything(admin_client) == []
