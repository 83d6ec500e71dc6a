"""docs/catalog-api.md's examples, executed: each `http` block is sent as written and answers the status it
shows with the names it shows; the Python sync loop is run as it stands."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest

pytestmark = pytest.mark.django_db

DOC = Path(__file__).resolve().parents[2] / "docs" / "catalog-api.md"
_BLOCK = re.compile(r"```(http|python)\n(.*?)```", re.S)


def _blocks(kind: str) -> list[str]:
    return [body for lang, body in _BLOCK.findall(DOC.read_text(encoding="utf-8")) if lang == kind]


@pytest.fixture
def shipped_catalog(db):
    from tongban.catalog.loading import catalog_load

    catalog_load()


def test_every_http_example_answers_as_shown(client, shipped_catalog):
    blocks = _blocks("http")
    assert len(blocks) >= 8
    remembered: dict[str, str] = {}
    for block in blocks:
        request, _, expected = block.partition("\n\n")
        lines = request.strip().splitlines()
        method, target = lines[0].split(" ", 1)
        target = target.format(**{k: quote(v, safe="") for k, v in remembered.items()})
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(": ")
            headers["HTTP_" + name.upper().replace("-", "_")] = value.format(**remembered)
        assert method == "GET"
        response = client.get(target, **headers)
        status = int(expected.split()[1])
        assert response.status_code == status, (block, response.content[:300])
        if response.get("ETag"):
            remembered["etag"] = response["ETag"]
        text = response.content.decode()
        json_part = expected[expected.find("{"):] if "{" in expected else ""
        for name in re.findall(r'"([^"…]+)"', json_part):
            assert f'"{name}"' in text, (block, name)
        if status == 200 and "next_cursor" in text:
            remembered["next_cursor"] = response.json()["next_cursor"]


def test_the_sync_loop_syncs_only_what_changed(client, shipped_catalog):
    from tests.catalog.factories import editor, reviewer
    from tongban.accounts.models import User
    from tongban.catalog.models import Implementation
    from tongban.catalog.services import version_draft_new, version_publish, version_submit, version_update
    from tongban.search.models import SearchDocument

    namespace: dict = {}
    exec(compile(_blocks("python")[0], str(DOC), "exec"), namespace)  # noqa: S102  (our own document)
    calls: list[int] = []

    def get(path: str) -> dict:
        response = client.get(path)
        assert response.status_code == 200, response.content
        calls.append(len(response.json()["changes"]))
        return response.json()

    store: dict = {}
    cursor = namespace["sync_catalog"](get, store)
    assert len(store) == SearchDocument.objects.count() >= 120 and len(calls) >= 1
    assert store["330106-GAHZ007"]["name"] == "居民身份证换领"

    implementation = Implementation.objects.get(code="330106-GAHZ007")
    ed = editor("docs-ed", department="hukou", region_code="330000")
    rv = reviewer("docs-rv", department="hukou", region_code="330000")
    draft = version_draft_new(actor=ed, implementation=implementation)
    version_update(actor=ed, version=draft, changes={"summary": "有效期满前三个月内可申请换领。"})
    version_submit(actor=ed, version=draft)
    version_publish(actor=rv, version=draft)
    calls.clear()
    cursor = namespace["sync_catalog"](get, store, cursor)
    assert calls == [1]  # one page, one change
    assert store["330106-GAHZ007"]["summary"] == "有效期满前三个月内可申请换领。"
    assert store["330106-GAHZ007"]["version"] == 2
    calls.clear()
    assert namespace["sync_catalog"](get, store, cursor) == cursor and calls == [0]
    assert User.objects.filter(username="docs-rv").exists()
