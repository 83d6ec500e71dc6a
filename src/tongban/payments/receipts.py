"""The electronic non-tax receipt (非税收入电子票据): 票据代码, 票号, 校验码, payer, date, items, total in figures
and in capitals, payee; a PDF signed by the platform with SM2 over its SM3 — the case engine's document
signing (tongban.cases.results: the same key purpose, font and signature format) — verifiable on the public
page /verify/receipt/ by 票号 and 校验码 (the QR code on the receipt leads there)."""

from __future__ import annotations

import io
import secrets

from django.conf import settings
from django.db import IntegrityError, transaction

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.cases.results import cjk_font, sign_document, verify_document
from tongban.core import clock
from tongban.core.logging import get_logger
from tongban.crypto.sm3 import sm3
from tongban.payments import fees, numbers
from tongban.payments.models import Payment, PaymentStatus, Receipt

log = get_logger("tongban.payments")
_CHECK_ALPHABET = "0123456789abcdef"
__all__ = ["receipt_ensure", "receipt_lookup", "verify_document"]


def verify_url(number: str, check_code: str) -> str:
    base = str(getattr(settings, "TONGBAN_PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/")
    return f"{base}/verify/receipt/?number={number}&code={check_code}"


def render_pdf(payment: Payment, *, code: str, number: str, check_code: str) -> tuple[bytes, bool]:
    import segno
    from fpdf import FPDF

    document = payment.document
    issued = clock.to_local(payment.paid_at or clock.now())
    payee = str(settings.TONGBAN_PAYMENTS["RECEIPT_PAYEE"])  # type: ignore[index]
    pdf = FPDF(format="A4")
    pdf.set_creator("tongban")
    pdf.set_title(f"{code} {number}")
    pdf.add_page()
    font = cjk_font()
    if font is None:
        log.warning("payments.pdf_without_cjk_font", payment_id=payment.pk)
        pdf.set_font("helvetica", size=12)
        for text in ("Non-tax revenue e-receipt (no Chinese font installed on the server)",
                     f"Code {code}  No. {number}  Check {check_code}", f"Date {issued:%Y-%m-%d}",
                     f"Reference {document.number}", f"Total {fees.yuan(payment.total_fen)} CNY"):
            pdf.cell(0, 8, text=text, new_x="LMARGIN", new_y="NEXT")
    else:
        pdf.add_font("cjk", fname=str(font))
        pdf.set_font("cjk", size=18)
        pdf.cell(0, 12, text="非税收入统一票据（电子）", new_x="LMARGIN", new_y="NEXT", align="C")
        pdf.set_font_size(10)
        for text in (f"票据代码：{code}    票据号码：{number}    校验码：{check_code}",
                     f"交款人：{document.payer_name or ''}    开票日期：{issued:%Y-%m-%d}",
                     f"缴款码/决定书编号：{document.number}    执收单位：{document.payee_unit}"):
            pdf.cell(0, 7, text=text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        pdf.cell(100, 7, text="项目名称", border=1)
        pdf.cell(20, 7, text="数量", border=1)
        pdf.cell(50, 7, text="金额（元）", border=1, new_x="LMARGIN", new_y="NEXT")
        rows = [(str(i["name"]), int(i.get("quantity", 1)), int(i["fen"]) * int(i.get("quantity", 1)))
                for i in document.items]
        if payment.surcharge_fen:
            rows.append(("加处罚款（逾期缴纳）", 1, payment.surcharge_fen))
        for name, quantity, fen in rows:
            pdf.cell(100, 7, text=name[:40], border=1)
            pdf.cell(20, 7, text=str(quantity), border=1)
            pdf.cell(50, 7, text=fees.yuan(fen), border=1, new_x="LMARGIN", new_y="NEXT")
        pdf.cell(0, 7, text=f"金额合计（大写）：{fees.capitals(payment.total_fen)}    （小写）¥{fees.yuan(payment.total_fen)}",
                 new_x="LMARGIN", new_y="NEXT")
        pdf.cell(0, 7, text=f"收款单位（章）：{payee}", new_x="LMARGIN", new_y="NEXT")
        pdf.set_font_size(8)
        pdf.cell(0, 6, text="本票据由平台以 SM2 数字签名签发，可扫描二维码或在“电子票据查验”页面输入票据号码和校验码查验。",
                 new_x="LMARGIN", new_y="NEXT")
    qr = io.BytesIO()
    segno.make(verify_url(number, check_code), error="m").save(qr, kind="png", scale=3, border=2)
    qr.seek(0)
    pdf.image(qr, x=165, y=8, w=30, h=30)
    return bytes(pdf.output()), font is not None


def receipt_ensure(*, payment_id: int) -> Receipt | None:
    """The receipt of a successful payment, issued once (by the job, or by the return page if it comes first)."""
    existing = Receipt.objects.filter(payment_id=payment_id).first()
    if existing is not None:
        return existing
    payment = Payment.objects.select_related("document").get(pk=payment_id)
    if payment.status != PaymentStatus.SUCCESS:
        return None
    code = str(settings.TONGBAN_PAYMENTS["RECEIPT_CODE"])  # type: ignore[index]
    check_code = "".join(secrets.choice(_CHECK_ALPHABET) for _ in range(6))
    try:
        with transaction.atomic():
            Payment.objects.select_for_update().get(pk=payment_id)
            if Receipt.objects.filter(payment_id=payment_id).exists():
                return Receipt.objects.get(payment_id=payment_id)
            number = numbers.allocate("receipt", region="", day=clock.today_local())
            data, embedded = render_pdf(payment, code=code, number=number, check_code=check_code)
            version, signature = sign_document(data)
            receipt = Receipt(payment=payment, code=code, number=number, check_code=check_code,
                              total_fen=payment.total_fen, pdf=data, sm3=sm3(data).hex(), signature=signature,
                              key_version=version, font_embedded=embedded)
            receipt.save()
            audit_record(action=Action.PAYMENT_RECEIPT_ISSUE, actor=Actor.system("payments.receipts"),
                         subject=Subject("payments.payment", payment.pk),
                         details={"receipt": receipt.pk, "code": code, "number": number, "sm3": receipt.sm3,
                                  "key_version": version})
            return receipt
    except IntegrityError:
        return Receipt.objects.filter(payment_id=payment_id).first()


def receipt_lookup(*, number: str, check_code: str) -> Receipt | None:
    """The public check by 票号 and 校验码 (a wrong number and a wrong code look the same)."""
    number = numbers.normalise(number)
    code = (check_code or "").strip().lower()
    if not numbers.checks_out("receipt", number) or len(code) != 6:
        return None
    receipt = Receipt.objects.defer("pdf").select_related("payment__document").filter(number=number).first()
    if receipt is None or not secrets.compare_digest(receipt.check_code, code):
        return None
    return receipt


def file_matches(receipt: Receipt, data: bytes) -> bool:
    return bool(data) and sm3(data).hex() == receipt.sm3 and verify_document(data, bytes(receipt.signature),
                                                                              receipt.key_version)
