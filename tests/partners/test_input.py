"""Every field of every partner request is checked to a clear 4xx with its documented code (docs/partner-api.md
§5-6), and every answer on /partner/ — a 404, a 405, a body nested too deep or too large — is signed (issue 11,
items 3, 10 and 15). Nothing here reaches an authoritative source: each request is refused before."""

from __future__ import annotations

import dataclasses
import json

import pytest

from tests.partners.conftest import response_verifies
from tests.partners.test_api import BATCH, PATH, error_code

pytestmark = pytest.mark.django_db(databases="__all__")

GOOD = {"id_type": "resident_id", "id_number": "11010519491231002X", "name": "张三", "level": "l2",
        "purpose": "gov_service", "valid_from": "2015-06-01", "valid_to": "2035-06-01"}
PERSON = {k: v for k, v in GOOD.items() if k not in ("level", "purpose")}
# Every JSON type that is not the field's own, as outside clients sent them.
ODD = [{}, [], 0, 1.5, True, None, {"a": 1}, ["l1"]]


def post_large(client, partner, path, body: bytes, nonce: str):
    """A signed request whose body is too big to hash with gmalg quickly (~100 kB/s): the body hash comes from
    tongban.crypto, the signature from gmalg; the body is what is under test here, not the signing."""
    import time

    from tests.partners.conftest import gm_sign
    from tongban.crypto.sm3 import sm3

    ts = str(int(time.time()))
    canonical = "\n".join(["TONGBAN-SM2-SM3", "POST", path, ts, nonce, sm3(body).hex()]).encode()
    return partner.post(client, path, body, nonce=nonce, timestamp=int(ts),
                        signature=gm_sign(partner.private, partner.public, canonical))


def expect(response, status, code):
    assert response.status_code == status, (response.status_code, response.content)
    assert error_code(response) == code, response.content
    assert response["X-Tongban-Response-Signature"]


# -- item 3: `"level": {}` and friends --------------------------------------------------------------------


@pytest.mark.parametrize("level", [{}, [], ["l1"], {"l1": 1}])
def test_an_unhashable_level_is_a_422_not_a_500(client, partner, level):
    single = partner.post(client, PATH, {**GOOD, "level": level}, nonce="nonce-unhashable-level-1")
    expect(single, 422, "validation_error")
    assert single.json()["error"]["details"][0]["field"] == "level"
    assert response_verifies(client, single, "nonce-unhashable-level-1")
    batch = partner.post(client, BATCH, {"level": level, "purpose": "gov_service", "items": [PERSON]})
    expect(batch, 422, "validation_error")


FIELD_CASES = [
    # (field, bad values, status, code)
    ("id_type", [*ODD, "passport", ""], 422, "validation_error"),
    ("id_number", [*[v for v in ODD if v is not None], None, "", "1" * 33, "110105194912310021"], 422, None),
    ("name", [*ODD, "", "   ", "张" * 101, "张\x00三", "\u3000"], 422, "name_invalid"),
    ("level", [*ODD, "l3", "L1", ""], 422, "validation_error"),
    ("purpose", [None, "", " ", "\t\u3000"], 422, "purpose_required"),
    ("purpose", [{}, [], 0, True, "p" * 33], 422, "validation_error"),
    ("purpose", ["finance_account", " telecom "], 403, "purpose_not_allowed"),
    ("valid_from", [{}, [], 0, 1433116800, 1.5, True, "2015-6-1", "2015-02-30", "20150601", "长期",
                    "2015-06-01T00:00:00"], 422, "card_validity_invalid"),
    ("valid_to", [{}, [], 0, True, "2035-13-01", "长 期", "forever"], 422, "card_validity_invalid"),
    ("extra", [1, "x", None], 422, "validation_error"),
]


@pytest.mark.parametrize(("field", "values", "status", "code"), FIELD_CASES,
                         ids=[f"{c[0]}-{c[3]}" for c in FIELD_CASES])
