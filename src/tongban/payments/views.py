"""The payer's pages (phone first): find a notice or decision by its number and the payer's name, or open it
from the QR code; pay; the return page, which asks the gateway rather than trusting the URL; the receipt;
the public check of a receipt; and the gateway's signed notification endpoint."""

from __future__ import annotations

import secrets
from typing import Any

import segno
from django import forms
from django.conf import settings
from django.db import transaction
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core import ratelimit
from tongban.core.errors import TongbanError
from tongban.core.logging import get_logger
from tongban.core.security import client_ip
from tongban.payments import fees, receipts, selectors, services
from tongban.payments.models import DocumentStatus, PayableDocument, Payment, PaymentStatus
from tongban.portal.account_views import form_error

log = get_logger("tongban.payments")
UNLOCKED = "payments_unlocked"
FIND_RATE = (20, 300)  # look-ups per client address per five minutes: the name is a second factor, not a secret


class FindForm(forms.Form):
    number = forms.CharField(label=_("缴款码或处罚决定书编号"), max_length=40,
                             help_text=_("缴款通知书上的 20 位缴款码，或处罚决定书上的编号"),
                             widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))
    payer_name = forms.CharField(label=_("缴款人姓名或单位名称"), max_length=100,
                                 help_text=_("与缴款通知书或处罚决定书上的一致；港澳居民可填写中文或英文姓名"),
                                 widget=forms.TextInput(attrs={"autocomplete": "name"}))


class VerifyForm(forms.Form):
    number = forms.CharField(label=_("票据号码"), max_length=20, help_text=_("电子票据上的 10 位票据号码"))
    code = forms.CharField(label=_("校验码"), max_length=10, help_text=_("电子票据上的 6 位校验码"))
    document = forms.FileField(label=_("电子票据文件（可选）"), required=False,
                               help_text=_("上传 PDF 文件，同时核对文件是否被改动"))


def _unlock(request: HttpRequest, document: PayableDocument) -> None:
    unlocked = [n for n in request.session.get(UNLOCKED, []) if n != document.pk][-19:]
    request.session[UNLOCKED] = [*unlocked, document.pk]


def _may_see(request: HttpRequest, document: PayableDocument) -> bool:
    user: Any = request.user
    if user.is_authenticated and document.payer_user_id == user.pk:
        return True
    return document.pk in request.session.get(UNLOCKED, [])


def _with_cashier_csp(response: HttpResponse) -> HttpResponse:
    """The pay form's POST is answered with a redirect to the gateway's cashier, another origin: the page's
    `form-action` must name it, or the browser stops the redirect (CSP applies form-action to redirects)."""
    from urllib.parse import urlsplit

    from tongban.core.security import DEFAULT_CSP

    url = str(settings.TONGBAN_PAYMENTS.get("CASHIER_ORIGIN") or settings.TONGBAN_PAYMENTS["GATEWAY"]["URL"])  # type: ignore[attr-defined,index]
    parts = urlsplit(url)
    base = getattr(settings, "TONGBAN_CONTENT_SECURITY_POLICY", DEFAULT_CSP)
    if parts.scheme in ("http", "https") and parts.netloc:
        response["Content-Security-Policy"] = base.replace("form-action 'self'",
                                                           f"form-action 'self' {parts.scheme}://{parts.netloc}")
    return response


def _qr_svg(url: str, label: str) -> str:
    return segno.make(url, error="m").svg_inline(scale=4, border=2, title=label)


