"""Catalog rows for the tests: an organisation, a basic item, valid content, editors and reviewers."""

from __future__ import annotations

from typing import Any

from tests.accounts.factories import make_staff
from tongban.accounts.models import User
from tongban.accounts.roles import StaffRole
from tongban.catalog.models import BasicItem, ImplementationVersion, Organisation

REGION = "330100"


def make_org(code: str = "330100-hukou", department: str = "hukou", region_code: str = REGION) -> Organisation:
    return Organisation.objects.get_or_create(code=code, defaults={
        "name": "杭州市公安局户政部门", "level": "city", "region_code": region_code, "department": department})[0]


def make_basic(code: str = "TEST-HZ-0001", department: str = "hukou", name: str = "户籍证明") -> BasicItem:
    return BasicItem.objects.get_or_create(code=code, defaults={
        "name": name, "item_type": "public_service", "department": department})[0]


def valid_content(**overrides: Any) -> dict[str, Any]:
    content: dict[str, Any] = {
        "name": "户籍证明开具", "item_type": "public_service", "exercise_level": "county",
        "statutory_limit_days": 5, "promised_limit_days": 3, "immediate": False, "case_type": "promised",
        "visits": 0, "online_depth": 4, "charged": False,
        "materials": [{"name": "居民身份证", "required": True, "source": "government", "platform_fetched": True,
                       "fetched_from": "人口信息"}],
        "result_name": "户籍证明", "result_sample": "户籍证明（样本）",
        "conditions": ["本市户籍居民"], "process_steps": [{"name": "申请"}, {"name": "审核"}],
        "locations": [{"name": "派出所户籍窗口", "hours": "工作日 9:00-17:00"}],
        "keywords": ["开证明"],
    }
    content.update(overrides)
    return content


def editor(username: str = "editor1", department: str = "hukou", region_code: str = REGION) -> User:
    return make_staff(username, StaffRole.CATALOG_EDITOR, department=department, region_code=region_code)


def reviewer(username: str = "reviewer1", department: str = "hukou", region_code: str = REGION) -> User:
    return make_staff(username, StaffRole.CATALOG_REVIEWER, department=department, region_code=region_code)


def make_draft(actor: User | None, code: str = "330100-TEST-0001", **overrides: Any) -> ImplementationVersion:
    from tongban.catalog.services import implementation_create

    return implementation_create(actor=actor, code=code, basic_item=make_basic(), organisation=make_org(),
                                 region_code=REGION, content=valid_content(**overrides))