def test_every_field_of_a_single_request_is_refused_with_its_code(client, partner, field, values, status, code):
    for value in values:
        body = {**GOOD, field: value}
        response = partner.post(client, PATH, body)
        expected = code or ("id_checksum" if value == "110105194912310021" else "id_format")
        expect(response, status, expected)
        if status == 422:
            assert any(d.get("field") == field for d in response.json()["error"]["details"]), (value, response.json())


@pytest.mark.parametrize(("field", "values", "status", "code"),
                         [c for c in FIELD_CASES if c[0] not in ("level", "purpose")],
                         ids=[f"{c[0]}-{c[3]}" for c in FIELD_CASES if c[0] not in ("level", "purpose")])
def test_every_field_of_a_batch_person_is_answered_with_its_code(client, partner, field, values, status, code):
    items = [{**PERSON, field: value} for value in values]
    response = partner.post(client, BATCH, {"level": "l2", "purpose": "gov_service", "items": items})
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    for index, (value, result) in enumerate(zip(values, results, strict=True)):
        expected = code or ("id_checksum" if value == "110105194912310021" else "id_format")
        assert result["outcome"] is None and result["error"]["code"] == expected, (value, result)
        fields = [d.get("field") for d in result["error"].get("details") or []]
        assert any(f is not None and f.startswith(f"items.{index}.") for f in fields), (value, result)


def test_a_permit_number_of_the_wrong_shape_is_a_travel_permit_format(client, partner):
    body = {**GOOD, "id_type": "hk_macao_permit", "id_number": 12345678}
    expect(partner.post(client, PATH, body), 422, "travel_permit_format")


@pytest.mark.parametrize("envelope", [
    [], "x", 1, None, {"level": "l1", "purpose": "gov_service"},
    {"level": "l1", "purpose": "gov_service", "items": []},
    {"level": "l1", "purpose": "gov_service", "items": {}},
    {"level": "l1", "purpose": "gov_service", "items": "x"},
    {"level": "l1", "purpose": "gov_service", "items": [PERSON], "more": 1},
])
def test_a_malformed_batch_envelope_is_a_422(client, partner, envelope):
    expect(partner.post(client, BATCH, envelope), 422, "validation_error")


@pytest.mark.parametrize("items", [[1], ["x"], [None], [[]], [{}]])
def test_a_batch_person_that_is_not_an_object_is_answered_on_its_own(client, partner, items):
    response = partner.post(client, BATCH, {"level": "l1", "purpose": "gov_service", "items": items})
    assert response.status_code == 200
    assert response.json()["results"][0]["error"]["code"] in ("validation_error", "id_format", "name_invalid")


@pytest.mark.parametrize("body", [[], "x", 1, None, True])
def test_a_single_body_that_is_not_an_object_is_a_422(client, partner, body):
    expect(partner.post(client, PATH, body), 422, "validation_error")


def test_the_purpose_schema_and_server_agree_on_blank(client, partner):
    """`purpose: " "`: the schema refuses it (a pattern: one character that is not a space), and so does the
    server, as `purpose_required` — and a purpose with spaces around it is the purpose."""
    import re

    from tongban.partners.openapi import document

    pattern = document()["components"]["schemas"]["VerificationRequest"]["properties"]["purpose"]["pattern"]
    assert re.search(pattern, " ") is None and re.search(pattern, " gov_service ")
    expect(partner.post(client, PATH, {**GOOD, "purpose": " "}), 422, "purpose_required")


# -- item 15: nested too deep, too large --------------------------------------------------------------------


@pytest.mark.parametrize("depth", [40, 990, 5_000, 100_000])
@pytest.mark.parametrize("path", [PATH, BATCH])
def test_json_nested_too_deep_is_a_400(client, partner, path, depth):
    body = ("[" * depth + "]" * depth).encode()
    response = post_large(client, partner, path, body, "nonce-nested-too-deep-1")
    expect(response, 400, "invalid_json")
    assert response.json()["error"]["details"][0]["type"] == "nesting_too_deep"
    assert response_verifies(client, response, "nonce-nested-too-deep-1")
    inside = json.dumps({**GOOD, "name": {"a": None}}).replace("null", "[" * depth + "]" * depth).encode()
    expect(post_large(client, partner, path, inside, "nonce-nested-too-deep-2"), 400, "invalid_json")


