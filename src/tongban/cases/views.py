"""The citizen's side of the case engine: apply (form, materials, delivery; a review page before
submitting), 我的办件 (list, detail with its progress and timeline, withdraw, answer a correction, the
parcel's tracking, the electronic result), the message centre; the public check of an electronic result;
the courier's signed tracking callback. Views parse input and call one service.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from tongban.accounts.enterprises import acting_enterprise
from tongban.cases import selectors, services
from tongban.cases.attachments import attachment_add, attachment_open, current_attachments
from tongban.cases.catalog_bridge import ItemSpec, published_item
from tongban.cases.delivery import parcel_event_record, verify_signature
from tongban.cases.form_schema import ApplicationForm, display_rows
from tongban.cases.models import Case, DeliveryMethod, ElectronicResult, Parcel, ParcelDirection
from tongban.cases.prefill import materials_fetch, prefill_for
from tongban.cases.results import result_download, result_lookup, verify_document
from tongban.core.errors import TongbanError
from tongban.core.logging import get_logger
from tongban.portal.account_views import citizen_required, form_error

log = get_logger("tongban.cases")
PAGE_SIZE = 20


def _message(request: HttpRequest, exc: TongbanError) -> str:
    return exc.message(getattr(request, "LANGUAGE_CODE", "zh-hans"))


def _enterprise_id(request: HttpRequest) -> int | None:
    enterprise = acting_enterprise(request)
    return enterprise.pk if enterprise is not None else None


# -- applying ----------------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def apply_start(request: HttpRequest, code: str) -> HttpResponse:
    """The item's application entry: what it needs; start a draft (as oneself or the enterprise acted for)."""
    item = published_item(code)
    if item is None:
        raise Http404
    problem = ""
    user: Any = request.user
    acting = acting_enterprise(request) if user.is_authenticated else None
    if request.method == "POST":
        if not user.is_authenticated:
            return redirect(f"{reverse('portal:login')}?next={request.path}")
        try:
            case = services.case_start(user=user, item_code=code, enterprise_id=acting.pk if acting else None,
                                       request=request)
        except TongbanError as exc:
            problem = _message(request, exc)
        else:
            return redirect("cases:edit", case_id=case.pk)
    return render(request, "cases/apply_start.html", {"item": item, "problem": problem, "acting": acting},
                  status=422 if problem else 200)


