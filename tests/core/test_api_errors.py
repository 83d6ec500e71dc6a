"""The error envelope on every JSON path: a code, a message in Chinese or English, never a 500 page."""

import json

import pytest
from django.test import override_settings


def test_calendar_endpoint_ok(client):
    response = client.get("/api/v1/core/calendar/add-working-days", {"start": "2026-09-17", "days": 3})
    assert response.status_code == 200
    assert response.json() == {"start": "2026-09-17", "days": 3, "due": "2026-09-21", "provisional": False}


def test_validation_error_in_chinese_by_default(client):
    response = client.get("/api/v1/core/calendar/add-working-days", {"start": "2026-02-30", "days": "x"})
    assert response.status_code == 422
    body = response.json()["error"]
    assert body["code"] == "validation_error"
    assert body["message"] == "请求参数校验失败。"
    assert {d["field"] for d in body["details"]} == {"start", "days"}
    assert body["request_id"] == response["X-Request-ID"]


def test_validation_error_in_english_when_asked(client):
    response = client.get("/api/v1/core/calendar/add-working-days", {"start": "bad", "days": 1},
                          HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "The request did not pass validation."


def test_out_of_range_values_are_validation_errors(client):
    response = client.get("/api/v1/core/calendar/add-working-days", {"start": "2026-01-01", "days": 99999999})
    assert response.status_code == 422
    response = client.get("/api/v1/core/calendar/working-days-between", {"start": "1900-01-01", "end": "2026-01-01"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_date"


def test_unknown_api_path_is_enveloped_404(client):
    response = client.get("/api/v1/no/such/thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_wrong_method_is_enveloped_405(client):
    response = client.post("/api/v1/core/calendar/add-working-days", data="{}", content_type="application/json")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_request_id_is_taken_when_sane_and_replaced_when_not(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abcd-1234-efgh")["X-Request-ID"] == "abcd-1234-efgh"
    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="<script>alert(1)</script>")["X-Request-ID"]
    assert replaced != "<script>alert(1)</script>" and len(replaced) == 32


@override_settings(ROOT_URLCONF="tests.core.boom_urls", DEBUG=False)
def test_unhandled_exception_becomes_internal_error_without_trace(client):
    client.raise_request_exception = False
    for path in ("/api/v1/boom", "/api/plain-boom"):
        response = client.get(path)
        assert response.status_code == 500, path
        body = response.json()
        assert body["error"]["code"] == "internal_error"
        text = json.dumps(body, ensure_ascii=False)
        assert "Traceback" not in text and "RuntimeError" not in text and "secret" not in text


@override_settings(ROOT_URLCONF="tests.core.boom_urls", DEBUG=False)
def test_invalid_json_body(client):
    response = client.post("/api/v1/echo", data="{not json", content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] in ("invalid_json", "bad_request")


@override_settings(ROOT_URLCONF="tests.core.boom_urls", DEBUG=False, DATA_UPLOAD_MAX_MEMORY_SIZE=100)
def test_oversize_body_is_413(client):
    response = client.post("/api/plain-echo", data="x=" + "a" * 500, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.django_db
def test_html_404_page_in_chinese(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "页面不存在" in response.content.decode()


@override_settings(ROOT_URLCONF="tests.core.boom_urls", DEBUG=False)
def test_http404_and_permission_denied_raised_in_views_keep_their_status(client):
    response = client.get("/api/plain-missing")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    response = client.get("/api/plain-forbidden")
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
