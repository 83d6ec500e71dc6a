"""The traffic police's side of 一键挪车 (/backoffice/carmove/): the queue of requests escalated by 催单 and
the contested requests to review — only in the officer's region, for officers of 交管."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tongban.carmove import selectors, services
from tongban.carmove.models import ReviewOutcome
from tongban.core.errors import TongbanError


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "carmove/backoffice/home.html", {
        "queue": selectors.police_queue(request.user)[:100], "contested": selectors.contested(request.user)[:100]})


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    move = selectors.request_for_officer(request.user, pk)
    if move is None:
        raise Http404
    return render(request, "carmove/backoffice/detail.html", {
        "move": move, "photos": list(move.photos.values_list("pk", flat=True)), "outcomes": ReviewOutcome.choices})


@require_POST
def act(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        if request.POST.get("go") == "handle":
            services.move_request_handle(user=request.user, request_id=pk, note=request.POST.get("note", ""),
                                         request=request)
        else:
            services.move_request_review(user=request.user, request_id=pk, outcome=request.POST.get("outcome", ""),
                                         note=request.POST.get("note", ""), request=request)
        messages.success(request, _("已保存。"))
    except TongbanError as exc:
        if exc.code == "not_found":
            raise Http404 from None
        messages.error(request, exc.message(getattr(request, "LANGUAGE_CODE", "zh-hans")))
    return redirect("carmove_bo:detail", pk=pk)


app_name = "carmove_bo"
urlpatterns = [
    path("", home, name="home"),
    path("<int:pk>/", detail, name="detail"),
    path("<int:pk>/act/", act, name="act"),
]