class DeliveryForm(forms.Form):
    delivery_method = forms.ChoiceField(label=_("结果送达方式"), choices=DeliveryMethod.choices, widget=forms.RadioSelect)
    delivery_station = forms.ChoiceField(label=_("领取地点"), required=False, choices=[])
    delivery_recipient = forms.CharField(label=_("收件人"), required=False, max_length=50,
                                         widget=forms.TextInput(attrs={"autocomplete": "name"}))
    delivery_phone = forms.RegexField(r"^(?:1[3-9]\d{9}|\+85[23]\d{8})$", label=_("收件人手机号码"), required=False,
                                      max_length=12,
                                      error_messages={"invalid": _(
                                          "请输入 11 位内地手机号码，或 +852 / +853 开头的港澳手机号码。")},
                                      widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))
    delivery_address = forms.CharField(label=_("收件地址"), required=False, max_length=200,
                                       help_text=_("邮寄送达时填写，精确到门牌号。"),
                                       widget=forms.TextInput(attrs={"autocomplete": "street-address"}))

    def __init__(self, item: ItemSpec, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [c for c in DeliveryMethod.choices
                   if (c[0] != DeliveryMethod.POST or item.postal_delivery)
                   and (c[0] != DeliveryMethod.ELECTRONIC or item.electronic_result)
                   # two-way post: the originals come by post and go back by post
                   and (c[0] == DeliveryMethod.POST or item.workflow != "two_way_post")]
        field: Any = self.fields["delivery_method"]
        field.choices = choices
        stations = list(item.pickup_stations) or ["受理地公安机关办证窗口"]
        station: Any = self.fields["delivery_station"]
        station.choices = [("", _("请选择")), *[(s, s) for s in stations]]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        method = data.get("delivery_method")
        if method == DeliveryMethod.POST:
            for name in ("delivery_recipient", "delivery_phone", "delivery_address"):
                if not data.get(name) and name not in self.errors:
                    self.add_error(name, _("邮寄送达请填写%(field)s。") % {"field": self.fields[name].label})
        if method == DeliveryMethod.PICKUP and not data.get("delivery_station"):
            self.add_error("delivery_station", _("请选择领取地点。"))
        return data

    def as_service(self) -> dict[str, Any]:
        d = self.cleaned_data
        return {"method": d.get("delivery_method"), "station": d.get("delivery_station", ""),
                "recipient": d.get("delivery_recipient", ""), "phone": d.get("delivery_phone", ""),
                "address": d.get("delivery_address", "")}


def _materials_form(item: ItemSpec, data: Any = None, files: Any = None) -> forms.Form:
    form = forms.Form(data, files)
    for material in item.materials:
        if material.obtained_by_platform:
            continue
        form.fields[f"material_{material.code}"] = forms.FileField(
            label=material.name, required=False,
            help_text=_("JPEG、PNG 图片或 PDF 文件，不超过 5 MB。（必需）") if material.required
            else _("JPEG、PNG 图片或 PDF 文件，不超过 5 MB。（选填）"),
            widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,application/pdf"}))
    return form


def _delivery_initial(case: Case) -> dict[str, Any]:
    return {"delivery_method": case.delivery_method, "delivery_station": case.pickup_station,
            "delivery_recipient": case.delivery_recipient or "", "delivery_phone": case.delivery_phone or "",
            "delivery_address": case.delivery_address or ""}


@citizen_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, case_id: int) -> HttpResponse:
    """The application form (prefilled fields shown, not asked), materials and delivery; saved as a draft."""
    try:
        case = selectors.case_for_applicant(request.user, case_id)
    except TongbanError:
        raise Http404 from None
    if case.state not in ("draft", "correction"):
        return redirect("cases:detail", case_id=case.pk)
    item = ItemSpec.from_snapshot(case.item_snapshot)
    prefill = prefill_for(user=request.user, item=item, request=request)
    posted = request.method == "POST"
    form = ApplicationForm(item.application_form, request.POST if posted else None,
                           initial=None if posted else case.data, prefilled=prefill.values,
                           vehicle_choices=prefill.vehicle_choices)
    materials_form = _materials_form(item, request.POST if posted else None, request.FILES if posted else None)
    delivery_form = DeliveryForm(item, request.POST if posted else None,
                                 initial=None if posted else _delivery_initial(case))
    if posted and form.is_valid() and materials_form.is_valid() and delivery_form.is_valid():
        try:
            services.case_save_draft(user=request.user, case_id=case.pk, answers=form.answers(),
                                     prefilled=list(prefill.values), delivery=delivery_form.as_service(),
                                     request=request)
            for name, upload in request.FILES.items():
                if name.startswith("material_") and name in materials_form.fields:
                    try:
                        attachment_add(user=request.user, case_id=case.pk, material_code=name[len("material_"):],
                                       file=upload, request=request)
                    except TongbanError as exc:
                        materials_form.add_error(name, _message(request, exc))
            missing = materials_fetch(user=request.user, case=case, request=request)
            if missing:
                messages.warning(request, _("以下材料平台暂未能获取，请稍后再试或联系受理机关：%(materials)s") % {
                    "materials": "、".join(missing)})
        except TongbanError as exc:
            form_error(request, delivery_form, exc, "delivery_method")
        if not materials_form.errors and not delivery_form.errors:
            if request.POST.get("next") == "review":
                return redirect("cases:review", case_id=case.pk)
            messages.success(request, _("草稿已保存。"))
            return redirect("cases:edit", case_id=case.pk)
    status = 422 if posted and (form.errors or materials_form.errors or delivery_form.errors) else 200
    return render(request, "cases/edit.html", {
        "case": case, "item": item, "form": form, "materials_form": materials_form, "delivery_form": delivery_form,
        "prefilled_rows": display_rows(item.application_form, prefill.values, set(prefill.values)),
        "attachments": current_attachments(case), "platform_materials": [m for m in item.materials
                                                                        if m.obtained_by_platform],
        "unavailable": prefill.unavailable}, status=status)


@citizen_required
@require_http_methods(["GET", "POST"])
def review(request: HttpRequest, case_id: int) -> HttpResponse:
    """Everything at a glance before submitting (or sending the correction back)."""
    try:
        case = selectors.case_for_applicant(request.user, case_id)
    except TongbanError:
        raise Http404 from None
    if case.state not in ("draft", "correction"):
        return redirect("cases:detail", case_id=case.pk)
    problem = ""
    if request.method == "POST":
        try:
            if case.state == "correction":
                services.case_answer_correction(user=request.user, case_id=case.pk,
                                                note=request.POST.get("note", "")[:500], request=request)
                messages.success(request, _("补正材料已提交，办理时限恢复计时。"))
            else:
                case = services.case_submit(user=request.user, case_id=case.pk, request=request)
                messages.success(request, _("申请已提交，受理编号 %(number)s。") % {"number": case.display_number})
            return redirect("cases:detail", case_id=case.pk)
        except TongbanError as exc:
            problem = _message(request, exc)
    item = ItemSpec.from_snapshot(case.item_snapshot)
    return render(request, "cases/review.html", {
        "case": case, "item": item, "problem": problem,
        "rows": display_rows(item.application_form, case.data, set(case.prefilled)),
        "address_masked": case.masked("delivery_address") if case.delivery_address else "",
        "attachments": current_attachments(case)}, status=422 if problem else 200)


# -- 我的办件 ----------------------------------------------------------------------------------------------


@citizen_required
@require_http_methods(["GET"])
def my_cases(request: HttpRequest) -> HttpResponse:
    enterprise = acting_enterprise(request)
    rows = selectors.cases_of_applicant(request.user, enterprise_id=enterprise.pk if enterprise else None)
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    items = [{"case": c, "state": selectors.state_label(c), "deadline": services.countdown_of(c)}
             for c in page.object_list]
    return render(request, "cases/my_cases.html", {"page": page, "items": items, "acting": enterprise})


def _applicant_case(request: HttpRequest, case_id: int) -> Case:
    try:
        return selectors.case_for_applicant(request.user, case_id)
    except TongbanError:
        raise Http404 from None


@citizen_required
@require_http_methods(["GET"])
def detail(request: HttpRequest, case_id: int) -> HttpResponse:
    case = _applicant_case(request, case_id)
    item = ItemSpec.from_snapshot(case.item_snapshot)
    parcel = Parcel.objects.filter(case=case, direction=ParcelDirection.OUTBOUND).first()
    inbound = Parcel.objects.filter(case=case, direction=ParcelDirection.INBOUND).first()
    result = ElectronicResult.objects.filter(case=case).defer("pdf").first()
    actions = {a.key for a in selectors.available_actions(request.user, case)}
    return render(request, "cases/detail.html", {
        "case": case, "item": item, "state": selectors.state_label(case),
        "deadline": services.countdown_of(case), "steps": selectors.progress_steps(case),
        "timeline": selectors.timeline(case, for_applicant=True),
        "rows": display_rows(item.application_form, case.data, set(case.prefilled)),
        "attachments": current_attachments(case), "parcel": parcel,
        "tracking": list(parcel.events.all()) if parcel else [], "result": result,
        "inbound": inbound, "inbound_tracking": list(inbound.events.all()) if inbound else [],
        "can_withdraw": "withdraw" in actions, "can_correct": "resubmit" in actions,
        "can_edit": case.state == "draft"})


@citizen_required
@require_POST
def withdraw(request: HttpRequest, case_id: int) -> HttpResponse:
    try:
        services.case_withdraw(user=request.user, case_id=case_id, request=request)
    except TongbanError as exc:
        if exc.code == "not_found":
            raise Http404 from None
        messages.error(request, _message(request, exc))
    else:
        messages.success(request, _("申请已撤回。"))
    return redirect("cases:detail", case_id=case_id)


@citizen_required
@require_http_methods(["GET"])
def material(request: HttpRequest, case_id: int, attachment_id: int) -> HttpResponse:
    try:
        attachment = attachment_open(user=request.user, case_id=case_id, attachment_id=attachment_id,
                                     request=request)
    except TongbanError:
        raise Http404 from None
    response = HttpResponse(attachment.content, content_type=attachment.content_type)
    response["Content-Disposition"] = f'attachment; filename="material-{attachment.pk}"'
    response["Cache-Control"] = "no-store"
    return response


@citizen_required
@require_http_methods(["GET"])
def result_pdf(request: HttpRequest, case_id: int) -> HttpResponse:
    try:
        result = result_download(user=request.user, case_id=case_id, request=request)
    except TongbanError:
        raise Http404 from None
    response = HttpResponse(result.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="result-{result.case.number}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


# -- the message centre ------------------------------------------------------------------------------------


@citizen_required
@require_http_methods(["GET", "POST"])
def my_messages(request: HttpRequest) -> HttpResponse:
    from tongban.notifications.models import AccountMessage
    from tongban.notifications.services import account_messages_mark_read

    user_id = int(request.user.pk or 0)
    if request.method == "POST":
        account_messages_mark_read(user_id=user_id)
        messages.success(request, _("已全部标为已读。"))
        return redirect("cases:messages")
    rows = AccountMessage.objects.filter(user_id=user_id).order_by("-created_at", "-id")
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    unread = AccountMessage.objects.filter(user_id=user_id, read_at__isnull=True).count()
    return render(request, "cases/messages.html", {"page": page, "unread": unread})


# -- the public check of an electronic result --------------------------------------------------------------


class VerifyForm(forms.Form):
    number = forms.CharField(label=_("受理编号"), max_length=30, help_text=_("电子结果上的受理编号，例如 330106-261206-00042-7。"))
    code = forms.CharField(label=_("核验码"), max_length=12, help_text=_("电子结果上的 8 位核验码。"))
    document = forms.FileField(label=_("电子结果文件（选填）"), required=False,
                               help_text=_("上传收到的 PDF，可核验文件是否被改动、签名是否有效。"))


@require_http_methods(["GET", "POST"])
def verify_result(request: HttpRequest) -> HttpResponse:
    source = request.POST if request.method == "POST" else (request.GET if "number" in request.GET else None)
    form = VerifyForm(source, request.FILES if request.method == "POST" else None)
    outcome: dict[str, Any] | None = None
    if source is not None and form.is_valid():
        result = result_lookup(number=form.cleaned_data["number"], check_code=form.cleaned_data["code"])
        if result is None:
            form.add_error(None, _("未找到与该受理编号和核验码相符的电子结果，请核对后重试。"))
        else:
            outcome = {"result": result, "case": result.case, "file_checked": False, "file_valid": False}
            upload = form.cleaned_data.get("document")
            if upload is not None:
                data = b"".join(upload.chunks()) if upload.size <= 5 * 1024 * 1024 else b""
                from tongban.crypto.sm3 import sm3

                outcome["file_checked"] = True
                outcome["file_valid"] = bool(data) and sm3(data).hex() == result.sm3 and verify_document(
                    data, bytes(result.signature), result.key_version)
    return render(request, "cases/verify_result.html", {"form": form, "outcome": outcome},
                  status=422 if form.errors else 200)


# -- the courier's tracking callback -------------------------------------------------------------------------


@csrf_exempt
@require_POST
def ems_callback(request: HttpRequest) -> HttpResponse:
    body = request.body[:16 * 1024]
    token = str(settings.TONGBAN_EMS.get("TOKEN") or "")
    if not token or not verify_signature(token=token, timestamp=request.headers.get("X-Ems-Timestamp", ""),
                                         signature=request.headers.get("X-Ems-Signature", ""), body=body):
        log.warning("ems.callback_bad_signature")
        return JsonResponse({"error": {"code": "unauthenticated", "message": "签名不正确"}}, status=401)
    try:
        data = json.loads(body)
        occurred = dt.datetime.fromisoformat(str(data["occurred_at"]))
        if occurred.tzinfo is None:
            raise ValueError("naive time")
        recorded = parcel_event_record(waybill=str(data["waybill"])[:32], event_id=str(data["event_id"])[:64],
                                       status=str(data["status"]), description=str(data.get("description", "")),
                                       occurred_at=occurred)
    except (ValueError, KeyError, TypeError):
        return JsonResponse({"error": {"code": "bad_request", "message": "回调内容不正确"}}, status=400)
    return JsonResponse({"recorded": recorded})
