"""The citizen's pages of 交通违法处理: the overview (licence points, violations of one's cars, other cars one
drives), a violation (handle it online, or where to go), the penalty decision with its way to payment."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core.errors import TongbanError
from tongban.payments.fees import yuan
from tongban.payments.services import amount_due
from tongban.portal.account_views import citizen_required
from tongban.violations import rules, selectors, services
from tongban.violations.forms import PlateForm
from tongban.violations.models import Decision


def _language(request: HttpRequest) -> str:
    return getattr(request, "LANGUAGE_CODE", "zh-hans")


@citizen_required
@require_http_methods(["GET"])
def index(request: HttpRequest) -> HttpResponse:
    try:
        view = selectors.overview(request.user)
    except TongbanError as exc:
        status = exc.http_status()
        return render(request, "violations/index.html", {"problem": exc.message(_language(request))},
                      status=403 if status == 403 else 503)
    # Reading the licence's points is a read of personal data (invariant 3).
    audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.user(request.user), request=request,
                 subject=Subject("violations.licence", int(request.user.pk or 0)), details={"what": "licence_points"})
    rows = [{"v": v, "fine": yuan(v.fine_fen), "elsewhere": v.province != services.handling_region()[:2],
             "province": rules.province_name(v.province)} for v in view.violations]
    return render(request, "violations/index.html", {
        "view": view, "rows": rows, "standing": view.standing,
        "unhandled": sum(1 for v in view.violations if v.status == "unhandled"),
        "can_register": len(view.driven) < services.MAX_DRIVEN_VEHICLES, "plate_form": PlateForm()})


@citizen_required
@require_http_methods(["GET", "POST"])
def detail(request: HttpRequest, number: str) -> HttpResponse:
    try:
        violation = selectors.violation_for(request.user, number)
    except TongbanError:
        raise Http404 from None
    if request.method == "POST":
        try:
            decision = services.violation_handle(user=request.user, violation_number=violation.number)
        except TongbanError as exc:
            messages.error(request, exc.message(_language(request)))
            return redirect("violations:detail", number=violation.number)
        messages.success(request, _("已处理，处罚决定书编号 %(n)s。请在15日内缴纳罚款。") % {"n": decision.number})
        return redirect("violations:decision", number=decision.number)
    standing = None
    verdict = rules.Eligibility(False, "handled", _("该违法记录已处理。"))
    if violation.status == "unhandled":
        try:
            identity = services.identity_of(request.user)
            standing = services.licence_standing(identity.id_number)
            verdict = services.eligibility(violation, standing)
        except TongbanError as exc:
            verdict = rules.Eligibility(False, "unavailable", exc.message(_language(request)))
    made = Decision.objects.filter(violation=violation).first()
    return render(request, "violations/detail.html", {
        "v": violation, "fine": yuan(violation.fine_fen), "verdict": verdict, "standing": standing,
        "decision": made, "province": rules.province_name(violation.province),
        "elsewhere": violation.province != services.handling_region()[:2],
        "places": [] if verdict.online else selectors.where_to_go(violation),
        "after_points": (standing.standing.points + violation.points) if standing else None})


@citizen_required
@require_http_methods(["GET"])
def decision(request: HttpRequest, number: str) -> HttpResponse:
    found = Decision.objects.filter(number=number).select_related("violation", "document").first()
    if found is None or not services.may_see(request.user, found.violation):
        raise Http404
    due = amount_due(found.document)
    return render(request, "violations/decision.html", {
        "d": found, "c": found.content, "due": due, "total": yuan(due.total_fen),
        "surcharge": yuan(due.surcharge_fen), "pay_by": rules.pay_by(found.served_on)})


@citizen_required
@require_POST
def vehicle_register(request: HttpRequest) -> HttpResponse:
    try:
        services.driven_vehicle_register(user=request.user, plate=request.POST.get("plate", "")[:16])
        messages.success(request, _("已提交备案申请，等待车主同意。"))
    except TongbanError as exc:
        messages.error(request, exc.message(_language(request)))
    return redirect("violations:index")


@citizen_required
@require_POST
def vehicle_decide(request: HttpRequest, registration_id: int) -> HttpResponse:
    try:
        services.driven_vehicle_decide(owner=request.user, registration_id=registration_id,
                                       approve=request.POST.get("decision") == "approve")
        messages.success(request, _("已记录您的决定。"))
    except TongbanError as exc:
        messages.error(request, exc.message(_language(request)))
    return redirect("violations:index")


@citizen_required
@require_POST
def vehicle_remove(request: HttpRequest, registration_id: int) -> HttpResponse:
    try:
        services.driven_vehicle_remove(user=request.user, registration_id=registration_id)
        messages.success(request, _("已解除备案。"))
    except TongbanError as exc:
        messages.error(request, exc.message(_language(request)))
    return redirect("violations:index")
