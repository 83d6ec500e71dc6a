"""No dead ends from the home page: follow every internal link, anonymous and signed in, and none answers
4xx or 5xx (redirects are followed; a service not built yet has a page saying so)."""

from __future__ import annotations

import re
from collections import deque
from html import unescape
from urllib.parse import urldefrag, urlsplit

import pytest

from tests.sso.conftest import make_person

pytestmark = pytest.mark.django_db(databases="__all__")  # service pages read the reference sources (traffic)

_HREF = re.compile(r'<a\b[^>]*\bhref="([^"]+)"', re.I)
_SKIP = ("/admin/", "/api/v1/docs", "/static/")


def _crawl(client, limit: int = 1500) -> tuple[int, list[str]]:
    seen = {"/"}
    queue = deque(["/"])
    broken: list[str] = []
    while queue and len(seen) <= limit:
        path = queue.popleft()
        response = client.get(path, follow=True)
        if response.status_code >= 400:
            broken.append(f"{path} → {response.status_code}")
            continue
        if "text/html" not in response.get("Content-Type", ""):
            continue
        for href in _HREF.findall(response.content.decode()):
            target = urldefrag(unescape(href))[0]
            parts = urlsplit(target)
            if parts.scheme or parts.netloc or not target.startswith(("/", "?")):
                continue  # outside the site (tel:, mailto:, another host)
            if target.startswith("?"):
                target = urlsplit(path).path + target
            if target.startswith(_SKIP) or target in seen:
                continue
            seen.add(target)
            queue.append(target)
    return len(seen), broken


@pytest.fixture
def shipped_catalog(db):
    from tongban.catalog.loading import catalog_load

    catalog_load()


def test_anonymous_crawl(client, shipped_catalog):
    visited, broken = _crawl(client)
    assert visited > 150  # the home page reaches the guides of the shipped items
    assert not broken, broken


def test_signed_in_crawl(client, shipped_catalog):
    person = make_person("crawler", phone="13900000077", level=2)
    client.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    home = client.get("/").content.decode()
    assert 'id="my-cases"' in home and 'id="my-payments"' in home
    visited, broken = _crawl(client)
    assert visited > 150
    assert not broken, broken
