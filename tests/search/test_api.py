"""The catalog API for local platforms: list with filters, detail, ETag / If-None-Match, incremental sync."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_list_and_filters(client, publish):
    publish("330100-HJ-1", "户籍证明开具")
    publish("330100-WF-1", "交通违法处理", department="traffic", charged=True, fee_basis="《道路交通安全法》",
            fee_standard_fen=20000, fee_items=[{"name": "罚款", "fen": 20000}], online_payment=True)
    body = client.get("/api/v1/catalog/items").json()
    assert body["total"] == 2 and {i["code"] for i in body["items"]} == {"330100-HJ-1", "330100-WF-1"}
    assert client.get("/api/v1/catalog/items", {"fee": "charged"}).json()["items"][0]["code"] == "330100-WF-1"
    assert client.get("/api/v1/catalog/items", {"department": "hukou"}).json()["total"] == 1
    assert client.get("/api/v1/catalog/items", {"q": "weizhang"}).json()["items"][0]["code"] == "330100-WF-1"
    assert client.get("/api/v1/catalog/items", {"q": "违章"}).json()["items"][0]["code"] == "330100-WF-1"
    bad = client.get("/api/v1/catalog/items", {"fee": "sometimes"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "validation_error"


def test_detail_etag_and_304(client, publish):
    publish("330100-HJ-1", "户籍证明开具")
    first = client.get("/api/v1/catalog/items/330100-HJ-1")
    assert first.status_code == 200
    item = first.json()
    assert item["name"] == "户籍证明开具" and item["materials"][0]["platform_fetched"] is True
    etag = first["ETag"]
    again = client.get("/api/v1/catalog/items/330100-HJ-1", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    listing = client.get("/api/v1/catalog/items")
    assert client.get("/api/v1/catalog/items", HTTP_IF_NONE_MATCH=listing["ETag"]).status_code == 304
    missing = client.get("/api/v1/catalog/items/NOPE")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_a_new_version_changes_the_etag(client, publish):
    from tongban.accounts.models import User
    from tongban.catalog.models import Implementation
    from tongban.catalog.services import version_draft_new, version_publish, version_submit, version_update

    publish("330100-HJ-1", "户籍证明开具")
    etag = client.get("/api/v1/catalog/items/330100-HJ-1")["ETag"]
    ed, rv = User.objects.get(username="ed-hukou"), User.objects.get(username="rv-hukou")
    draft = version_draft_new(actor=ed, implementation=Implementation.objects.get(code="330100-HJ-1"))
    version_update(actor=ed, version=draft, changes={"promised_limit_days": 1})
    version_submit(actor=ed, version=draft)
    version_publish(actor=rv, version=draft)
    response = client.get("/api/v1/catalog/items/330100-HJ-1", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200 and response.json()["promised_limit_days"] == 1
    assert response.json()["version"] == 2


def test_sync_only_what_changed(client, publish):
    from tongban.accounts.models import User
    from tongban.catalog.services import version_retire

    publish("330100-HJ-1", "户籍证明开具")
    published = publish("330100-SFZ-1", "居民身份证换领")
    publish("330100-CS-1", "出生登记")
    full = client.get("/api/v1/catalog/changes", {"limit": 2}).json()
    assert len(full["changes"]) == 2 and full["more"] is True
    rest = client.get("/api/v1/catalog/changes", {"cursor": full["next_cursor"]}).json()
    assert [c["code"] for c in rest["changes"]] == ["330100-CS-1"] and rest["more"] is False
    cursor = rest["next_cursor"]
    quiet = client.get("/api/v1/catalog/changes", {"cursor": cursor})
    assert quiet.json() == {"changes": [], "next_cursor": cursor, "more": False}
    version_retire(actor=User.objects.get(username="rv-hukou"), version=published, note="停办")
    delta = client.get("/api/v1/catalog/changes", {"cursor": cursor}).json()
    assert delta["changes"] == [{"code": "330100-SFZ-1", "action": "delete", "version": None, "item": None}]


def test_bad_cursor_is_a_clear_400(client):
    response = client.get("/api/v1/catalog/changes", {"cursor": "c1.not-base64!"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "catalog_cursor_invalid"


def test_openapi_names_operations_and_errors(client):
    spec = client.get("/api/v1/openapi.json").json()
    ops = {op["operationId"]: op for path in spec["paths"].values() for op in path.values()}
    for name in ("catalog_list_items", "catalog_get_item", "catalog_list_changes"):
        assert name in ops and "304" in ops[name]["responses"] and "404" in ops[name]["responses"]


def test_hostile_values_are_clear_errors_never_a_500(client, publish):
    publish("330100-HJ-1", "户籍证明开具")
    assert client.get("/api/v1/catalog/items/330100-HJ-1%00").status_code == 404
    assert client.get("/api/v1/catalog/items", {"department": "hu\x00kou"}).status_code == 422
    assert client.get("/api/v1/catalog/items", {"event": "bir\x00th"}).status_code == 422
    assert client.get("/api/v1/catalog/items", {"q": "户籍\x00证明"}).json()["items"][0]["code"] == "330100-HJ-1"
    assert client.get("/api/v1/catalog/changes", {"cursor": "c1.\x00"}).status_code == 400
    assert client.get("/items/330100-HJ-1%00/").status_code == 404
    page = client.get("/items/", {"q": "户籍\x00证明"})  # the form refuses it: the error pattern, not a 500
    assert page.status_code == 422 and "错误：" in page.content.decode()