@pytest.mark.parametrize("path", [PATH, BATCH])
def test_malformed_json_is_a_400(client, partner, path):
    for body in (b"{", b'{"level": ', b"\xff\xfe", b"\x00", "{\"a\": \"\ud800\"}".encode("utf-8", "surrogatepass"),
                 b"NaN", b"[1,]", b""):
        expect(partner.post(client, path, body), 400, "invalid_json")


def test_a_body_over_the_limit_is_a_413(client, partner, settings):
    limit = settings.TONGBAN_PARTNERS.max_body_bytes
    for size in (limit + 1, 2 * 1024 * 1024 + 1, 3 * 1024 * 1024):
        body = b'{"name": "' + b"x" * size + b'"}'
        response = partner.post(client, PATH, body, nonce="nonce-too-large-0001", signature="c2lnbmF0dXJl")
        expect(response, 413, "payload_too_large")
        assert response_verifies(client, response, "nonce-too-large-0001")
        # Unsigned too: the size is checked first.
        unsigned = client.generic("POST", BATCH, body, content_type="application/json")
        expect(unsigned, 413, "payload_too_large")


def test_a_lower_limit_is_applied(client, partner, settings):
    settings.TONGBAN_PARTNERS = dataclasses.replace(settings.TONGBAN_PARTNERS, max_body_bytes=100)
    expect(partner.post(client, PATH, {**GOOD, "name": "张" * 40}), 413, "payload_too_large")


# -- headers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("app_id", ["pa_\x00abc", "pa_" + "x" * 40, "pa_é", "../../etc", "' OR 1=1 --"])
def test_a_malformed_app_id_is_an_unknown_app(client, partner, app_id):
    body = json.dumps(GOOD).encode()
    headers = partner.headers("POST", PATH, body)
    headers["HTTP_X_TONGBAN_APP"] = app_id
    response = client.generic("POST", PATH, body, content_type="application/json", **headers)
    expect(response, 401, "signature_invalid")


# -- item 10: every answer on /partner/ is signed -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/partner/v1/nothing", "/partner/v1/verifications/", "/partner/v2/verifications",
                                  "/partner/", "/partner/v1/keys/extra"])
def test_an_unknown_partner_path_is_a_signed_404(client, path):
    for method in ("GET", "POST", "PUT"):
        response = client.generic(method, path, b"{}", content_type="application/json",
                                  HTTP_X_TONGBAN_NONCE="nonce-not-found-00001")
        expect(response, 404, "not_found")
        assert response_verifies(client, response, "nonce-not-found-00001")
    assert response_verifies(client, client.get(path), "")


@pytest.mark.parametrize(("path", "methods", "allow"), [
    (PATH, ("GET", "PUT", "DELETE", "PATCH", "OPTIONS"), "POST"),
    (BATCH, ("GET", "PUT", "DELETE"), "POST"),
    ("/partner/v1/keys", ("POST", "PUT", "DELETE"), "GET"),
    ("/partner/v1/openapi.json", ("POST", "DELETE"), "GET"),
])
def test_a_wrong_method_is_a_signed_405(client, path, methods, allow):
    for method in methods:
        response = client.generic(method, path, b"", HTTP_X_TONGBAN_NONCE="nonce-wrong-method-01")
        expect(response, 405, "method_not_allowed")
        assert response["Allow"] == allow
        assert response_verifies(client, response, "nonce-wrong-method-01")


@pytest.mark.parametrize("path", ["/partner/v1/keys", "/partner/v1/openapi.json"])
def test_the_public_documents_are_signed(client, path):
    plain = client.get(path)
    assert plain.status_code == 200 and response_verifies(client, plain, "")
    assert plain["Cache-Control"] == "public, max-age=300"
    with_nonce = client.get(path, HTTP_X_TONGBAN_NONCE="nonce-public-docs-001")
    assert response_verifies(client, with_nonce, "nonce-public-docs-001")
    assert with_nonce["Cache-Control"] == "no-store"
