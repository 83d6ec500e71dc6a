"""The catalog API for local platforms (/api/v1/catalog/…): the published items with filters, one item,
and the changes since a cursor; every answer carries an ETag and a matching If-None-Match gets 304 with no
body. docs/catalog-api.md is the guide for a local platform's engineer."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Literal

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema
from pydantic import Field

from tongban.catalog import selectors as catalog
from tongban.catalog.validation import CODE_RE
from tongban.core.errors import TongbanError
from tongban.search import selectors, sync
from tongban.search.models import SearchDocument

router = Router(tags=["catalog"])


class ErrorDetail(Schema):
    code: str = Field(description="机器可读的错误码，如 not_found、validation_error、catalog_cursor_invalid")
    message: str
    request_id: str | None = None
    details: list[dict[str, Any]] | None = None


class ErrorOut(Schema):
    error: ErrorDetail


class ListIn(Schema):
    q: str = Field("", max_length=64, description="搜索词：名称、常用说法、拼音或首字母")
    department: str = Field("", pattern=r"^[a-z_]{0,32}$", description="部门警种，如 hukou、exit_entry、traffic")
    audience: Literal["", "mainland", "hk_macao", "enterprise"] = Field("", description="服务对象")
    region: str = Field("", pattern=r"^(\d{6})?$", description="行政区划代码：该地及其上级、下级实施的事项")
    depth: int = Field(0, ge=0, le=4, description="网上办理深度至少为（4 为全程网办）")
    fee: Literal["", "free", "charged"] = Field("", description="是否收费")
    event: str = Field("", pattern=r"^[a-z_]{0,32}$", description="人生事件，如 birth、driving")
    page: int = Field(1, ge=1, le=10000)
    per_page: int = Field(50, ge=1, le=200)


class Organisation(Schema):
    code: str
    name: str


class ItemSummary(Schema):
    code: str = Field(description="实施编码")
    basic_code: str = Field(description="基本编码")
    name: str
    version: int
    department: str
    region_code: str
    organisation: str
    online_depth: int
    charged: bool
    hooked_national: bool
    high_frequency: bool
    audiences: list[str]
    published_at: dt.datetime | None


class ItemList(Schema):
    items: list[ItemSummary]
    total: int
    page: int
    per_page: int


class Item(Schema):
    """A published implementation with every national data element (the catalog's content fields)."""

    code: str
    basic_code: str
    basic_name: str
    version: int
    department: str
    region_code: str
    organisation: Organisation
    published_at: dt.datetime | None
    audiences: list[str]
    name: str
    name_tc: str
    summary: str
    summary_tc: str
    item_type: str
    exercise_level: str
    legal_basis: str
    statutory_limit_days: int
    promised_limit_days: int
    immediate: bool
    case_type: str
    visits: int
    visits_reason: str
    online_depth: int
    postal_delivery: bool
    charged: bool
    fee_basis: str
    fee_standard_fen: int | None = Field(description="收费标准，单位：分")
    fee_items: list[dict[str, Any]]
    online_payment: bool
    materials: list[dict[str, Any]]
    result_name: str
    result_sample: str
    enquiry_phone: str
    supervision_phone: str
    conditions: list[Any]
    process_steps: list[dict[str, Any]]
    locations: list[dict[str, Any]]
    audience_mainland: bool
    audience_hk_macao: bool
    audience_enterprise: bool
    hooked_national: bool
    high_frequency: bool
    life_events: list[str]
    keywords: list[str]
    assurance_level: int
    enterprise_applicable: bool


class ChangesIn(Schema):
    cursor: str = Field("", max_length=200, description="上次同步返回的 next_cursor；不带则从头全量同步")
    limit: int = Field(100, ge=1, le=500)


class ChangeOut(Schema):
    code: str
    action: Literal["upsert", "delete"]
    version: int | None
    item: Item | None


class ChangesOut(Schema):
    changes: list[ChangeOut]
    next_cursor: str | None = Field(description="下次同步时带上；没有新变更时与请求的游标相同")
    more: bool = Field(description="为 true 时请立即用 next_cursor 继续取")


_ERRORS: dict[int, Any] = {400: ErrorOut, 404: ErrorOut, 422: ErrorOut, 429: ErrorOut, 503: ErrorOut}


def _json(payload: Any) -> bytes:
    return json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False, separators=(",", ":")).encode()


def _conditional(request: HttpRequest, body: bytes, etag: str | None = None) -> HttpResponse:
    """The answer with its ETag (a digest of the body: any change of content changes it), or 304."""
    tag = etag or '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    wanted = [t.strip() for t in request.headers.get("If-None-Match", "").split(",") if t.strip()]
    if tag in wanted or "*" in wanted or f"W/{tag}" in wanted:
        response = HttpResponse(status=304)
    else:
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["ETag"] = tag
    response["Cache-Control"] = "no-cache"
    return response


def _summary(document: SearchDocument) -> dict[str, Any]:
    return {
        "code": document.code, "basic_code": document.basic_code, "name": document.name,
        "version": document.version_number, "department": document.department,
        "region_code": document.region_code, "organisation": document.organisation,
        "online_depth": document.online_depth, "charged": document.charged,
        "hooked_national": document.hooked_national, "high_frequency": document.high_frequency,
        "audiences": [a for a, flag in (("mainland", document.audience_mainland),
                                        ("hk_macao", document.audience_hk_macao),
                                        ("enterprise", document.audience_enterprise)) if flag],
        "published_at": document.published_at,
    }


@router.get("/items", response={200: ItemList, 304: None, **_ERRORS}, operation_id="catalog_list_items",
            summary="已发布事项列表（可筛选、搜索、分页）")
def list_items(request: HttpRequest, params: Query[ListIn]) -> HttpResponse:
    filters = selectors.Filters(department=params.department, audience=params.audience, region=params.region,
                                depth=params.depth, fee=params.fee, event=params.event)
    start = (params.page - 1) * params.per_page
    if params.q.strip():
        queryset = selectors.ranked(params.q, filters)
    else:
        queryset = filters.apply(SearchDocument.objects.all()) if filters.any() else SearchDocument.objects.all()
        queryset = queryset.order_by("code")
    total = queryset.count()
    documents = list(queryset.defer("body")[start:start + params.per_page]) if start < total else []
    body = _json({"items": [_summary(d) for d in documents], "total": total, "page": params.page,
                  "per_page": params.per_page})
    return _conditional(request, body)


@router.get("/items/{code}", response={200: Item, 304: None, **_ERRORS}, operation_id="catalog_get_item",
            summary="一个已发布事项的全部要素")
def get_item(request: HttpRequest, code: str) -> HttpResponse:
    # A code of another shape (a NUL, say, which PostgreSQL's text refuses) is simply not there.
    version = catalog.published_version_by_code(code) if CODE_RE.match(code) else None
    if version is None:
        raise TongbanError("not_found")
    # A published version never changes, so its id names its content.
    return _conditional(request, _json(sync.item_payload(version)), etag=f'"v{version.pk}"')


@router.get("/changes", response={200: ChangesOut, 304: None, **_ERRORS}, operation_id="catalog_list_changes",
            summary="自游标以来发布、更新或停用的事项（增量同步）")
def list_changes(request: HttpRequest, params: Query[ChangesIn]) -> HttpResponse:
    changes, next_cursor, more = sync.changes_since(params.cursor or None, limit=params.limit)
    body = _json({"changes": [{"code": c.code, "action": c.action, "version": c.version, "item": c.item}
                              for c in changes], "next_cursor": next_cursor, "more": more})
    return _conditional(request, body)
