"""Browser tests: Playwright drives Debian's chromium (never a downloaded browser) against live_server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

# Playwright's sync API runs an event loop in this thread; the ORM calls made by tests are still
# synchronous and safe here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("TONGBAN_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.fail(f"Debian's chromium is not installed at {CHROMIUM}: run `make test`, which installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def phone_page(browser: object) -> Iterator[object]:
    """A phone-sized viewport (iPhone-class width) with touch."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844},  # type: ignore[attr-defined]
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def assert_accessible():
    """`assert_accessible(page)`: fails on any axe-core violation at a phone's (375 px) and a desktop's
    (1280 px) width, and on any break of our form pattern (tests/e2e/a11y.py, docs/accessibility.md).
    Call it on every page state a test reaches: empty form, failed submit, signed in or out."""
    from tests.e2e.a11y import accessibility_problems

    def check(page: object) -> None:
        problems = accessibility_problems(page)
        assert not problems, "\n".join(problems)

    return check