def pay_url_for(document: PayableDocument) -> str:
    """What the QR code on the notice (and on the case page) carries: this site's pay page with a token
    standing for the payer's name."""
    base = str(getattr(settings, "TONGBAN_PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/")
    return f"{base}/pay/{document.number}/?t={services.qr_token(document.number)}"


@require_http_methods(["GET", "POST"])
def find(request: HttpRequest) -> HttpResponse:
    form = FindForm(request.POST if request.method == "POST" else None,
                    initial={"number": request.GET.get("number", "")[:40]})
    if request.method == "POST" and form.is_valid():
        if not ratelimit.hit(f"payments:find:{client_ip(request)}", limit=FIND_RATE[0], window=FIND_RATE[1]).allowed:
            form.add_error(None, _("查询过于频繁，请稍后再试。"))
        else:
            document = selectors.document_for_payer(number=form.cleaned_data["number"],
                                                    payer_name=form.cleaned_data["payer_name"])
            if document is None:
                form.add_error(None, _("未找到与该编号和缴款人相符的缴款文书，请核对后重试。"))
            else:
                _unlock(request, document)
                return redirect("payments:document", number=document.number)
    return render(request, "payments/find.html", {"form": form}, status=422 if form.errors else 200)


@require_http_methods(["GET", "POST"])
def document(request: HttpRequest, number: str) -> HttpResponse:
    doc = selectors.document_by_number(number)
    if doc is None:
        raise Http404
    token = request.GET.get("t", "")
    if token and services.qr_token_valid(doc.number, token):
        _unlock(request, doc)
        return redirect("payments:document", number=doc.number)  # the token leaves the address bar
    if not _may_see(request, doc):
        return redirect(f"{reverse('payments:find')}?number={doc.number}")
    error, error_status = "", 200
    if request.method == "POST":
        key = str(request.POST.get("idempotency_key", ""))[:128]
        try:
            expected = int(request.POST.get("amount_fen", ""))
        except ValueError:
            expected = None
        channel = "qr" if request.POST.get("channel") == "qr" else "redirect"
        try:
            outcome = services.payment_create(document_id=doc.pk, idempotency_key=key, channel=channel,
                                              user=request.user, expected_total_fen=expected)
        except TongbanError as exc:
            error, error_status = exc.message(getattr(request, "LANGUAGE_CODE", "zh-hans")), exc.http_status()
        else:
            payment = outcome.payment
            if payment.status == PaymentStatus.STARTED and payment.pay_url:
                if channel == "qr":
                    return redirect("payments:qr", order_id=payment.order_id)
                return redirect(payment.pay_url)
            return redirect("payments:return", order_id=payment.order_id)
    with transaction.atomic():
        audit_record(action=Action.PAYMENT_DOCUMENT_OPEN, request=request, subject=Subject("payments.document", doc.pk),
                     details={"number": doc.number})
    due = services.amount_due(doc)
    paid = doc.payments.filter(status=PaymentStatus.SUCCESS).first() if doc.status == DocumentStatus.PAID else None
    category = fees.category(doc.category)
    return _with_cashier_csp(render(request, "payments/document.html", {
        "doc": doc, "due": due, "paid": paid, "category": category, "error": error,
        "idempotency_key": secrets.token_urlsafe(24), "yuan": fees.yuan, "capitals": fees.capitals(due.total_fen),
        "principal_yuan": fees.yuan(due.principal_fen), "surcharge_yuan": fees.yuan(due.surcharge_fen),
        "total_yuan": fees.yuan(due.total_fen),
        "items": [{**i, "yuan": fees.yuan(int(i["fen"]) * int(i.get("quantity", 1)))} for i in doc.items],
        "qr_svg": _qr_svg(pay_url_for(doc), gettext("扫码缴款的二维码")) if doc.status == DocumentStatus.UNPAID else "",
        "payer_masked": doc.masked("payer_name")},
        status=error_status))


@require_GET
def qr(request: HttpRequest, order_id: str) -> HttpResponse:
    """The "scan with another phone" page: the gateway's cashier as a QR code."""
    payment = Payment.objects.select_related("document").filter(order_id=order_id[:32]).first()
    if payment is None or not _may_see(request, payment.document) or not payment.pay_url:
        raise Http404
    return render(request, "payments/qr.html", {"payment": payment, "total_yuan": fees.yuan(payment.total_fen),
                                                "qr_svg": _qr_svg(payment.pay_url, gettext("支付平台收银台二维码"))})


@require_GET
def payment_return(request: HttpRequest, order_id: str) -> HttpResponse:
    payment = Payment.objects.select_related("document").filter(order_id=order_id[:32]).first()
    if payment is None or not _may_see(request, payment.document):
        raise Http404
    payment = services.payment_refresh(payment_id=payment.pk)
    receipt = receipts.receipt_ensure(payment_id=payment.pk) if payment.status == PaymentStatus.SUCCESS else None
    return render(request, "payments/return.html", {"payment": payment, "doc": payment.document, "receipt": receipt,
                                                    "total_yuan": fees.yuan(payment.total_fen)})


@require_GET
def receipt_pdf(request: HttpRequest, order_id: str) -> FileResponse:
    payment = Payment.objects.select_related("document").filter(order_id=order_id[:32]).first()
    if payment is None or not _may_see(request, payment.document):
        raise Http404
    receipt = receipts.receipt_ensure(payment_id=payment.pk)
    if receipt is None:
        raise Http404
    with transaction.atomic():
        audit_record(action=Action.PAYMENT_RECEIPT_DOWNLOAD, request=request,
                     subject=Subject("payments.payment", payment.pk), details={"receipt": receipt.pk})
    import io

    return FileResponse(io.BytesIO(bytes(receipt.pdf or b"")), content_type="application/pdf", as_attachment=True,
                        filename=f"receipt-{receipt.code}-{receipt.number}.pdf")


@require_http_methods(["GET", "POST"])
def verify_receipt(request: HttpRequest) -> HttpResponse:
    source = request.POST if request.method == "POST" else (request.GET if "number" in request.GET else None)
    form = VerifyForm(source, request.FILES if request.method == "POST" else None)
    outcome: dict[str, Any] | None = None
    if source is not None and form.is_valid():
        receipt = receipts.receipt_lookup(number=form.cleaned_data["number"], check_code=form.cleaned_data["code"])
        if receipt is None:
            form.add_error(None, _("未找到与该票据号码和校验码相符的电子票据，请核对后重试。"))
        else:
            outcome = {"receipt": receipt, "doc": receipt.payment.document, "total_yuan": fees.yuan(receipt.total_fen),
                       "capitals": fees.capitals(receipt.total_fen), "file_checked": False, "file_valid": False}
            upload = form.cleaned_data.get("document")
            if upload is not None:
                data = b"".join(upload.chunks()) if upload.size <= 5 * 1024 * 1024 else b""
                outcome["file_checked"] = True
                outcome["file_valid"] = receipts.file_matches(receipt, data)
    return render(request, "payments/verify_receipt.html", {"form": form, "outcome": outcome},
                  status=422 if form.errors else 200)


@csrf_exempt
@require_POST
def gateway_notify(request: HttpRequest) -> HttpResponse:
    """The gateway's asynchronous notification. 200 tells it to stop sending; a repeat is answered 200 too."""
    body = request.body[:16 * 1024]
    try:
        outcome = services.notification_receive(body=body, timestamp=request.headers.get("X-Pay-Timestamp", ""),
                                                signature=request.headers.get("X-Pay-Signature", ""))
    except TongbanError as exc:
        if exc.code == "signature_invalid":
            log.warning("payments.notify_bad_signature")
        return JsonResponse({"error": {"code": exc.code, "message": exc.message("zh-hans")}},
                            status=exc.http_status())
    return JsonResponse({"received": True, "outcome": outcome})


def actor_of(request: HttpRequest) -> Actor:
    return Actor.user(request.user)


__all__ = ["form_error"]
