"""Published catalog items for the search and page tests, made through the catalog's own services (so the
search index is written the way publication writes it)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.catalog.factories import editor, make_basic, make_org, reviewer, valid_content


@pytest.fixture
def publish(db):
    from tongban.catalog.services import implementation_create, version_publish, version_submit

    people: dict[str, Any] = {}

    def _publish(code: str, name: str, *, department: str = "hukou", region: str = "330100",
                 **overrides: Any):
        if department not in people:
            people[department] = (editor(f"ed-{department}", department=department, region_code="330000"),
                                  reviewer(f"rv-{department}", department=department, region_code="330000"))
        ed, rv = people[department]
        basic = make_basic(code=f"B-{code}", department=department, name=name)
        org = make_org(code=f"{region}-{department}", department=department, region_code=region)
        draft = implementation_create(actor=ed, code=code, basic_item=basic, organisation=org, region_code=region,
                                      content=valid_content(name=name, **overrides))
        version_submit(actor=ed, version=draft)
        return version_publish(actor=rv, version=draft, note="同意")

    return _publish
