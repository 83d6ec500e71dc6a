"""The staff side of payments (/backoffice/payments/): officers issue notices and record penalty decisions,
ask for refunds and approve a colleague's (four eyes); finance staff see the daily reconciliation and work
through its differences."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tongban.accounts.roles import StaffRole
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.payments import fees, reconcile, selectors, services
from tongban.payments.models import DocumentKind, Payment, PaymentStatus, Refund
from tongban.portal.account_views import form_error


def _staff(request: HttpRequest, *roles: StaffRole) -> Any:
    user: Any = request.user
    if not any(user.has_role(role) for role in roles):
        raise Http404
    return user


def parse_yuan(text: str) -> int:
    """"200" / "200.5" / "200.50" -> fen, without a float; ValueError otherwise."""
    text = text.strip().replace(",", "")
    if not re.fullmatch(r"\d{1,9}(\.\d{1,2})?", text):
        raise ValueError("amount")
    try:
        return int(Decimal(text) * 100)
    except InvalidOperation as exc:
        raise ValueError("amount") from exc


def _item_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    groups = []
    for cat in fees.categories().values():
        if cat.decision:
            continue
        groups.append((cat.name, [(f"{cat.code}/{item.code}", f"{item.name}（{fees.yuan(item.fen or 0)} 元）")
                                  for item in cat.items if item.fen]))
    return groups


class NoticeForm(forms.Form):
    item = forms.ChoiceField(label=_("缴款项目"), choices=())
    quantity = forms.IntegerField(label=_("数量"), min_value=1, max_value=99, initial=1)
    payer_name = forms.CharField(label=_("缴款人姓名或单位名称"), max_length=100)
    payer_id_number = forms.CharField(label=_("缴款人证件号码（可选）"), max_length=32, required=False,
                                      help_text=_("居民身份证、港澳居民来往内地通行证或统一社会信用代码"))
    payee_unit = forms.CharField(label=_("执收单位"), max_length=100)
    due_on = forms.DateField(label=_("缴款期限"), required=False, help_text=_("格式 2026-12-31；不填为 15 日后"),
                             widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = _item_choices()  # type: ignore[attr-defined]


class DecisionForm(forms.Form):
    number = forms.CharField(label=_("处罚决定书编号（可选）"), max_length=32, required=False,
                             help_text=_("已有编号的决定书填写其编号；不填则由平台编号"))
    fine = forms.CharField(label=_("罚款金额（元）"), max_length=12, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    served_on = forms.DateField(label=_("送达日期"), help_text=_("格式 2026-12-01；加处罚款自送达之日起第 16 日起算"),
                                widget=forms.DateInput(attrs={"type": "date"}))
    payer_name = forms.CharField(label=_("当事人姓名或单位名称"), max_length=100)
    payer_id_number = forms.CharField(label=_("当事人证件号码（可选）"), max_length=32, required=False)
    payee_unit = forms.CharField(label=_("执收单位"), max_length=100)

    def clean_fine(self) -> int:
        try:
            return parse_yuan(self.cleaned_data["fine"])
        except ValueError:
            raise forms.ValidationError(_("请填写金额，如 200 或 200.50。")) from None


class RefundForm(forms.Form):
    amount = forms.CharField(label=_("退款金额（元）"), max_length=12)
    reason = forms.CharField(label=_("退款原因"), max_length=200)

    def clean_amount(self) -> int:
        try:
            return parse_yuan(self.cleaned_data["amount"])
        except ValueError:
            raise forms.ValidationError(_("请填写金额，如 200 或 200.50。")) from None


class ReconcileForm(forms.Form):
    day = forms.DateField(label=_("对账日期"), help_text=_("格式 2026-12-01"), widget=forms.DateInput(attrs={"type": "date"}))


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    user = _staff(request, StaffRole.OFFICER, StaffRole.FINANCE)
    documents = list(selectors.documents_for_staff(user)[:50])
    return render(request, "payments/bo_home.html", {
        "documents": documents, "yuan": fees.yuan, "is_officer": user.has_role(StaffRole.OFFICER),
        "is_finance": user.has_role(StaffRole.FINANCE)})


@require_http_methods(["GET", "POST"])
def notice_new(request: HttpRequest) -> HttpResponse:
    user = _staff(request, StaffRole.OFFICER)
    form = NoticeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        category, item = form.cleaned_data["item"].split("/", 1)
        try:
            document = services.notice_issue(
                category=category, items=[{"code": item, "quantity": form.cleaned_data["quantity"]}],
                payer_name=form.cleaned_data["payer_name"], payer_id_number=form.cleaned_data["payer_id_number"],
                region_code=user.region_code, payee_unit=form.cleaned_data["payee_unit"],
                due_on=form.cleaned_data["due_on"], actor=user)
        except TongbanError as exc:
            form_error(request, form, exc)
        else:
            messages.success(request, _("已签发缴款通知书，缴款码 %(number)s。") % {"number": document.number})
            return redirect("payments_bo:document", number=document.number)
    return render(request, "payments/bo_form.html", {"form": form, "title": _("签发缴款通知书"), "submit": _("签发")},
                  status=422 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def decision_new(request: HttpRequest) -> HttpResponse:
    user = _staff(request, StaffRole.OFFICER)
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            document = services.decision_issue(
                number=form.cleaned_data["number"] or None, fine_fen=form.cleaned_data["fine"],
                served_on=form.cleaned_data["served_on"], payer_name=form.cleaned_data["payer_name"],
                payer_id_number=form.cleaned_data["payer_id_number"], region_code=user.region_code,
                payee_unit=form.cleaned_data["payee_unit"], actor=user)
        except TongbanError as exc:
            form_error(request, form, exc)
        else:
            messages.success(request, _("已登记处罚决定书 %(number)s。") % {"number": document.number})
            return redirect("payments_bo:document", number=document.number)
    return render(request, "payments/bo_form.html", {"form": form, "title": _("登记处罚决定书"), "submit": _("登记")},
                  status=422 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def document(request: HttpRequest, number: str) -> HttpResponse:
    user = _staff(request, StaffRole.OFFICER, StaffRole.FINANCE)
    doc = selectors.documents_for_staff(user).filter(number=number[:32]).first()
    if doc is None:
        raise Http404
    form = RefundForm(request.POST or None)
    paid = doc.payments.filter(status=PaymentStatus.SUCCESS).first()
    if request.method == "POST" and form.is_valid() and paid is not None and user.has_role(StaffRole.OFFICER):
        try:
            services.refund_request(payment_id=paid.pk, amount_fen=form.cleaned_data["amount"],
                                    reason=form.cleaned_data["reason"], actor=user)
        except TongbanError as exc:
            form_error(request, form, exc, "amount")
        else:
            messages.success(request, _("已提交退款申请，待另一名工作人员审批。"))
            return redirect("payments_bo:document", number=doc.number)
    from tongban.payments.views import pay_url_for

    return render(request, "payments/bo_document.html", {
        "doc": doc, "payments": selectors.payments_of(doc), "paid": paid, "form": form if paid else None,
        "yuan": fees.yuan, "amount_yuan": fees.yuan(doc.amount_fen), "payer_masked": doc.masked("payer_name"),
        "qr_svg": _qr(pay_url_for(doc)) if doc.status == "unpaid" else "",
        "refunds": list(Refund.objects.filter(payment__document=doc).order_by("-created_at")),
        "is_decision": doc.kind == DocumentKind.DECISION}, status=422 if form.errors else 200)


def _qr(url: str) -> str:
    import segno

    return segno.make(url, error="m").svg_inline(scale=3, border=2, title=gettext("扫码缴款的二维码"))


@require_GET
def refunds(request: HttpRequest) -> HttpResponse:
    user = _staff(request, StaffRole.OFFICER, StaffRole.FINANCE)
    return render(request, "payments/bo_refunds.html", {"refunds": list(selectors.refunds_pending()),
                                                        "yuan": fees.yuan, "me": user.pk})


@require_POST
def refund_decide(request: HttpRequest, refund_id: int) -> HttpResponse:
    user = _staff(request, StaffRole.OFFICER, StaffRole.FINANCE)
    try:
        services.refund_decide(refund_id=refund_id, approve=request.POST.get("decision") == "approve", actor=user)
    except TongbanError as exc:
        messages.error(request, exc.message(get_language()))
    else:
        messages.success(request, _("已处理退款申请。"))
    return redirect("payments_bo:refunds")


@require_http_methods(["GET", "POST"])
def reconciliation(request: HttpRequest) -> HttpResponse:
    user = _staff(request, StaffRole.FINANCE)
    form = ReconcileForm(request.POST or None, initial={"day": clock.today_local() - dt.timedelta(days=1)})
    if request.method == "POST" and form.is_valid():
        from tongban.payments.gateway import GatewayError

        try:
            run = reconcile.reconciliation_run(day=form.cleaned_data["day"], actor=user)
        except (GatewayError, reconcile.SettlementFileError):
            form.add_error(None, _("未能取得或读取该日对账文件，请稍后再试。"))
        else:
            messages.success(request, _("%(day)s 对账完成：差异 %(count)s 笔。") % {
                "day": f"{run.day:%Y-%m-%d}", "count": run.differences})
            return redirect("payments_bo:reconciliation")
    return render(request, "payments/bo_reconciliation.html", {
        "form": form, "runs": selectors.reconciliations_recent(), "differences": selectors.differences_open(),
        "yuan": fees.yuan}, status=422 if form.errors else 200)


@require_POST
def difference_resolve(request: HttpRequest, difference_id: int) -> HttpResponse:
    user = _staff(request, StaffRole.FINANCE)
    reconcile.difference_resolve(difference_id=difference_id, note=str(request.POST.get("note", "")), actor=user)
    messages.success(request, _("已标记为已处理。"))
    return redirect("payments_bo:reconciliation")


app_name = "payments_bo"
urlpatterns = [
    path("", home, name="home"),
    path("notice/new/", notice_new, name="notice_new"),
    path("decision/new/", decision_new, name="decision_new"),
    path("refunds/", refunds, name="refunds"),
    path("refunds/<int:refund_id>/decide/", refund_decide, name="refund_decide"),
    path("reconciliation/", reconciliation, name="reconciliation"),
    path("reconciliation/differences/<int:difference_id>/resolve/", difference_resolve, name="difference_resolve"),
    path("d/<str:number>/", document, name="document"),
]

__all__ = ["Payment", "urlpatterns"]
