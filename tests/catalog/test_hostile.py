"""The catalog's staff pages answer hostile input with a 4xx or their normal page, never a 500."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.accounts.factories import login_verified
from tests.catalog.factories import editor, reviewer
from tongban.catalog.loading import catalog_load

pytestmark = pytest.mark.django_db

JUNK = {"q": "' OR 1=1 --" * 20, "page": "99999999999999999999999", "note": "<script>" * 200,
        "name": "\x00\ud7ff", "statutory_limit_days": "-1e309", "materials": "[{", "online_depth": "9",
        "life_events": "wedding", "file": "not a file"}
CODE = "330106-GAHZ010"
PATHS = [
    "/backoffice/catalog/", "/backoffice/catalog/import/", "/backoffice/catalog/export.json",
    "/backoffice/catalog/export.xlsx", f"/backoffice/catalog/items/{CODE}/", f"/backoffice/catalog/items/{CODE}/new/",
    f"/backoffice/catalog/items/{CODE}/v1/", f"/backoffice/catalog/items/{CODE}/v1/edit/",
    f"/backoffice/catalog/items/{CODE}/v2/edit/", f"/backoffice/catalog/items/{CODE}/v99999999999999999999999/",
    f"/backoffice/catalog/items/{CODE}/v1/publish/", f"/backoffice/catalog/items/{CODE}/v1/retire/",
    f"/backoffice/catalog/items/{CODE}/v1/reject/", f"/backoffice/catalog/items/{CODE}/v2/submit/",
    f"/backoffice/catalog/items/{CODE}/v1/explode/", "/backoffice/catalog/items/%00%27/",
    "/backoffice/catalog/items/" + "x" * 2000 + "/v1/",
]


@pytest.mark.parametrize("make", [editor, reviewer])
def test_hostile_requests_never_500(make):
    catalog_load()
    client = Client(raise_request_exception=False)
    login_verified(client, make())
    failures = []
    for path in PATHS:
        for label, call in (("GET", lambda p=path: client.get(p, JUNK)),
                            ("POST form", lambda p=path: client.post(p, JUNK)),
                            ("POST json", lambda p=path: client.post(p, json.dumps(JUNK), content_type="application/json"))):
            status = call().status_code
            if status >= 500:
                failures.append(f"{label} {path} -> {status}")
    assert failures == []
