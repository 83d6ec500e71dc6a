"""The catalog's staff pages in the browser: every state passes axe-core at phone and desktop widths, and an
editor's change reaches the reviewer's diff (tests/e2e/a11y.py; docs/catalog.md)."""

from __future__ import annotations

import pytest

from tests.e2e.a11y import Visit, accessibility_problems, failed, walk

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

CODE = "330106-GAHZ010"  # 户籍证明, 杭州市西湖区

EDITOR_PAGES: list[Visit] = [
    Visit("/backoffice/"),
    Visit("/backoffice/catalog/"),
    Visit("/backoffice/catalog/?q=户籍"),
    Visit(f"/backoffice/catalog/items/{CODE}/"),
    Visit(f"/backoffice/catalog/items/{CODE}/v1/"),
    Visit(f"/backoffice/catalog/items/{CODE}/v2/edit/"),
    failed(f"/backoffice/catalog/items/{CODE}/v2/edit/", ("#id_statutory_limit_days", "1"),
           ("#id_promised_limit_days", "3"), ("#id_visits", "2")),
    Visit("/backoffice/catalog/import/"),
    failed("/backoffice/catalog/import/"),
]

REVIEWER_PAGES: list[Visit] = [
    Visit("/backoffice/catalog/"),
    Visit(f"/backoffice/catalog/items/{CODE}/v2/"),
]


def _sign_in(page, base: str, user) -> None:
    from tests.accounts.factories import PASSWORD, device_of, totp_code

    page.goto(base + "/backoffice/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.fill("#id_token", totp_code(device_of(user)))
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url == base + "/backoffice/", page.url


def test_catalog_staff_pages(page, live_server):
    from tests.catalog.factories import editor, reviewer
    from tongban.catalog.loading import catalog_load
    from tongban.catalog.models import Implementation
    from tongban.catalog.services import version_draft_new

    catalog_load()
    ed, rv = editor(), reviewer()
    version_draft_new(actor=ed, implementation=Implementation.objects.get(code=CODE))
    base = live_server.url
    _sign_in(page, base, ed)
    problems = walk(page, base, EDITOR_PAGES)

    # The editor changes the enquiry phone and submits; the reviewer sees it in the diff.
    page.goto(base + f"/backoffice/catalog/items/{CODE}/v2/edit/")
    page.fill("#id_enquiry_phone", "0571-87280000")
    with page.expect_navigation():
        page.click("main form[novalidate] button[type=submit]")
    problems += accessibility_problems(page)  # the version page with its message
    with page.expect_navigation():
        page.click("text=提交审核")
    with page.expect_navigation():
        page.click("text=退出")

    _sign_in(page, base, rv)
    problems += walk(page, base, REVIEWER_PAGES)
    assert "0571-87280000" in page.locator('tr[data-field="enquiry_phone"]').inner_text()
    with page.expect_navigation():
        page.click("text=审核通过并发布")
    problems += accessibility_problems(page)
    assert "已发布" in page.locator("main").inner_text()
    assert not problems, f"{len(problems)} accessibility problems:\n" + "\n".join(problems)
