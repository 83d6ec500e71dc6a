"""The API's documentation page (/api/v1/docs) renders Swagger UI in a browser under the site's own CSP:
its assets come from this site (django-ninja's static files), not from a CDN — no network at run time."""

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_api_docs_render_the_operations_from_local_assets(page, live_server):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    response = page.goto(live_server.url + "/api/v1/docs")
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # Swagger UI built the page from the OpenAPI document: the API's title and its operations are shown.
    page.wait_for_selector(".opblock", timeout=15000)
    assert "tongban API" in page.locator(".information-container .title").inner_text()
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert paths and any(path.startswith("/api/v1/") for path in paths), paths
    origin = urlsplit(live_server.url).netloc
    outside = [url for url in requested if urlsplit(url).netloc not in (origin, "")
               and not url.startswith(("data:", "blob:"))]
    assert outside == [], outside
    assert violations == [], violations
