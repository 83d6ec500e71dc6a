"""Reads of the search index: a query with filters, ranked and paged (the portal's /items/ and the home
page's lists use it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet

from tongban.search import backends
from tongban.search.engine import expand, rank
from tongban.search.models import SearchDocument

AUDIENCES = ("mainland", "hk_macao", "enterprise")
FEES = ("free", "charged")
PER_PAGE = 20


@dataclass(frozen=True)
class Filters:
    """What a result list may be narrowed by; empty means not narrowed."""

    department: str = ""
    audience: str = ""
    region: str = ""
    depth: int = 0  # at least this online-handling depth (4 = 全程网办)
    fee: str = ""
    event: str = ""

    def any(self) -> bool:
        return bool(self.department or self.audience or self.region or self.depth or self.fee or self.event)

    def apply(self, queryset: QuerySet[SearchDocument]) -> QuerySet[SearchDocument]:
        if self.department:
            queryset = queryset.filter(department=self.department)
        if self.audience in AUDIENCES:
            queryset = queryset.filter(**{f"audience_{self.audience}": True})
        if self.region:
            queryset = queryset.filter(region_q(self.region))
        if self.depth:
            queryset = queryset.filter(online_depth__gte=self.depth)
        if self.fee in FEES:
            queryset = queryset.filter(charged=self.fee == "charged")
        if self.event:
            queryset = queryset.filter(life_events__contains=f",{self.event},")
        return queryset


def region_q(code: str) -> Q:
    """Items for a place: those implemented there or inside it, and those of the bodies above it (a city's
    resident is served by the city, the province and the ministry)."""
    prefix = code.rstrip("0") if code.strip("0") else ""
    prefix = prefix + "0" * (len(prefix) % 2)  # whole levels: 33, 3301, 330106
    ancestors = {"", "000000", code[:2] + "0000", code[:4] + "00", code}
    return Q(region_code__in=ancestors) | Q(region_code__startswith=prefix)


@dataclass
class SearchPage:
    query: str
    filters: Filters
    results: list[SearchDocument] = field(default_factory=list)
    total: int = 0
    page: int = 1
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def ranked_ids(query: str, filters: Filters | None = None) -> list[int]:
    """The ids of the matching documents, best first (the whole ranked list; it is short)."""
    filters = filters or Filters()
    terms = expand(query)
    if not terms:
        return []
    scope = filters.apply(SearchDocument.objects.all()) if filters.any() else None
    return [c.key for c in rank(backends.candidates(terms, scope), terms)]


_LIST_FIELDS = ("id", "code", "name", "summary", "organisation", "department", "region_code", "online_depth",
                "charged", "hooked_national", "high_frequency", "audience_hk_macao", "audience_enterprise")


def search(query: str, filters: Filters | None = None, *, page: int = 1, per_page: int = PER_PAGE) -> SearchPage:
    filters = filters or Filters()
    result = SearchPage(query=query, filters=filters, page=max(1, page), per_page=per_page)
    start = (result.page - 1) * per_page
    if query.strip():
        ids = ranked_ids(query, filters)
        result.total = len(ids)
        window = ids[start:start + per_page]
        rows = {d.pk: d for d in SearchDocument.objects.filter(pk__in=window).only(*_LIST_FIELDS)}
        result.results = [rows[pk] for pk in window if pk in rows]
        return result
    if not filters.any():
        return result
    queryset = filters.apply(SearchDocument.objects.all())
    result.total = queryset.count()
    result.results = list(queryset.only(*_LIST_FIELDS).order_by("-hooked_national", "-high_frequency", "name",
                                                               "code")[start:start + per_page])
    return result


def top_items(*, limit: int = 12, **conditions: Any) -> list[SearchDocument]:
    """The items a home page lists first (hooked to the national platform and high-frequency), one per basic
    item so that two provinces' versions of one item do not fill the list."""
    queryset = (SearchDocument.objects.filter(**conditions).only(*_LIST_FIELDS, "basic_code")
                .order_by("-hooked_national", "-high_frequency", "name", "code"))
    seen: set[str] = set()
    out: list[SearchDocument] = []
    for document in queryset[: limit * 6]:
        if document.basic_code not in seen:
            seen.add(document.basic_code)
            out.append(document)
            if len(out) == limit:
                break
    return out


def document_by_code(code: str) -> SearchDocument | None:
    return SearchDocument.objects.filter(code=code).first()
