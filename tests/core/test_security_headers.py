"""Web controls: CSP and the other security headers, secure cookies, CSRF, request-size limits, client address."""

import pytest
from django.test import RequestFactory, override_settings

from tongban.core.security import DEFAULT_CSP, address_in, client_ip

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/", "/login/", "/backoffice/login/", "/no-such-page/", "/healthz",
                                  "/api/v1/no/such"])
def test_every_response_carries_the_headers(client, path):
    response = client.get(path)
    csp = response["Content-Security-Policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'",
                      "base-uri 'none'", "object-src 'none'"):
        assert directive in csp, (path, directive)
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "microphone=()" in response["Permissions-Policy"]


def test_csp_is_the_default_policy(client):
    assert client.get("/")["Content-Security-Policy"] == DEFAULT_CSP


@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
def test_hsts_over_https(client):
    response = client.get("/", secure=True)
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_templates_have_no_inline_script_or_style():
    from pathlib import Path

    import tongban

    root = Path(tongban.__file__).parent
    for template in root.glob("*/templates/**/*.html"):
        text = template.read_text()
        assert "<script>" not in text and "<script " not in text.replace('<script src=', ''), template
        assert " style=" not in text and "<style" not in text, template


def test_session_and_csrf_cookies(client, settings):
    from tests.accounts.factories import make_citizen

    make_citizen("c1", "Citizen-2026-pw")
    response = client.post("/login/", {"username": "c1", "password": "Citizen-2026-pw"})
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert settings.SESSION_COOKIE_HTTPONLY and settings.CSRF_COOKIE_SECURE == settings.SESSION_COOKIE_SECURE


def test_production_settings_make_cookies_secure_and_close_the_back_office():
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TONGBAN_", "DJANGO_"))}
    clean.update({"TONGBAN_ENV": "production", "DJANGO_SETTINGS_MODULE": "config.settings.production",
                  "TONGBAN_SECRET_KEY": "k" * 64, "TONGBAN_DATABASE_URL": "postgresql://postgres@127.0.0.1/x",
                  "TONGBAN_REDIS_URL": "redis://127.0.0.1:6379/0", "TONGBAN_ALLOWED_HOSTS": "gov.example.cn"})
    code = ("import json, django; django.setup(); from django.conf import settings as s; "
            "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
            "s.SECURE_HSTS_SECONDS, list(s.TONGBAN_SECURITY.backoffice_networks)]))")
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2], env=clean,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    secure_session, secure_csrf, httponly, hsts, networks = json.loads(result.stdout.strip().splitlines()[-1])
    assert secure_session and secure_csrf and httponly and hsts >= 31536000
    assert networks == []  # in production the back office is closed until TONGBAN_BACKOFFICE_NETWORKS opens it


def test_csrf_is_enforced_on_the_portal_login():
    from django.test import Client

    assert Client(enforce_csrf_checks=True).post("/login/", {"username": "x", "password": "y"}).status_code == 403


def test_oversize_form_body_is_refused(client, settings):
    big = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = client.post("/login/", {"username": "u", "password": big})
    assert response.status_code == 400


def _echo(request):
    from django.http import JsonResponse

    return JsonResponse({"length": len(request.body)})


def _urlpatterns():
    from django.urls import path
    from django.views.decorators.csrf import csrf_exempt

    return [path("api/test-echo", csrf_exempt(_echo))]


urlpatterns = _urlpatterns()


@override_settings(ROOT_URLCONF=__name__)
def test_oversize_json_body_gets_the_envelope(client, settings):
    small = client.post("/api/test-echo", data='{"a": 1}', content_type="application/json")
    assert small.json() == {"length": 8}
    big = '{"a": "' + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE + '"}'
    response = client.post("/api/test-echo", data=big, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


# The client's address.

def _request(remote, forwarded=None):
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **extra)


def test_forwarded_for_ignored_without_trusted_proxies():
    assert client_ip(_request("203.0.113.5", "10.0.0.1")) == "203.0.113.5"


def test_forwarded_for_read_from_the_right(settings):
    import dataclasses

    settings.TONGBAN_SECURITY = dataclasses.replace(settings.TONGBAN_SECURITY,
                                                    trusted_proxies=("192.0.2.0/24",))
    assert client_ip(_request("192.0.2.1", "10.0.0.1")) == "10.0.0.1"
    assert client_ip(_request("192.0.2.1", "10.9.9.9, 198.51.100.7, 192.0.2.2")) == "198.51.100.7"
    assert client_ip(_request("192.0.2.1", "not-an-ip")) == "192.0.2.1"
    assert client_ip(_request("198.51.100.7", "10.0.0.1")) == "198.51.100.7"  # not from our proxy


def test_address_in():
    assert address_in("127.0.0.1", ["127.0.0.0/8"])
    assert address_in("::1", ["::1/128"])
    assert address_in("::ffff:10.1.2.3", ["10.0.0.0/8"])  # IPv4-mapped IPv6
    assert not address_in("garbage", ["0.0.0.0/0"])
    assert not address_in("10.0.0.1", [])
