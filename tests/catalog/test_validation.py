"""The content rules, each with its field and a clear Chinese message."""

from __future__ import annotations

import pytest

from tests.catalog.factories import valid_content
from tongban.catalog.chinese import to_traditional
from tongban.catalog.services import default_content
from tongban.catalog.validation import content_errors, form_definition_errors


def errors(**overrides):
    return content_errors(default_content(**valid_content(**overrides)))


def test_valid_content_has_no_errors():
    assert errors() == {}


@pytest.mark.parametrize(("overrides", "field", "fragment"), [
    ({"promised_limit_days": 6}, "promised_limit_days", "不得超过法定办结时限"),
    ({"immediate": True, "case_type": "promised", "promised_limit_days": 0}, "case_type", "即办件"),
    ({"immediate": False, "case_type": "immediate"}, "immediate", "勾选“即办”"),
    ({"online_depth": 4, "visits": 1, "visits_reason": "采集人像"}, "visits", "全程网办"),
    ({"online_depth": 3, "visits": 1}, "visits_reason", "原因"),
    ({"charged": True}, "fee_basis", "收费依据"),
    ({"charged": True, "fee_basis": "发改价格〔2003〕2322号"}, "fee_standard_fen", "收费标准"),
    ({"charged": False, "online_payment": True}, "online_payment", "不收费"),
    ({"result_sample": ""}, "result_sample", "样本"),
    ({"audience_hk_macao": True}, "name_tc", "繁体"),
    ({"audience_hk_macao": True, "name_tc": "户籍证明开具"}, "name_tc", "繁体"),
    ({"materials": [{"name": "照片", "platform_fetched": True}]}, "materials", "免提交"),
    ({"workflow": "one_review"}, "application_form", "申请表单"),
    ({"workflow": "teleport", "application_form": {"fields": [{"name": "a", "type": "text", "label": "甲"}]}},
     "workflow", "办理流程配置"),
    ({"life_events": ["wedding"]}, "life_events", "人生事件"),
    ({"audience_mainland": False}, "audience_mainland", "服务对象"),
    ({"enterprise_applicable": True}, "enterprise_applicable", "企业"),
    ({"no_such_field": 1}, "no_such_field", "未知字段"),
])
def test_each_rule_names_its_field(overrides, field, fragment):
    found = errors(**overrides)
    assert field in found, found
    assert any(fragment in message for message in found[field]), found[field]


def test_traditional_text_for_hong_kong_and_macao_residents_is_checked_with_opencc():
    name = "户籍证明开具"
    assert to_traditional(name) == "户籍證明開具"  # Hong Kong usage (OpenCC s2hk)
    assert errors(audience_hk_macao=True, name_tc="戶籍證明開具") == {}  # Taiwan-style is accepted too
    assert errors(audience_hk_macao=True, name_tc=to_traditional(name)) == {}
    # Traditional characters that say something else are refused too.
    assert "name_tc" in errors(audience_hk_macao=True, name_tc="戶籍證明註銷")
    assert "summary_tc" in errors(audience_hk_macao=True, name_tc=to_traditional(name), summary="说明")


def test_charged_item_complete():
    assert errors(charged=True, fee_basis="《居民身份证法》第二十条", fee_standard_fen=2000, online_payment=True,
                  fee_items=[{"name": "工本费", "fen": 2000}]) == {}


def test_form_definitions():
    assert form_definition_errors({}) == []
    assert form_definition_errors({"fields": [
        {"name": "reason", "type": "choice", "label": "原因", "choices": [["lost", "遗失"]]},
        {"name": "note", "type": "textarea", "label": "说明", "show_if": {"field": "reason", "equals": "lost"}},
    ]}) == []
    problems = form_definition_errors({"fields": [
        {"name": "Reason", "type": "choice", "label": ""},
        {"name": "x", "type": "video", "label": "X", "show_if": {"field": "nope", "equals": 1}},
    ]})
    assert len(problems) >= 4
