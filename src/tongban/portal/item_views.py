"""The service hall's finding and showing pages: search results with filters (/items/), the item guide
(办事指南, /items/<implementation code>/) and the plain page of a service that is not open yet."""

from __future__ import annotations

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_GET

from tongban.accounts.roles import Department
from tongban.catalog import selectors as catalog
from tongban.catalog.validation import CODE_RE
from tongban.portal.item_forms import DEPTH_CHOICES, EVENT_CHOICES, ItemSearchForm
from tongban.search import selectors as search
from tongban.search.models import SearchDocument

PER_PAGE = 20

# The services of the seed article that have pages of their own elsewhere in the platform, by URL name (a
# service whose URL does not resolve yet gets the plain "not open yet" page) and the items that describe it.
SERVICE_PAGES: dict[str, dict[str, str]] = {
    "identity": {"name": "统一身份认证", "url": "portal:identity", "q": ""},
    "sso": {"name": "单点登录", "url": "sso:authorizations", "q": ""},
    "catalog": {"name": "办事指南", "url": "portal:items", "q": ""},
    "cases": {"name": "在线申请与我的办件", "url": "cases:mine", "q": ""},
    "evaluation": {"name": "好差评", "url": "evaluation:index", "q": ""},
    "carmove": {"name": "一键挪车", "url": "carmove:index", "q": "挪车"},
    "exams": {"name": "驾驶人考试预约", "url": "exams:index", "q": "驾驶人考试预约", "basic": "GAJG001"},
    "violations": {"name": "交通违法处理", "url": "violations:index", "q": "交通违法处理", "basic": "GAJG002"},
    "gba": {"name": "粤港澳直通车", "url": "gba:index", "q": "粤港澳"},
    "payments": {"name": "警务非税缴款与我的缴费", "url": "payments:mine", "q": "缴款"},
}


def service_url(key: str) -> str:
    """Where a service tile leads: the service itself when it is built, else its plain "not open yet" page."""
    try:
        return reverse(SERVICE_PAGES[key]["url"])
    except NoReverseMatch:
        return reverse("portal:service", args=[key])


def service_entry_url(basic_code: str) -> str | None:
    """The page of a service built as an app of its own (its SERVICE_PAGES entry names the basic item it
    serves), entered from every implementation's guide in place of the case engine's form."""
    for info in SERVICE_PAGES.values():
        if info.get("basic") == basic_code:
            try:
                return reverse(info["url"])
            except NoReverseMatch:
                return None
    return None


def apply_url(code: str) -> str | None:
    """The case engine's "apply online" page for an item, once that engine is there (issue 14; its branch
    names it `cases:apply`, the brief `cases:start`: whichever resolves)."""
    for name in ("cases:start", "cases:apply"):
        for args in ([code], []):
            try:
                url = reverse(name, args=args)
            except NoReverseMatch:
                continue
            return url if args else f"{url}?item={code}"
    return None


def _regions() -> list[str]:
    """The provinces that have published items (for the region filter; cached for a minute)."""
    regions = cache.get("portal:item_regions")
    if regions is None:
        codes = SearchDocument.objects.order_by().values_list("province_code", flat=True).distinct()
        regions = sorted(set(codes) - {"", "000000"})
        cache.set("portal:item_regions", regions, 60)
    return list(regions)


def _int(value: str | None, default: int = 1) -> int:
    try:
        return max(1, min(int(value or default), 500))
    except ValueError:
        return default


@require_GET
def items(request: HttpRequest) -> HttpResponse:
    regions = _regions()
    form = ItemSearchForm(request.GET or None, regions=regions)
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    query = data.get("q", "")
    filters = search.Filters(department=data.get("department", ""), audience=data.get("audience", ""),
                             region=data.get("region", ""), depth=int(data.get("depth") or 0),
                             fee=data.get("fee", ""), event=data.get("event", ""))
    page = search.search(query, filters, page=_int(request.GET.get("page")), per_page=PER_PAGE)
    params = request.GET.copy()
    params.pop("page", None)
    labels = dict(Department.choices)
    for document in page.results:
        document.department_label = labels.get(document.department, "")  # type: ignore[attr-defined]
    base = params.urlencode()
    status = 422 if form.is_bound and form.errors else 200
    return render(request, "portal/items/list.html", {
        "form": form, "page": page, "query": query, "searched": bool(query or filters.any()),
        "prev_url": _page_url(base, page.page - 1) if page.has_previous else "",
        "next_url": _page_url(base, page.page + 1) if page.has_next else "",
        "event_label": dict(EVENT_CHOICES).get(filters.event, ""), "regions_key": ",".join(regions),
    }, status=status)


def _page_url(base: str, number: int) -> str:
    return f"?{base}&page={number}" if base else f"?page={number}"


@require_GET
def item_detail(request: HttpRequest, code: str) -> HttpResponse:
    version = catalog.published_version_by_code(code) if CODE_RE.match(code) else None
    if version is None:
        raise Http404
    implementation = version.implementation
    fee_total = sum(int(item.get("fen") or 0) for item in version.fee_items if isinstance(item, dict))
    entry = service_entry_url(implementation.basic_item.code)
    return render(request, "portal/items/detail.html", {
        "version": version, "implementation": implementation, "apply_url": entry or apply_url(code),
        "online": bool(entry) or version.applicable_online, "depth_label": dict(DEPTH_CHOICES).get(str(version.online_depth), ""),
        "fee_total": fee_total, "fetched": [m for m in version.materials if m.get("platform_fetched")],
    })


@require_GET
def service(request: HttpRequest, key: str) -> HttpResponse:
    if key not in SERVICE_PAGES:
        raise Http404
    info = SERVICE_PAGES[key]
    return render(request, "portal/items/service.html", {"key": key, "service": info})
