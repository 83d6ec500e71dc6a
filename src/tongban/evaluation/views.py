"""The evaluation's pages: the applicant's rating of a case (from 我的办件, and from the SMS link which opens that
one case without signing in), the public figures, and the supervisors' pages in the staff site — the bad
reviews, one review's loop, the statistics with their charts. Views parse input and call one service.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from tongban.cases.models import Case
from tongban.cases.selectors import case_for_applicant
from tongban.cases.services import applicant_may_act
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.evaluation import charts, selectors, services, tokens
from tongban.evaluation.forms import (
    AppealForm,
    DecideForm,
    FeedbackForm,
    FixRatingForm,
    RatingForm,
    RectifyForm,
    VisitForm,
)
from tongban.evaluation.models import BAD_LEVELS, OPEN_STATUSES, TAGS, Channel, Level, ReviewStatus
from tongban.portal.account_views import citizen_required, form_error

# -- the applicant's rating --------------------------------------------------------------------------------


def _rate_page(request: HttpRequest, case: Case, actor: Any, *, channel: str, here: str) -> HttpResponse:
    rating = selectors.rating_of_case(case.pk)
    review = selectors.review_of_rating(rating)
    form: forms.Form | None = None
    fix_form: forms.Form | None = None
    can_rate = case.state in services.RATEABLE_STATES and (rating is None or rating.changes < 1)
    if rating is not None and rating.removed_at is not None:
        can_rate = False
    status = 200
    if request.method == "POST":
        if request.POST.get("step") == "fix":
            fix_form = FixRatingForm(request.POST)
            if fix_form.is_valid():
                try:
                    services.review_fix_rate(user=actor, case_id=case.pk,
                                             fix_level=fix_form.cleaned_data["fix_level"], request=request)
                except TongbanError as exc:
                    form_error(request, fix_form, exc, "fix_level")
                else:
                    messages.success(request, _("感谢您对整改结果的评价。"))
                    return HttpResponseRedirect(here)
        else:
            form = RatingForm(request.POST)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    if rating is None:
                        services.rating_submit(user=actor, case_id=case.pk, level=data["level"], tags=data["tags"],
                                               comment=data["comment"], channel=channel, request=request)
                        done = str(_("感谢您的评价。"))
                    else:
                        services.rating_change(user=actor, case_id=case.pk, level=data["level"], tags=data["tags"],
                                               comment=data["comment"], request=request)
                        done = str(_("评价已修改（每件只能修改一次）。"))
                except TongbanError as exc:
                    if exc.code == "not_found":
                        raise Http404 from exc
                    form_error(request, form, exc, "level")
                else:
                    if data["level"] in BAD_LEVELS:
                        done += str(_("您的差评已受理，监督员将回访核实并督促整改，整改结果会反馈给您。"))
                    messages.success(request, done)
                    return HttpResponseRedirect(here)
        status = 422
    if form is None and can_rate:
        initial = {"level": rating.level, "tags": rating.tags} if rating else {}
        form = RatingForm(initial=initial)
    if fix_form is None and review is not None and review.status == ReviewStatus.FED_BACK:
        fix_form = FixRatingForm()
    return render(request, "evaluation/rate.html", {
        "case": case, "rating": rating, "review": review, "form": form, "fix_form": fix_form,
        "can_rate": can_rate, "here": here, "tags_by_level": [(label, TAGS[value]) for value, label in Level.choices],
        "via_link": channel == Channel.SMS, "shown_form": form if form is not None and form.errors else fix_form,
    }, status=status)


@citizen_required
@require_http_methods(["GET", "POST"])
def rate(request: HttpRequest, case_id: int) -> HttpResponse:
    try:
        case = case_for_applicant(request.user, case_id)
    except TongbanError as exc:
        raise Http404 from exc
    return _rate_page(request, case, request.user, channel=Channel.WEB, here=reverse("evaluation:rate", args=[case_id]))


@require_http_methods(["GET", "POST"])
def rate_by_link(request: HttpRequest, case_id: int, token: str) -> HttpResponse:
    """The SMS link: the signed token opens the rating of this one case, for its applicant, until it expires."""
    try:
        tokens.link_check(case_id, token)
    except tokens.LinkExpired:
        return render(request, "evaluation/link_problem.html", {"expired": True}, status=410)
    except tokens.LinkInvalid:
        return render(request, "evaluation/link_problem.html", {"expired": False}, status=404)
    case = Case.objects.select_related("applicant").filter(pk=case_id).first()
    if case is None or not applicant_may_act(case.applicant, case):
        return render(request, "evaluation/link_problem.html", {"expired": False}, status=404)
    return _rate_page(request, case, case.applicant, channel=Channel.SMS, here=request.path)


# -- the public figures --------------------------------------------------------------------------------------


def _month(value: str | None) -> dt.date:
    today = clock.today_local()
    try:
        year, month = (int(part) for part in (value or "").split("-"))
        chosen = dt.date(year, month, 1)
    except (TypeError, ValueError):
        return today.replace(day=1)
    return chosen if chosen <= today else today.replace(day=1)


def _months_back(month: dt.date, n: int) -> list[dt.date]:
    out = []
    for _i in range(n):
        out.append(month)
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return out


@require_http_methods(["GET"])
def figures_public(request: HttpRequest) -> HttpResponse:
    """The published figures of a month: counts and rates only, never a rater, a case or a comment."""
    month = _month(request.GET.get("month"))
    rows = selectors.in_month(selectors.published_ratings(), month)
    return render(request, "evaluation/figures.html", {
        "month": month, "months": _months_back(clock.today_local().replace(day=1), 12),
        "total": selectors.totals(rows), "by_department": selectors.figures(rows, "department"),
        "by_region": selectors.figures(rows, "region"), "by_item": selectors.figures(rows, "item"),
        "levels": [(Level(v).label, n) for v, n in selectors.level_counts(rows).items()],
    })


# -- the supervisors' pages (staff site) -----------------------------------------------------------------------


def _supervisor(request: HttpRequest) -> Any:
    from tongban.accounts.roles import StaffRole

    user: Any = request.user
    if not getattr(user, "is_authenticated", False) or not user.has_role(StaffRole.SUPERVISOR):
        raise Http404
    return user


@require_http_methods(["GET"])
def review_list(request: HttpRequest) -> HttpResponse:
    user = _supervisor(request)
    reviews = selectors.reviews_for_supervisor(user)
    shown = request.GET.get("status", "open")
    if shown == "open":
        reviews = reviews.filter(status__in=OPEN_STATUSES)
    elif shown == "overdue":
        reviews = reviews.filter(selectors.overdue_filter())
    elif shown == "appeal":
        reviews = reviews.filter(appeal_status="pending")
    elif shown in ReviewStatus.values:
        reviews = reviews.filter(status=shown)
    else:
        shown = "all"
    today = clock.today_local()
    rows = [{"review": r, "overdue": selectors.is_overdue(r, today)} for r in reviews[:100]]
    return render(request, "evaluation/backoffice/list.html", {
        "rows": rows, "shown": shown, "counts": selectors.loop_counts(user),
        "filters": [("open", _("办理中")), ("overdue", _("整改超期")), ("appeal", _("待复核申诉")),
                    ("closed", _("已办结")), ("removed", _("已撤销")), ("all", _("全部"))]})


_STEPS: dict[str, type[forms.Form]] = {"visit": VisitForm, "rectify": RectifyForm, "feedback": FeedbackForm,
                                       "appeal": AppealForm, "decide": DecideForm}
_DONE = {"visit": _("已记录回访核实情况，整改期限开始计算。"), "rectify": _("已记录整改情况。"),
         "feedback": _("已向评价人反馈整改结果。"), "appeal": _("已提交申诉，待另一名监督员复核。"),
         "decide": _("已作出复核结论。")}


def _run_step(request: HttpRequest, user: Any, review_id: int, step: str, form: forms.Form) -> None:
    data = form.cleaned_data
    if step == "visit":
        services.review_visit(user=user, review_id=review_id, note=data["note"], request=request)
    elif step == "rectify":
        services.review_rectify(user=user, review_id=review_id, note=data["note"], request=request)
    elif step == "feedback":
        services.review_feedback(user=user, review_id=review_id, text=data["text"], request=request)
    elif step == "appeal":
        services.review_appeal(user=user, review_id=review_id, kind=data["kind"], reason=data["reason"],
                               request=request)
    else:
        services.review_appeal_decide(user=user, review_id=review_id, approve=data["decision"] == "approve",
                                      note=data["note"], request=request)


@require_http_methods(["GET", "POST"])
def review_detail(request: HttpRequest, review_id: int) -> HttpResponse:
    user = _supervisor(request)
    review = selectors.review_for_supervisor(user, review_id)
    if review is None:
        raise Http404
    here = reverse("backoffice:evaluation_review", args=[review_id])
    bound: forms.Form | None = None
    step = request.POST.get("step", "") if request.method == "POST" else ""
    contact: dict[str, str] | None = None
    status = 200
    if step == "contact":
        try:
            contact = services.rater_contact_read(user=user, review_id=review_id, request=request)
        except TongbanError as exc:
            raise Http404 from exc
    elif step in _STEPS:
        bound = _STEPS[step](request.POST)
        if bound.is_valid():
            try:
                _run_step(request, user, review_id, step, bound)
            except TongbanError as exc:
                if exc.code == "not_found":
                    raise Http404 from exc
                form_error(request, bound, exc)
            else:
                messages.success(request, _DONE[step])
                return HttpResponseRedirect(here)
        status = 422
    elif request.method == "POST":
        raise Http404
    review = selectors.review_for_supervisor(user, review_id) or review
    steps = _open_steps(review, user)
    shown = {name: (bound if bound is not None and name == step else cls()) for name, cls in _STEPS.items()
             if name in steps}
    rating = review.rating
    return render(request, "evaluation/backoffice/detail.html", {
        "review": review, "rating": rating, "case": rating.case, "forms": shown, "form": bound,
        "overdue": selectors.is_overdue(review), "contact": contact, "here": here,
        "level_label": Level(rating.level).label,
    }, status=status)


def _open_steps(review: Any, user: Any) -> set[str]:
    if review.appeal_status == "pending":
        return {"decide"} if review.appeal_by_id != user.pk else set()
    steps = {ReviewStatus.ACCEPTED: {"visit"}, ReviewStatus.RECTIFYING: {"rectify"},
             ReviewStatus.RECTIFIED: {"feedback"}, ReviewStatus.FED_BACK: set()}.get(review.status)
    if steps is None:
        return set()
    return steps | ({"appeal"} if review.appeal_status != "rejected" else set())


@require_http_methods(["GET"])
def stats(request: HttpRequest) -> HttpResponse:
    """Figures of the supervisor's department and region, with SVG charts."""
    user = _supervisor(request)
    month = _month(request.GET.get("month"))
    scope = selectors.ratings_in_scope(user)
    rows = selectors.in_month(scope, month)
    start = _months_back(month, 12)[-1]
    by_month = selectors.figures(scope.filter(created_at__gte=selectors.month_range(start)[0],
                                              created_at__lt=selectors.month_range(month)[1]), "month")
    by_item = selectors.figures(rows, "item")
    by_region = selectors.figures(rows, "region")
    levels = selectors.level_counts(rows)
    total = selectors.totals(rows)
    return render(request, "evaluation/backoffice/stats.html", {
        "month": month, "months": _months_back(clock.today_local().replace(day=1), 12), "total": total,
        "by_month": by_month, "by_item": by_item, "by_region": by_region,
        "levels": [(Level(v).label, n) for v, n in levels.items()],
        "chart_months": charts.bar_chart("chart-months", "近 12 个月满意率",
                                         [(f.label, f.satisfaction_rate) for f in by_month]),
        "chart_items": charts.bar_chart("chart-items", f"{month:%Y 年 %m 月}各事项满意率",
                                        [(f.label, f.satisfaction_rate) for f in by_item[:15]]),
        "chart_levels": charts.bar_chart("chart-levels", f"{month:%Y 年 %m 月}评价等级分布",
                                         [(str(Level(v).label), float(n)) for v, n in levels.items()],
                                         maximum=float(max(levels.values()) or 1), unit="件"),
    })
