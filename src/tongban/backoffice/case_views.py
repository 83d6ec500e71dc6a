"""The officers' case work on the staff site: the inbox (filters, keyset paging, bulk acceptance), a case's
detail (answers, materials, timeline, the actions open to this officer in this state), claim and assign,
comments, and the statistics.

Jurisdiction is the engine's: every list comes from tongban.cases.selectors (the officer's department and
region) and every action goes through tongban.cases.services, which check it again under the row lock. A
case outside the officer's reach is answered exactly like a case that does not exist (404).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.http import urlencode
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from tongban.accounts.models import User
from tongban.accounts.regions import region_name
from tongban.accounts.roles import StaffRole
from tongban.accounts.selectors import officer_can_access, staff_visible_to
from tongban.backoffice import casework
from tongban.cases import attachments as case_attachments
from tongban.cases import selectors as case_selectors
from tongban.cases import services as case_services
from tongban.cases.models import Case
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.risk import services as risk_services

PAGE_SIZE = 20


def _officer(request: HttpRequest) -> User:
    user = request.user
    if not isinstance(user, User) or not user.has_role(StaffRole.OFFICER):
        raise Http404  # the case pages are not there for anyone but officers
    return user


class InboxFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("状态"), required=False)
    item = forms.CharField(label=_("事项编码"), required=False, max_length=64)
    assigned = forms.ChoiceField(label=_("经办"), required=False, choices=[
        ("", _("全部")), ("mine", _("我经办的")), ("unassigned", _("未认领")), ("others", _("他人经办"))])
    submitted_from = forms.DateField(label=_("提交日期自"), required=False,
                                     widget=forms.DateInput(attrs={"type": "date"}))
    submitted_to = forms.DateField(label=_("提交日期至"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    overdue = forms.BooleanField(label=_("仅看已超期"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["state"].choices = [("", _("全部")), *casework.all_states()]  # type: ignore[attr-defined]
        for name in ("submitted_from", "submitted_to"):
            self.fields[name].error_messages["invalid"] = _("请填写有效的日期，如 2026-10-08。")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("submitted_from"), data.get("submitted_to")
        if start and end and start > end:
            self.add_error("submitted_to", _("结束日期不能早于开始日期。"))
        return data


def _mac(text: str) -> str:
    return str(int.from_bytes(salted_hmac("backoffice.inbox.cursor", text).digest()[:6], "big"))


def _cursor(case: Case, seen: int) -> str:
    """Where the next page starts, and how many rows the officer has been shown before it (signed: the
    list is capped, and a cursor edited to start the count afresh is no cursor)."""
    assert case.submitted_at is not None
    text = f"{int(case.submitted_at.timestamp() * 1_000_000)}-{case.pk}-{seen}"
    return f"{text}-{_mac(text)}"


def _parse_cursor(value: str) -> tuple[dt.datetime, int, int] | None:
    try:
        micros, pk, seen, mac = value.split("-", 3)
        if not constant_time_compare(mac, _mac(f"{micros}-{pk}-{seen}")):
            return None
        at = dt.datetime.fromtimestamp(int(micros) / 1_000_000, tz=dt.UTC)
        return at, int(pk), int(seen)
    except (ValueError, OverflowError, OSError):
        return None


def _row(case: Case, today: dt.date) -> dict[str, Any]:
    countdown = case_services.countdown_of(case, today)
    return {"case": case, "state": casework.state_label(case.workflow, case.state), "countdown": countdown,
            "bulk": casework.bulk_acceptable(case),
            "assignee": case.assigned_to.username if case.assigned_to_id and case.assigned_to else ""}


@require_http_methods(["GET"])
def inbox(request: HttpRequest) -> HttpResponse:
    officer = _officer(request)
    params = request.GET.copy()
    cursor = _parse_cursor(params.pop("before", [""])[-1] or "")
    before = cursor[:2] if cursor is not None else None
    seen = cursor[2] if cursor is not None else 0
    # Responses capped (the exfiltration guard): one listing shows at most export_cap() cases, page after
    # page; beyond, the officer narrows the filters (or asks for an approved export).
    cap = risk_services.export_cap()
    capped = False
    filters = InboxFilterForm(params or None)
    today = clock.today_local()
    rows: list[Any] = []
    next_cursor = ""
    if seen >= cap:
        capped = True
    elif not filters.is_bound or filters.is_valid():
        data = filters.cleaned_data if filters.is_bound else {}
        cases = case_selectors.officer_inbox(
            officer, states=[data["state"]] if data.get("state") else None, item_code=data.get("item", "").strip(),
            overdue=bool(data.get("overdue")), submitted_from=data.get("submitted_from"),
            submitted_to=data.get("submitted_to"), assigned=data.get("assigned", ""), before=before, today=today)
        # The item snapshot too: whether a row may be bulk-accepted reads it (one query for the page).
        size = min(PAGE_SIZE, cap - seen)
        page = list(cases.only(*case_selectors.LIST_FIELDS, "assigned_to__username", "item_snapshot")
                    [: size + 1])
        if len(page) > size:
            page = page[:size]
            if seen + size >= cap:
                capped = True
            else:
                next_cursor = _cursor(page[-1], seen + size)
        rows = [_row(c, today) for c in page]
    query = urlencode({k: str(v) for k, v in params.items() if v})
    return render(request, "backoffice/cases/inbox.html", {
        "filters": filters, "rows": rows, "next_cursor": next_cursor, "query": query, "deeper": before is not None,
        "any_bulk": any(r["bulk"] for r in rows), "scope": region_name(officer.region_code),
        "capped": capped, "cap": cap})


@require_POST
def bulk_accept(request: HttpRequest) -> HttpResponse:
    """Accept the ticked cases, each in its own transaction and at the version the officer saw; a case whose
    item does not allow it, or that changed meanwhile, is left as it was and counted."""
    officer = _officer(request)
    accepted, skipped = 0, 0
    for raw in request.POST.getlist("case")[:PAGE_SIZE]:
        try:
            case_id = int(raw)
            version = int(request.POST.get(f"v_{case_id}", ""))
            case = case_selectors.case_for_officer(officer, case_id)
            if not casework.bulk_acceptable(case):
                raise TongbanError("case_action_not_allowed")
            case_services.case_act(user=officer, case_id=case_id, action="accept", expected_version=version,
                                   request=request)
        except (ValueError, TongbanError):
            skipped += 1
        else:
            accepted += 1
    if accepted:
        messages.success(request, _("已批量受理 %(count)s 件。") % {"count": accepted})
    if skipped or not accepted:
        messages.warning(request, _("%(count)s 件未受理（已被他人处理、状态已变化或该事项不支持批量受理）。")
                         % {"count": skipped} if skipped else _("请先勾选要受理的办件。"))
    return HttpResponseRedirect(reverse("backoffice:inbox"))


# -- one case ---------------------------------------------------------------------------------------------


def _answers(case: Case) -> list[tuple[str, str]]:
    """The application's answers with their labels from the item version's form (values decrypted)."""
    form = (case.item_snapshot or {}).get("application_form")
    form = form if isinstance(form, dict) else {}
    labels = {f.get("name"): f for f in form.get("fields", []) if isinstance(f, dict)}
    shown = []
    for name, value in case.data.items():
        field = labels.get(name) or {}
        choices = {str(c[0]): str(c[1]) for c in field.get("choices", []) if isinstance(c, list | tuple) and len(c) == 2}
        text = choices.get(str(value), str(value)) if not isinstance(value, list) else "、".join(
            choices.get(str(v), str(v)) for v in value)
        mark = _("（平台获取）") if name in (case.prefilled or []) else ""
        shown.append((str(field.get("label", name)), f"{text}{mark}"))
    return shown


def _colleagues(officer: User, case: Case) -> list[User]:
    people = staff_visible_to(officer).filter(is_active=True, role_officer=True)
    return [p for p in people[:200] if officer_can_access(p, department=case.department, region_code=case.region_code)]


def _detail(request: HttpRequest, officer: User, case: Case, *, error: str = "", target: str = "",
            status: int = 200, posted: dict[str, str] | None = None) -> HttpResponse:
    today = clock.today_local()
    actions = case_selectors.available_actions(officer, case)
    return render(request, "backoffice/cases/detail.html", {
        "case": case, "state": casework.state_label(case.workflow, case.state),
        "countdown": case_services.countdown_of(case, today), "answers": _answers(case),
        "materials": case_attachments.current_attachments(case),
        "timeline": case_selectors.timeline(case, for_applicant=False),
        "actions": [{"key": a.key, "label": a.label,
                     "missing": a.key == "return_for_correction", "reason": a.key in ("not_accept", "deny")}
                    for a in actions],
        "colleagues": _colleagues(officer, case), "region": region_name(case.region_code),
        "mine": case.assigned_to_id == officer.pk, "error": error, "error_target": target,
        "posted": posted or {}}, status=status)


def _case_or_404(officer: User, case_id: int, request: HttpRequest | None = None, *, audit: bool = False) -> Case:
    try:
        if audit:
            return casework.case_detail_open(user=officer, case_id=case_id, request=request)
        return case_selectors.case_for_officer(officer, case_id)
    except TongbanError as exc:
        raise Http404 from exc


@require_http_methods(["GET"])
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    officer = _officer(request)
    return _detail(request, officer, _case_or_404(officer, case_id, request, audit=True))


def _refused(request: HttpRequest, officer: User, case_id: int, exc: TongbanError, target: str,
             posted: dict[str, str] | None = None) -> HttpResponse:
    if exc.code == "not_found":
        raise Http404
    case = _case_or_404(officer, case_id, request, audit=True)
    return _detail(request, officer, case, error=exc.message("zh"), target=target, status=exc.status or 409,
                   posted=posted)


def _version(request: HttpRequest) -> int | None:
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return None


@require_POST
def case_act(request: HttpRequest, case_id: int) -> HttpResponse:
    officer = _officer(request)
    action = request.POST.get("action", "")
    note = request.POST.get("note", "")[:2000]
    missing = [line.strip() for line in request.POST.get("missing", "").splitlines() if line.strip()]
    reason = request.POST.get("reason", "")
    posted = {"action": action, "note": note, "missing": request.POST.get("missing", ""), "reason": reason}
    try:
        case = case_services.case_act(user=officer, case_id=case_id, action=action, expected_version=_version(request),
                                      note=note, missing=missing, reason=reason, request=request)
    except TongbanError as exc:
        field = next((d.get("field") for d in exc.details or [] if isinstance(d, dict) and d.get("field")), "")
        target = f"id_{action}_{field}" if field in ("missing", "reason") else f"act-{action}"
        return _refused(request, officer, case_id, exc, target, posted)
    messages.success(request, _("已办理：办件现为“%(state)s”。") % {
        "state": casework.state_label(case.workflow, case.state)})
    return HttpResponseRedirect(reverse("backoffice:case_detail", args=[case.pk]))


@require_POST
def case_assign(request: HttpRequest, case_id: int) -> HttpResponse:
    officer = _officer(request)
    how = request.POST.get("how", "claim")
    assignee: int | None = officer.pk
    if how == "release":
        assignee = None
    elif how == "assign":
        person = User.objects.filter(username=request.POST.get("assignee", "")).first()
        assignee = person.pk if person else -1
    try:
        case = case_services.case_assign(user=officer, case_id=case_id, assignee_id=assignee,
                                         expected_version=_version(request), request=request)
    except TongbanError as exc:
        return _refused(request, officer, case_id, exc, "id_assignee" if how == "assign" else "assign-form")
    who = case.assigned_to.username if case.assigned_to else ""
    messages.success(request, _("已认领。") if how == "claim" else (
        _("已分派给 %(who)s。") % {"who": who} if who else _("已释放。")))
    return HttpResponseRedirect(reverse("backoffice:case_detail", args=[case.pk]))


@require_POST
def case_comment(request: HttpRequest, case_id: int) -> HttpResponse:
    officer = _officer(request)
    try:
        case_services.case_comment(user=officer, case_id=case_id, text=request.POST.get("text", "")[:2000],
                                   request=request)
    except TongbanError as exc:
        return _refused(request, officer, case_id, exc, "id_comment_text")
    messages.success(request, _("批注已保存（仅工作人员可见）。"))
    return HttpResponseRedirect(reverse("backoffice:case_detail", args=[case_id]))


@require_http_methods(["GET"])
def case_material(request: HttpRequest, case_id: int, attachment_id: int) -> HttpResponse:
    """One material, shown in the browser; each opening audited (the engine's attachment_open)."""
    officer = _officer(request)
    try:
        attachment = case_attachments.attachment_open(user=officer, case_id=case_id, attachment_id=attachment_id,
                                                      request=request)
    except TongbanError as exc:
        raise Http404 from exc
    response = HttpResponse(bytes(attachment.content), content_type=attachment.content_type)
    response["Content-Disposition"] = f'inline; filename="material-{attachment.pk}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    return response


# -- statistics -----------------------------------------------------------------------------------------------


@require_http_methods(["GET"])
def statistics(request: HttpRequest) -> HttpResponse:
    officer = _officer(request)
    stats = casework.case_statistics(officer)
    return render(request, "backoffice/cases/stats.html", {
        "stats": stats, "scope": region_name(officer.region_code), "department": officer.get_department_display(),
        "now": timezone.localtime(),
        "chart_item": casework.bar_chart(stats.by_item, title=gettext("按事项统计办件量")),
        "chart_state": casework.bar_chart(stats.by_state, title=gettext("按状态统计办件量")),
        "chart_region": casework.bar_chart(stats.by_region, title=gettext("按地区统计办件量")),
        "chart_month": casework.column_chart(stats.by_month, title=gettext("近 12 个月每月提交的办件量")),
        "chart_overdue": casework.share_chart(stats.overdue_share, title=gettext("在办件超期占比")),
        "chart_late": casework.share_chart(stats.late_share, title=gettext("已办结件超期办结占比"))})
