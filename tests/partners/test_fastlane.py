"""The fast lane (tongban.core.fastlane, config.wsgi): the hot endpoints served through the same outer
middleware as in Django's full cycle but without the signals and the per-request health check."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from django.test import RequestFactory

from config.wsgi import application
from tests.partners.conftest import make_partner, response_verifies
from tests.partners.test_api import PATH, person_body, valid_people
from tongban.core import fastlane

pytestmark = pytest.mark.django_db(databases="__all__")

_real_release = fastlane.release_connections


@pytest.fixture(autouse=True)
def _keep_test_connections(monkeypatch):
    """The test's connections live in a transaction: neither the lane nor Django's handler may close them
    at the end of a request (the lane's check itself is tested below on stand-in connections)."""
    from django.core import signals
    from django.db import close_old_connections

    monkeypatch.setattr(fastlane, "release_connections", lambda: None)
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


class Answer(SimpleNamespace):
    status_code: int
    headers: dict[str, str]
    content: bytes

    def __getitem__(self, name: str) -> str:
        return self.headers[name.lower()]

    def json(self):
        return json.loads(self.content)


def call(method: str, path: str, body: bytes = b"", **extra: str) -> Answer:
    request = getattr(RequestFactory(), method.lower())(path, body, content_type="application/json", **extra) \
        if method != "GET" else RequestFactory().get(path, **extra)
    seen: dict[str, object] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        seen["status"], seen["headers"] = status, headers

    content = b"".join(application(request.environ, start_response))
    return Answer(status_code=int(str(seen["status"]).split()[0]),
                  headers={k.lower(): v for k, v in seen["headers"]}, content=content)  # type: ignore[attr-defined]


def signed(partner, payload) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, ensure_ascii=False).encode()
    return body, partner.headers("POST", PATH, body)


def test_the_application_is_the_lane_and_knows_the_fast_paths():
    assert isinstance(application, fastlane.FastLane)
    routes = application.routes()
    assert PATH in routes and "/o/token/" in routes and "/.well-known/openid-configuration" in routes
    assert fastlane.lane_middleware() == ["tongban.core.middleware.RequestIdMiddleware",
                                          "django.middleware.security.SecurityMiddleware",
                                          "tongban.core.security.SecurityHeadersMiddleware",
                                          "tongban.core.middleware.ApiErrorMiddleware"]


def test_a_verification_through_the_lane_is_answered_and_signed_with_every_security_header(
        client, registry, caplog):
    partner = make_partner()
    person = valid_people(registry, 1)[0]
    body, headers = signed(partner, person_body(person))
    with caplog.at_level("INFO", logger="tongban.request"):
        answer = call("POST", PATH, body, HTTP_X_REQUEST_ID="req-lane-000001", **headers)
    assert answer.status_code == 200, answer.content
    assert answer.json()["passed"] is True
    assert response_verifies(client, answer, headers["HTTP_X_TONGBAN_NONCE"])
    assert answer["X-Request-ID"] == "req-lane-000001"
    assert "content-security-policy" in answer.headers and "permissions-policy" in answer.headers
    assert answer["X-Content-Type-Options"] == "nosniff" and answer["X-Frame-Options"] == "DENY"
    assert answer["Cross-Origin-Resource-Policy"] == "same-origin" and "referrer-policy" in answer.headers
    assert "set-cookie" not in answer.headers
    lines = [r.msg for r in caplog.records if r.name == "tongban.request"]
    assert any(isinstance(m, dict) and m.get("path") == PATH and m.get("status") == 200 for m in lines), lines


def test_lane_and_full_cycle_answer_alike(client, registry):
    """The same refusal through the lane and through Django's test client: same status, body and headers
    (apart from the per-request ones)."""
    partner = make_partner()
    body, headers = signed(partner, {"id_type": "resident_id"})
    headers["HTTP_X_TONGBAN_SIGNATURE"] = "AAAA"
    lane = call("POST", PATH, body, **headers)
    full = client.generic("POST", PATH, body, content_type="application/json", **headers)
    assert lane.status_code == full.status_code == 401
    assert lane.json()["error"]["code"] == full.json()["error"]["code"] == "signature_invalid"
    per_request = {"x-request-id", "x-tongban-response-signature", "x-tongban-nonce", "date"}
    full_headers = {k.lower(): v for k, v in full.items()}
    assert {k: v for k, v in lane.headers.items() if k not in per_request} == \
        {k: v for k, v in full_headers.items() if k not in per_request}


