"""Import and export of implementation lists (实施清单) as JSON or CSV, through tablib.

Export writes one row per implementation with its published content. Import takes the same shape: every
row is parsed and checked (references, scope, every content rule) before anything is written; one bad row
and nothing is imported, and the report names each bad row and field. A good file becomes drafts — a new
implementation's first version or a new version of an existing one — for a reviewer to publish (four eyes
hold for imports too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import tablib
from django.db import transaction
from django.db.models import BooleanField, IntegerField, JSONField, PositiveIntegerField
from django.http import HttpRequest

from tongban.accounts.regions import region_exists
from tongban.accounts.roles import StaffRole
from tongban.audit.actions import Action, Outcome
from tongban.audit.services import Actor, Subject, audit_record
from tongban.catalog.models import (
    CONTENT_FIELDS,
    BasicItem,
    Implementation,
    ImplementationVersion,
    Organisation,
    VersionStatus,
)
from tongban.catalog.selectors import field_label, published_versions
from tongban.catalog.services import (
    can_act_on,
    default_content,
    implementation_create,
    version_draft_new,
    version_update,
)
from tongban.catalog.validation import CODE_RE, content_errors, has_nul
from tongban.core.errors import TongbanError

KEY_COLUMNS = ("code", "basic_code", "organisation", "region_code")
COLUMNS = (*KEY_COLUMNS, *CONTENT_FIELDS)
MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024
_TRUE = {"true", "1", "是", "yes", "y"}
_FALSE = {"false", "0", "否", "no", "n", ""}


@dataclass(frozen=True)
class RowProblem:
    row: int  # 1-based data row (the CSV header is not counted)
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "label": _label(self.field), "message": self.message}


def _label(name: str) -> str:
    labels = {"code": "实施编码", "basic_code": "基本目录编码", "organisation": "实施主体", "region_code": "实施区划代码",
              "file": "文件"}
    if name in labels:
        return labels[name]
    try:
        return field_label(name)
    except Exception:
        return name


class ImportRejected(TongbanError):
    def __init__(self, problems: list[RowProblem]) -> None:
        self.problems = problems
        super().__init__("catalog_import_invalid", details=[p.as_dict() for p in problems[:200]])


# -- export

def _cell(value: Any, fmt: str) -> Any:
    if fmt == "json":
        return value
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else value


def implementations_export(*, fmt: str, actor: Actor, queryset: Any = None, request: HttpRequest | None = None,
                           watermark: str = "") -> bytes:
    """The published content of each implementation (of `queryset`, else all) as JSON or CSV bytes.
    `watermark` (the exporter's identity, tongban.risk.services.watermark) goes into the JSON document."""
    versions = published_versions()
    if queryset is not None:
        versions = versions.filter(implementation__in=queryset)
    if fmt == "json":
        rows = [{**_keys(v), **{f: getattr(v, f) for f in CONTENT_FIELDS}} for v in versions]
        document: dict[str, Any] = {"implementations": rows}
        if watermark:
            document["watermark"] = watermark
        payload = json.dumps(document, ensure_ascii=False, indent=1).encode("utf-8")
    else:
        data = tablib.Dataset(headers=list(COLUMNS))
        for v in versions:
            keys = _keys(v)
            data.append([keys[k] for k in KEY_COLUMNS] + [_cell(getattr(v, f), "csv") for f in CONTENT_FIELDS])
        # A byte-order mark so spreadsheet programs read the Chinese text as UTF-8.
        payload = ("\ufeff" + data.export("csv")).encode("utf-8")
    audit_record(action=Action.CATALOG_EXPORT, actor=actor, request=request, subject=Subject("catalog", "export"),
                 details={"format": fmt, "rows": versions.count()})
    return payload


def _keys(v: ImplementationVersion) -> dict[str, str]:
    impl = v.implementation
    return {"code": impl.code, "basic_code": impl.basic_item.code, "organisation": impl.organisation.code,
            "region_code": impl.region_code}


# -- import

def _parse_rows(raw: bytes, fmt: str) -> list[dict[str, Any]]:
    if len(raw) > MAX_BYTES:
        raise ImportRejected([RowProblem(0, "file", f"文件超过 {MAX_BYTES // 1024 // 1024} MB。")])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRejected([RowProblem(0, "file", "文件不是 UTF-8 编码。")]) from exc
    if fmt == "json":
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise ImportRejected([RowProblem(0, "file", f"不是有效的 JSON：{exc.args[0] if exc.args else exc}")]) from exc
        rows = doc.get("implementations") if isinstance(doc, dict) else doc
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise ImportRejected([RowProblem(0, "file", "JSON 应为 {\"implementations\": [对象, …]}。")])
        return rows
    try:
        data = tablib.Dataset().load(text, format="csv")
    except Exception as exc:
        raise ImportRejected([RowProblem(0, "file", "无法读取 CSV 文件。")]) from exc
    headers = [str(h or "").strip() for h in (data.headers or [])]
    unknown = [h for h in headers if h not in COLUMNS]
    if "code" not in headers or unknown:
        raise ImportRejected([RowProblem(0, "file", "CSV 表头须包含 code 列" + (f"；未知的列：{'、'.join(unknown)}" if unknown else "")
                                         + "。可先导出一份作为模板。")])
    return [{h: cell for h, cell in zip(headers, row, strict=False)} for row in data]


def _coerce(name: str, value: Any, row: int, problems: list[RowProblem]) -> Any:
    """A CSV cell (text) to the field's type; JSON values are taken as they are and checked by the rules."""
    if not isinstance(value, str):
        return value
    field = ImplementationVersion._meta.get_field(name)
    text = value.strip()
    if isinstance(field, BooleanField):
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        problems.append(RowProblem(row, name, f"应为“是”或“否”，而不是“{text}”。"))
        return None
    if isinstance(field, PositiveIntegerField | IntegerField) or name in ("online_depth", "assurance_level", "visits"):
        if text == "" and field.null:
            return None
        try:
            return int(text)
        except ValueError:
            problems.append(RowProblem(row, name, f"应为整数，而不是“{text}”。"))
            return None
    if isinstance(field, JSONField):
        if text == "":
            return field.get_default()
        try:
            return json.loads(text)
        except ValueError:
            problems.append(RowProblem(row, name, "不是有效的 JSON 文本。"))
            return None
    return value


@dataclass
class _Planned:
    row: int
    code: str
    implementation: Implementation | None
    basic: BasicItem | None
    organisation: Organisation | None
    region_code: str
    content: dict[str, Any]


def _plan(actor: Any, rows: list[dict[str, Any]]) -> list[_Planned]:
    problems: list[RowProblem] = []
    if not rows:
        raise ImportRejected([RowProblem(0, "file", "文件中没有任何实施清单。")])
    if len(rows) > MAX_ROWS:
        raise ImportRejected([RowProblem(0, "file", f"一次最多导入 {MAX_ROWS} 行。")])
    seen: set[str] = set()
    planned: list[_Planned] = []
    for n, raw in enumerate(rows, start=1):
        unknown = sorted(set(raw) - set(COLUMNS))
        for key in unknown:
            problems.append(RowProblem(n, key, "未知字段。"))
        bad_keys = [key for key in ("code", "basic_code", "organisation", "region_code") if has_nul(raw.get(key))]
        for key in bad_keys:
            problems.append(RowProblem(n, key, "含有不允许的空字符（NUL）。"))
        code = str(raw.get("code") or "").strip()
        if not code:
            problems.append(RowProblem(n, "code", "实施编码为必填项。"))
            continue
        if bad_keys or not CODE_RE.match(code):
            if not bad_keys:
                problems.append(RowProblem(n, "code", "实施编码只能由字母、数字和连字符组成，最长 48 位。"))
            continue
        if code in seen:
            problems.append(RowProblem(n, "code", f"实施编码 {code} 在文件中重复。"))
        seen.add(code)
        impl = Implementation.objects.select_related("basic_item", "organisation").filter(code=code).first()
        basic = org = None
        region = ""
        if impl is None:
            basic = BasicItem.objects.filter(code=str(raw.get("basic_code") or "").strip()).first()
            org = Organisation.objects.filter(code=str(raw.get("organisation") or "").strip()).first()
            region = str(raw.get("region_code") or "").strip()
            if basic is None:
                problems.append(RowProblem(n, "basic_code", "新实施清单须填写存在的基本目录编码。"))
            if org is None:
                problems.append(RowProblem(n, "organisation", "新实施清单须填写存在的实施主体机构代码。"))
            elif basic is not None and org.department != basic.department:
                problems.append(RowProblem(n, "organisation", "实施主体的部门警种与基本目录不一致。"))
            if not region_exists(region):
                problems.append(RowProblem(n, "region_code", "行政区划代码不存在。"))
            probe = Implementation(region_code=region, department=basic.department if basic else "")
            if basic is not None and region and not can_act_on(actor, probe, StaffRole.CATALOG_EDITOR):
                problems.append(RowProblem(n, "code", "不在您的部门警种和辖区范围内。"))
            base = default_content()
        else:
            if not can_act_on(actor, impl, StaffRole.CATALOG_EDITOR):
                # Not allowed looks like not found.
                problems.append(RowProblem(n, "code", f"实施编码 {code} 不存在或不在您的管辖范围内。"))
                continue
            for key in ("basic_code", "organisation", "region_code"):
                expected = {"basic_code": impl.basic_item.code, "organisation": impl.organisation.code,
                            "region_code": impl.region_code}[key]
                if str(raw.get(key) or expected).strip() != expected:
                    problems.append(RowProblem(n, key, f"已有实施清单的{_label(key)}不能通过导入修改（现为 {expected}）。"))
            latest = impl.versions.order_by("-number").first()
            if impl.versions.filter(status=VersionStatus.SUBMITTED).exists():
                problems.append(RowProblem(n, "code", "该事项有待审核的版本，请审核完成后再导入。"))
            base = latest.content() if latest is not None else default_content()
        content = dict(base)
        for name in CONTENT_FIELDS:
            if name in raw:
                content[name] = _coerce(name, raw[name], n, problems)
        for fname, messages in content_errors(content).items():
            for message in messages:
                problems.append(RowProblem(n, fname, message))
        planned.append(_Planned(n, code, impl, basic, org, region, content))
    if problems:
        raise ImportRejected(problems)
    return planned


@dataclass(frozen=True)
class ImportResult:
    created: int
    drafted: int
    unchanged: int


def implementations_import(*, actor: Any, raw: bytes, fmt: str, request: HttpRequest | None = None) -> ImportResult:
    """Import a JSON or CSV implementation list as drafts. All or nothing: raises ImportRejected with every problem."""
    if fmt not in ("json", "csv"):
        raise ImportRejected([RowProblem(0, "file", "只支持 JSON 或 CSV 文件。")])
    try:
        with transaction.atomic():
            rows = _parse_rows(raw, fmt)
            planned = _plan(actor, rows)
            created = drafted = unchanged = 0
            for p in planned:
                if p.implementation is None:
                    assert p.basic is not None and p.organisation is not None
                    implementation_create(actor=actor, code=p.code, basic_item=p.basic, organisation=p.organisation,
                                          region_code=p.region_code, content=p.content, request=request)
                    created += 1
                    continue
                latest = p.implementation.versions.order_by("-number").first()
                if latest is not None and latest.content() == p.content:
                    unchanged += 1
                    continue
                draft = (latest if latest is not None and latest.status == VersionStatus.DRAFT
                         else version_draft_new(actor=actor, implementation=p.implementation, request=request))
                version_update(actor=actor, version=draft, changes=p.content, request=request)
                drafted += 1
            audit_record(action=Action.CATALOG_IMPORT, actor=Actor.user(actor) if actor else Actor.system("catalog"),
                         request=request, subject=Subject("catalog", "import"),
                         details={"format": fmt, "rows": len(planned), "created": created, "drafted": drafted})
            return ImportResult(created, drafted, unchanged)
    except ImportRejected as exc:
        audit_record(action=Action.CATALOG_IMPORT_REJECTED, actor=Actor.user(actor) if actor else Actor.system("catalog"),
                     request=request, subject=Subject("catalog", "import"),
                     details={"format": fmt, "problems": len(exc.problems)}, outcome=Outcome.FAILURE)
        raise
