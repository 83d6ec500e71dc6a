"""The rules an implementation version's content obeys, with one clear Chinese message per field.

`content_errors(content)` returns {field: [message, …]} (empty when the content is valid). The same rules
run in the back-office form, in the import, in the data-file loader and before a submission or publication.
"""

from __future__ import annotations

import re
from typing import Any

from tongban.catalog.chinese import is_traditional_of
from tongban.catalog.models import (
    CONTENT_FIELDS,
    AssuranceLevel,
    CaseType,
    ExerciseLevel,
    ItemType,
    LifeEvent,
    MaterialSource,
    OnlineDepth,
)

WORKFLOWS = ("immediate", "one_review", "two_review", "criminal_record", "two_way_post")
FORM_FIELD_TYPES = ("choice", "text", "textarea", "date", "phone", "address", "number", "checkbox")
_FORM_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PHONE = re.compile(r"^[0-9\-、，, ()（）转]{3,80}$")
MAX_LIMIT_DAYS = 365

Errors = dict[str, list[str]]

# An implementation's or basic item's code: letters, digits and dashes (no space, no control character).
CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z\-]{0,47}$")


def has_nul(value: Any) -> bool:
    """True when a string anywhere inside `value` holds a NUL character (PostgreSQL text refuses it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(has_nul(v) for v in value)
    return False


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _check_types(c: dict[str, Any], errors: Errors) -> None:
    for field in ("name", "item_type", "exercise_level"):
        if not str(c.get(field) or "").strip():
            _add(errors, field, "此项为必填项。")
    if c.get("item_type") and c["item_type"] not in ItemType.values:
        _add(errors, "item_type", "事项类型不在国家标准的类型之中。")
    if c.get("exercise_level") and c["exercise_level"] not in ExerciseLevel.values:
        _add(errors, "exercise_level", "行使层级应为国家级、省级、市级或县级。")
    if c.get("case_type") not in CaseType.values:
        _add(errors, "case_type", "办件类型应为即办件或承诺件。")
    if c.get("online_depth") not in OnlineDepth.values:
        _add(errors, "online_depth", "网上办理深度应为一级至四级。")
    if c.get("assurance_level") not in AssuranceLevel.values:
        _add(errors, "assurance_level", "认证等级应为 L1、L2 或 L3。")
    for field in ("statutory_limit_days", "promised_limit_days", "visits"):
        value = _int(c.get(field))
        if value is None or value < 0:
            _add(errors, field, "应为不小于 0 的整数。")
        elif field != "visits" and value > MAX_LIMIT_DAYS:
            _add(errors, field, f"办结时限不应超过 {MAX_LIMIT_DAYS} 个工作日。")
    fee = c.get("fee_standard_fen")
    if fee is not None and (_int(fee) is None or fee < 0):
        _add(errors, "fee_standard_fen", "收费标准应为以分计的非负整数。")
    for field in ("enquiry_phone", "supervision_phone"):
        phone = str(c.get(field) or "")
        if phone and not _PHONE.match(phone):
            _add(errors, field, "电话号码只能包含数字、连字符和分隔符。")
    for field in ("life_events",):
        for code in c.get(field) or []:
            if code not in LifeEvent.values:
                _add(errors, field, f"未知的人生事件“{code}”。")
    keywords = c.get("keywords")
    if not isinstance(keywords, list) or not all(isinstance(k, str) and k.strip() for k in keywords):
        _add(errors, "keywords", "关键词应为非空文字的列表。")


def _check_time_limits(c: dict[str, Any], errors: Errors) -> None:
    statutory, promised = _int(c.get("statutory_limit_days")), _int(c.get("promised_limit_days"))
    if statutory is not None and promised is not None and promised > statutory:
        _add(errors, "promised_limit_days", f"承诺办结时限（{promised} 个工作日）不得超过法定办结时限（{statutory} 个工作日）。")
    if c.get("immediate"):
        if c.get("case_type") != CaseType.IMMEDIATE:
            _add(errors, "case_type", "即办事项的办件类型应为“即办件”。")
        if promised is not None and promised != 0:
            _add(errors, "promised_limit_days", "即办事项的承诺办结时限应为 0（当场办结）。")
    elif c.get("case_type") == CaseType.IMMEDIATE:
        _add(errors, "immediate", "办件类型为“即办件”时应勾选“即办”。")
    elif promised == 0:
        _add(errors, "promised_limit_days", "承诺件须填写承诺办结时限（至少 1 个工作日）；当场办结的请勾选“即办”。")


def _check_visits(c: dict[str, Any], errors: Errors) -> None:
    visits = _int(c.get("visits"))
    if c.get("online_depth") == OnlineDepth.FULL_ONLINE and visits is not None and visits != 0:
        _add(errors, "visits", "全程网办事项的到办事现场次数应为 0。")
    if visits is not None and visits > 0 and not str(c.get("visits_reason") or "").strip():
        _add(errors, "visits_reason", "须到现场办理的，应说明必须现场办理的原因（如采集人像、指纹）。")
    if visits == 0 and str(c.get("visits_reason") or "").strip():
        _add(errors, "visits_reason", "无须到现场的事项不应填写现场办理原因。")


def _check_fees(c: dict[str, Any], errors: Errors) -> None:
    items = c.get("fee_items")
    if not isinstance(items, list):
        _add(errors, "fee_items", "收费项目应为列表。")
        items = []
    if c.get("charged"):
        if not str(c.get("fee_basis") or "").strip():
            _add(errors, "fee_basis", "收费事项须写明收费依据（文件名称和文号）。")
        by_notice = bool(items) and all(isinstance(i, dict) and i.get("by_notice") for i in items)
        if c.get("fee_standard_fen") is None and not by_notice:
            _add(errors, "fee_standard_fen", "收费事项须填写收费标准（以分计）；金额由缴款通知书或处罚决定书确定的，"
                                             "在收费项目中注明“按通知书金额”。")
        if not isinstance(c.get("online_payment"), bool):
            _add(errors, "online_payment", "收费事项须说明是否支持网上支付。")
        for i, item in enumerate(items, start=1):
            fen = _int(item.get("fen")) if isinstance(item, dict) else None
            if isinstance(item, dict) and item.get("by_notice") and item.get("fen") is None:
                fen = 0  # the amount is the one on the notice or decision
            if not isinstance(item, dict) or not str(item.get("name") or "").strip() or fen is None or fen < 0:
                _add(errors, "fee_items", f"第 {i} 个收费项目须有名称和以分计的金额。")
    else:
        if c.get("online_payment"):
            _add(errors, "online_payment", "不收费的事项不能支持网上支付。")
        if c.get("fee_standard_fen"):
            _add(errors, "fee_standard_fen", "不收费的事项不应填写收费标准。")
        if items:
            _add(errors, "fee_items", "不收费的事项不应列出收费项目。")


def _check_materials(c: dict[str, Any], errors: Errors) -> None:
    materials = c.get("materials")
    if not isinstance(materials, list):
        _add(errors, "materials", "申请材料应为列表。")
        return
    for i, m in enumerate(materials, start=1):
        if not isinstance(m, dict) or not str(m.get("name") or "").strip():
            _add(errors, "materials", f"第 {i} 项材料须有名称。")
            continue
        if m.get("source", MaterialSource.APPLICANT) not in MaterialSource.values:
            _add(errors, "materials", f"第 {i} 项材料“{m['name']}”的来源渠道不正确。")
        if m.get("platform_fetched") and not str(m.get("fetched_from") or "").strip():
            _add(errors, "materials", f"第 {i} 项材料“{m['name']}”标为免提交，须写明由平台从哪个数据源获取。")
        if not isinstance(m.get("required", True), bool):
            _add(errors, "materials", f"第 {i} 项材料“{m['name']}”的“是否必需”应为是或否。")


def _check_result(c: dict[str, Any], errors: Errors) -> None:
    if str(c.get("result_name") or "").strip() and not str(c.get("result_sample") or "").strip():
        _add(errors, "result_sample", "填写了办理结果名称的，须提供结果样本。")


def _check_guide(c: dict[str, Any], errors: Errors) -> None:
    for field, label in (("conditions", "受理条件"), ("process_steps", "办理流程"), ("locations", "办理地点")):
        value = c.get(field)
        if not isinstance(value, list):
            _add(errors, field, f"{label}应为列表。")
    for i, step in enumerate(c.get("process_steps") or [], start=1):
        if not isinstance(step, dict) or not str(step.get("name") or "").strip():
            _add(errors, "process_steps", f"第 {i} 个办理环节须有名称。")
    for i, loc in enumerate(c.get("locations") or [], start=1):
        if not isinstance(loc, dict) or not str(loc.get("name") or "").strip() or not str(loc.get("hours") or "").strip():
            _add(errors, "locations", f"第 {i} 个办理地点须有名称和办公时间。")


def _check_audiences(c: dict[str, Any], errors: Errors) -> None:
    if not (c.get("audience_mainland") or c.get("audience_hk_macao") or c.get("audience_enterprise")):
        _add(errors, "audience_mainland", "至少选择一类服务对象（内地居民、港澳居民或企业）。")
    if c.get("audience_hk_macao"):
        if not is_traditional_of(str(c.get("name_tc") or ""), str(c.get("name") or "")):
            _add(errors, "name_tc", "面向港澳居民的事项须提供与事项名称一致的繁体中文名称。")
        if str(c.get("summary") or "").strip() and not is_traditional_of(str(c.get("summary_tc") or ""),
                                                                         str(c.get("summary") or "")):
            _add(errors, "summary_tc", "面向港澳居民的事项须提供与简介一致的繁体中文简介。")
    if c.get("enterprise_applicable") and not c.get("audience_enterprise"):
        _add(errors, "enterprise_applicable", "企业可申请的事项，服务对象须包含企业。")


def form_definition_errors(form: Any) -> list[str]:
    """Problems of an application form definition ({"fields": [...]}); empty when it is usable."""
    if form in (None, {}):
        return []
    if not isinstance(form, dict) or not isinstance(form.get("fields"), list) or not form["fields"]:
        return ["申请表单应为 {\"fields\": [...]}，且至少有一个字段。"]
    problems: list[str] = []
    names: set[str] = set()
    for i, f in enumerate(form["fields"], start=1):
        if not isinstance(f, dict):
            problems.append(f"第 {i} 个表单字段格式不正确。")
            continue
        name = f.get("name")
        if not isinstance(name, str) or not _FORM_NAME.match(name):
            problems.append(f"第 {i} 个表单字段的 name 应为小写英文字母开头的标识符。")
        elif name in names:
            problems.append(f"表单字段 {name} 重复。")
        else:
            names.add(name)
        if f.get("type") not in FORM_FIELD_TYPES:
            problems.append(f"表单字段 {name} 的类型应为 {'、'.join(FORM_FIELD_TYPES)} 之一。")
        if not str(f.get("label") or "").strip():
            problems.append(f"表单字段 {name} 须有中文标签。")
        if f.get("type") == "choice":
            choices = f.get("choices")
            if not isinstance(choices, list) or not choices or not all(
                    isinstance(ch, list | tuple) and len(ch) == 2 for ch in choices):
                problems.append(f"选择字段 {name} 须列出选项 [[值, 标签], …]。")
    for f in form["fields"]:
        if isinstance(f, dict) and isinstance(f.get("show_if"), dict):
            target = f["show_if"].get("field")
            if target not in names:
                problems.append(f"表单字段 {f.get('name')} 的显示条件引用了不存在的字段 {target}。")
    return problems


def _check_application(c: dict[str, Any], errors: Errors) -> None:
    workflow, form = c.get("workflow") or "", c.get("application_form") or {}
    if workflow and workflow not in WORKFLOWS:
        _add(errors, "workflow", f"办理流程配置应为 {'、'.join(WORKFLOWS)} 之一。")
    for problem in form_definition_errors(form):
        _add(errors, "application_form", problem)
    if workflow and not form:
        _add(errors, "application_form", "配置了办理流程的事项须有申请表单。")
    if form and not workflow:
        _add(errors, "workflow", "有申请表单的事项须配置办理流程。")
    if workflow and (_int(c.get("online_depth")) or 0) < OnlineDepth.PRE_REVIEW:
        _add(errors, "online_depth", "可网上申请的事项，网上办理深度至少为三级（网上预审）。")
    if workflow == "immediate" and not c.get("immediate"):
        _add(errors, "workflow", "“immediate”流程只用于即办事项。")


def content_errors(content: dict[str, Any]) -> Errors:
    """Every rule, field by field. Unknown keys are reported too (a typo in a data file is not silent)."""
    errors: Errors = {}
    unknown = sorted(set(content) - set(CONTENT_FIELDS))
    for key in unknown:
        _add(errors, key, "未知字段。")
    for key, value in content.items():
        if has_nul(value):
            _add(errors, key, "含有不允许的空字符（NUL），请删除后重试。")
    for check in (_check_types, _check_time_limits, _check_visits, _check_fees, _check_materials,
                  _check_result, _check_guide, _check_audiences, _check_application):
        check(content, errors)
    return errors
