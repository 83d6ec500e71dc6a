"""The citizen portal's home page and its error pages."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from tongban.core.middleware import error_response, is_json_path

# The services the seed article names, as the home page lists them (each comes with its issue).
SERVICES = [
    (_("统一身份认证"), _("实名、实证、实人三级身份核验，身份双源认证"), "identity"),
    (_("单点登录"), _("一次认证、全网通办，对接国家政务服务平台"), "sso"),
    (_("办事指南"), _("公安政务服务事项目录与办事指南"), "catalog"),
    (_("在线申请"), _("网上申请、网上受理、证照远程寄递"), "cases"),
    (_("好差评"), _("办件评价与差评整改"), "evaluation"),
    (_("一键挪车"), _("联系挪车，双方号码互不可见"), "carmove"),
    (_("驾驶人考试预约"), _("科目考试在线预约"), "exams"),
    (_("交通违法处理"), _("违法查询、处理与罚款缴纳"), "violations"),
    (_("粤港澳直通车"), _("港澳居民批文延期、驾驶人变更登记"), "gba"),
    (_("警务非税缴款"), _("凭缴款通知书或处罚决定书扫码缴款"), "payments"),
]


LIFE_EVENTS = [("birth", _("出生")), ("school", _("入学")), ("travel", _("出行")), ("driving", _("驾车")), ("employment", _("就业")),
               ("exit", _("出境"))]


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The service hall: search first, then the high-frequency items, items by department and life event."""
    from tongban.accounts.roles import Department
    from tongban.portal.item_forms import ItemSearchForm
    from tongban.portal.item_views import service_url
    from tongban.search.selectors import top_items

    signed_in = request.user.is_authenticated and getattr(request.user, "kind", "") == "citizen"
    return render(request, "portal/home.html", {
        "search_form": ItemSearchForm(),
        "frequent": top_items(limit=12, high_frequency=True),
        "departments": Department.choices,
        "life_events": LIFE_EVENTS,
        "services": [(name, summary, key, service_url(key)) for name, summary, key in SERVICES],
        "signed_in": signed_in,
        "my_cases_url": service_url("cases"),
        "my_payments_url": service_url("payments"),
    })


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_json_path(request.path):
        return error_response(request, "not_found")
    return render(request, "portal/error.html", {"title": _("页面不存在"), "message": _("您访问的页面不存在或已被移除。")},
                  status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    import sys

    from tongban.core.views import unavailable_response

    # A dependency down (raised in a middleware, e.g. the session store on Redis): 503, not 500 (issue 12).
    unavailable = unavailable_response(request, sys.exc_info()[1])
    if unavailable is not None:
        return unavailable
    if is_json_path(request.path):
        return error_response(request, "internal_error")
    return render(request, "portal/error.html", {"title": _("系统繁忙"), "message": _("系统暂时无法处理您的请求，请稍后再试。")},
                  status=500)