def test_other_paths_go_to_django(client):
    answer = call("GET", "/partner/v1/keys")
    assert answer.status_code == 200 and answer.json()["keys"]
    assert call("POST", PATH + "/", b"{}").json()["error"]["code"] == "not_found"


def test_a_bug_in_a_view_is_the_json_envelope_not_a_trace(monkeypatch):
    lane = fastlane.FastLane(application.django_app)

    def boom(request):
        raise RuntimeError("bug with 110105194912310029 inside")

    routes = lane.routes()
    monkeypatch.setitem(routes, PATH, boom)
    monkeypatch.setattr(fastlane.FastPathMiddleware, "_routes", lambda self, urlconf: {PATH: boom})
    lane._routes = None
    seen = {}
    body = b"".join(lane(RequestFactory().post(PATH, b"{}", content_type="application/json").environ,
                         lambda status, headers, exc_info=None: seen.update(status=status)))
    assert seen["status"].startswith("500")
    assert json.loads(body)["error"]["code"] == "internal_error" and b"Traceback" not in body and b"1101" not in body


def test_https_redirect_applies_in_the_lane(settings):
    settings.SECURE_SSL_REDIRECT = True  # read when the middleware is built, as in Django's handler
    lane = fastlane.FastLane(application.django_app)
    seen = {}
    lane(RequestFactory().post(PATH, b"{}", content_type="application/json").environ,
         lambda status, headers, exc_info=None: seen.update(status=status, headers=dict(headers)))
    assert seen["status"].startswith("301") and seen["headers"]["Location"].startswith("https://")


def test_a_back_office_path_cannot_be_made_fast(settings):
    settings.TONGBAN_FAST_PATHS = ["backoffice:home"]
    with pytest.raises(RuntimeError, match="cannot be a fast path"):
        fastlane.FastLane(application.django_app).routes()


def test_without_the_fast_path_middleware_nothing_takes_the_lane(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != fastlane.FAST_PATH_MIDDLEWARE]
    assert fastlane.FastLane(application.django_app).routes() == {}


# -- the end-of-request check on each connection ----------------------------------------------------------


class _Conn:
    def __init__(self, *, errors=False, close_at=None, autocommit=True, open_=True):
        self.connection = object() if open_ else None
        self.errors_occurred, self.close_at, self._autocommit = errors, close_at, autocommit
        self.settings_dict = {"AUTOCOMMIT": True}
        self.checked = False

    def get_autocommit(self):
        return self._autocommit

    def close_if_unusable_or_obsolete(self):
        self.checked = True


def test_release_checks_only_connections_that_need_it(monkeypatch):
    import time

    healthy, broken, old, left_open, closed = (_Conn(), _Conn(errors=True), _Conn(close_at=time.monotonic() - 1),
                                               _Conn(autocommit=False), _Conn(open_=False))
    monkeypatch.undo()  # the real release_connections
    monkeypatch.setattr(fastlane.connections, "all", lambda initialized_only=False: [healthy, broken, old, left_open,
                                                                                     closed])
    fastlane.release_connections()
    assert (healthy.checked, broken.checked, old.checked, left_open.checked, closed.checked) == \
        (False, True, True, True, False)


# -- a connection lost between two requests (PostgreSQL: a real backend terminated) --------------------


@pytest.mark.django_db(transaction=True, databases="__all__")
def test_a_connection_lost_between_requests_fails_one_call_with_503_and_the_next_is_served(
        registry, monkeypatch):
    from django.db import connection, connections

    if connection.vendor != "postgresql":
        pytest.skip("terminates a PostgreSQL backend")
    from tongban.partners.models import PurposeCode

    monkeypatch.setattr(fastlane, "release_connections", _real_release)  # the lane's own end-of-request check
    for code, name in (("gov_service", "政务服务"), ("transport", "交通出行")):  # an earlier flush may have
        PurposeCode.objects.get_or_create(code=code, defaults={"name": name})  # emptied the seeded codes
    partner = make_partner()
    people = valid_people(registry, 3)
    body, headers = signed(partner, person_body(people[0]))
    assert call("POST", PATH, body, **headers).status_code == 200  # opens the lane's connection
    pid = connection.connection.info.backend_pid
    with connections["population"].cursor() as other:  # another server's session kills ours
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    body, headers = signed(partner, person_body(people[1]))
    lost = call("POST", PATH, body, **headers)
    assert lost.status_code == 503 and lost.json()["error"]["code"] == "service_unavailable"
    assert lost["Retry-After"] == "1" and b"Traceback" not in lost.content
    body, headers = signed(partner, person_body(people[2]))
    again = call("POST", PATH, body, **headers)
    assert again.status_code == 200 and again.json()["passed"] is True
