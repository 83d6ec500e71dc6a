"""Reads of the search index: a query with filters, ranked and paged (the portal's /items/ and the home
page's lists use it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Case, IntegerField, Min, Q, QuerySet, Subquery, Value, When

from tongban.search import backends
from tongban.search.engine import MIN_SCORE, expand, score
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


def ranked(query: str, filters: Filters | None = None) -> QuerySet[SearchDocument]:
    """The matching documents, best first: titles scored by the engine (in steps of 0.05), then on a tie the
    items hooked to the national platform, the high-frequency items, the shorter title, the code."""
    filters = filters or Filters()
    terms = expand(query)
    if not terms:
        return SearchDocument.objects.none()
    scope = filters.apply(SearchDocument.objects.all()) if filters.any() else None
    titles: dict[int, list[int]] = {}
    documents: dict[int, list[int]] = {}
    for candidate in backends.candidates(terms, scope):
        value = score(candidate, terms)
        if value >= MIN_SCORE:
            if candidate.documents:
                documents.setdefault(round(value * 20), []).extend(candidate.documents)
            else:
                titles.setdefault(round(value * 20), []).append(candidate.key)
    buckets: dict[int, Q] = {}
    for bucket in set(titles) | set(documents):
        rows = Q(title_ref_id__in=titles[bucket]) if bucket in titles else Q()
        if bucket in documents:
            rows |= Q(id__in=documents[bucket])
        buckets[bucket] = rows
    if not buckets:
        return SearchDocument.objects.none()
    queryset = scope if scope is not None else SearchDocument.objects.all()
    matched = Q()
    for rows in buckets.values():
        matched |= rows
    rank = Case(*[When(rows, then=Value(bucket)) for bucket, rows in sorted(buckets.items(), reverse=True)],
                default=Value(0), output_field=IntegerField())
    return (queryset.filter(matched).annotate(rank=rank)
            .order_by("-rank", "-hooked_national", "-high_frequency", "title_length", "code"))


def ranked_ids(query: str, filters: Filters | None = None) -> list[int]:
    return list(ranked(query, filters).values_list("id", flat=True))


_LIST_FIELDS = ("id", "code", "name", "summary", "organisation", "department", "region_code", "online_depth",
                "charged", "hooked_national", "high_frequency", "audience_hk_macao", "audience_enterprise")


def search(query: str, filters: Filters | None = None, *, page: int = 1, per_page: int = PER_PAGE) -> SearchPage:
    filters = filters or Filters()
    result = SearchPage(query=query, filters=filters, page=max(1, page), per_page=per_page)
    start = (result.page - 1) * per_page
    if query.strip():
        queryset = ranked(query, filters)
    elif filters.any():
        queryset = filters.apply(SearchDocument.objects.all()).order_by(
            "-hooked_national", "-high_frequency", "name", "code")
    else:
        return result
    result.total = queryset.count()
    result.results = list(queryset.only(*_LIST_FIELDS)[start:start + per_page]) if start < result.total else []
    return result


def top_items(*, limit: int = 12, **conditions: Any) -> list[SearchDocument]:
    """The items a home page lists first (hooked to the national platform and high-frequency), one per basic
    item so that many regions' implementations of one item do not fill the list."""
    firsts = (SearchDocument.objects.filter(**conditions).order_by().values("basic_code")
              .annotate(first=Min("id")).values("first"))
    return list(SearchDocument.objects.filter(id__in=Subquery(firsts)).only(*_LIST_FIELDS, "basic_code")
                .order_by("-hooked_national", "-high_frequency", "name", "code")[:limit])


def document_by_code(code: str) -> SearchDocument | None:
    return SearchDocument.objects.filter(code=code).first()
