"""The case engine's citizen pages pass axe-core and the error pattern, at desktop and phone widths."""

from __future__ import annotations

import io

import pytest

from tests.e2e.a11y import CASE_PAGES, walk
from tests.e2e.test_accessibility import PHONE, _report, _sign_in
from tests.sso.conftest import make_person

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_case_pages(page, live_server):
    from tests.cases.conftest import make_item, png_bytes
    from tongban.cases.attachments import attachment_add
    from tongban.cases.catalog_bridge import withdraw_item
    from tongban.cases.services import case_save_draft, case_start, case_submit

    person = make_person("a11y-cases", phone=PHONE, level=2)
    item = make_item("A11Y01")
    try:
        draft = case_start(user=person, item_code=item.code)
        case = case_start(user=person, item_code=item.code)
        case_save_draft(user=person, case_id=case.pk, answers={"name": "张三丰", "reason": "damaged"},
                        delivery={"method": "pickup", "station": "窗口"})
        attachment_add(user=person, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes()))
        case_submit(user=person, case_id=case.pk)
        _sign_in(page, live_server.url)
        problems = walk(page, live_server.url, CASE_PAGES, {"item": item.code, "draft": draft.pk, "case": case.pk})
        assert not problems, _report(problems)
    finally:
        withdraw_item(item.code)
