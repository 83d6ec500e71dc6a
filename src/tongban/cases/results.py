"""Electronic results: a PDF with a Chinese font embedded, signed by the platform with SM2 (a detached
signature over the file's SM3, key purpose `document_signing`), carrying a QR code to the public page
`/verify/result/` that verifies it by case number and check code — and, given the file, its signature.

The font is WenQuanYi Micro Hei (Debian `fonts-wqy-microhei`, installed by scripts/install.sh) or any file
named by TONGBAN_CASES_PDF_FONT. Without one the document is still issued, in Latin letters only, marked as
such (`font_embedded=False`) and logged: a result is never held back for want of a font.
"""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.cases.models import Case, ElectronicResult
from tongban.cases.numbers import display
from tongban.core import clock
from tongban.core.logging import get_logger
from tongban.crypto import keys
from tongban.crypto.models import KeyPurpose
from tongban.crypto.sm3 import sm3

log = get_logger("tongban.cases")
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)
_CHECK_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed from paper


def cjk_font() -> Path | None:
    configured = getattr(settings, "TONGBAN_CASES_PDF_FONT", "")
    for candidate in ([configured] if configured else []) + list(FONT_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def new_check_code() -> str:
    return "".join(secrets.choice(_CHECK_ALPHABET) for _ in range(8))


def verify_url(number: str, check_code: str) -> str:
    base = str(getattr(settings, "TONGBAN_PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/")
    return f"{base}/verify/result/?number={number}&code={check_code}"


def render_pdf(case: Case, *, check_code: str, issued_on: str, holder: str) -> tuple[bytes, bool]:
    """The result document; (bytes, whether a Chinese font is embedded)."""
    import segno
    from fpdf import FPDF

    item = case.item_snapshot or {}
    result_name = str(item.get("result_name") or case.item_title)
    font = cjk_font()
    from tongban.cases import record_check

    special = record_check.document(case, holder=holder, issued_on=issued_on, check_code=check_code)
    if special is not None:
        result_name = special[0]
    pdf = FPDF(format="A4")
    pdf.set_creator("tongban")
    pdf.set_title(f"{result_name} {case.number}")
    pdf.add_page()
    if font is not None and special is not None:
        pdf.add_font("cjk", fname=str(font))
        pdf.set_font("cjk", size=20)
        lines = [*special[1], (10, ""),
                 (10, "本文书由公安“互联网+政务服务”平台以 SM2 数字签名签发，"),
                 (10, "可扫描二维码或在平台“电子结果核验”页面输入编号和核验码核验真伪。")]
    elif font is not None:
        pdf.add_font("cjk", fname=str(font))
        pdf.set_font("cjk", size=20)
        lines = [
            (20, result_name), (12, ""),
            (12, f"受理编号：{display(case.number or '')}"),
            (12, f"办理事项：{case.item_title}"),
            (12, f"申请人：{holder}"),
            (12, "办理结果：准予许可"),
            (12, f"签发日期：{issued_on}"),
            (12, f"核验码：{check_code}"),
            (10, ""),
            (10, "本电子结果由公安“互联网+政务服务”平台以 SM2 数字签名签发，"),
            (10, "可扫描二维码或在平台“电子结果核验”页面输入受理编号和核验码核验真伪。"),
        ]
    else:
        log.warning("cases.pdf_without_cjk_font", case_id=case.pk,
                    hint="install fonts-wqy-microhei (scripts/install.sh) or set TONGBAN_CASES_PDF_FONT")
        pdf.set_font("helvetica", size=18)
        lines = [
            (18, "Electronic result (no Chinese font installed on the server)"), (12, ""),
            (12, f"Case number: {display(case.number or '')}"), (12, f"Item code: {case.item_code}"),
            (12, "Decision: approved"), (12, f"Issued: {issued_on}"), (12, f"Check code: {check_code}"),
            (10, "Signed by the platform with SM2; verify at /verify/result/ with the case number and check code."),
        ]
    for size, text in lines:
        pdf.set_font_size(size)
        pdf.cell(0, size * 0.7 if text else 4, text=text, new_x="LMARGIN", new_y="NEXT")
    qr = io.BytesIO()
    segno.make(verify_url(case.number or "", check_code), error="m").save(qr, kind="png", scale=4, border=2)
    qr.seek(0)
    pdf.image(qr, x=150, y=20, w=40, h=40)
    return bytes(pdf.output()), font is not None


def sign_document(data: bytes) -> tuple[int, bytes]:
    """(key version, DER SM2 signature over the document's SM3 with the GM/T 0009 default ID)."""
    version, private = keys.current_signing_key(KeyPurpose.DOCUMENT_SIGNING)
    return version, private.sign(sm3(data))


def verify_document(data: bytes, signature: bytes, key_version: int) -> bool:
    try:
        public = keys.verifying_key(KeyPurpose.DOCUMENT_SIGNING, key_version)
    except Exception:
        return False
    try:
        return bool(public.verify(signature, sm3(data)))
    except Exception:
        return False


def _holder(case: Case) -> str:
    if case.enterprise_id is not None and case.enterprise is not None:
        return str(case.enterprise.name)
    from tongban.accounts.models import CitizenProfile

    profile = CitizenProfile.objects.filter(user_id=case.applicant_id).first()
    return str(profile.name) if profile is not None and profile.name else ""


@transaction.atomic
def result_issue(*, case_id: int) -> ElectronicResult:
    """Make, sign and keep the electronic result of an approved case, then close its delivery."""
    # Lock the case row only: PostgreSQL refuses FOR UPDATE on the nullable side of the enterprise join.
    case = Case.objects.select_for_update(of=("self",)).select_related("enterprise").get(pk=case_id)
    existing = ElectronicResult.objects.filter(case=case).first()
    if existing is not None:
        return existing
    check_code = new_check_code()
    issued = clock.now()
    data, embedded = render_pdf(case, check_code=check_code, issued_on=clock.to_local(issued).strftime("%Y-%m-%d"),
                                holder=_holder(case))
    version, signature = sign_document(data)
    result = ElectronicResult(case=case, check_code=check_code, pdf=data, sm3=sm3(data).hex(), signature=signature,
                              key_version=version, issued_at=issued, font_embedded=embedded)
    result.save()
    audit_record(action=Action.CASE_RESULT_ISSUE, actor=Actor.system("cases.results"),
                 subject=Subject("cases.case", case.pk),
                 details={"result": result.pk, "sm3": result.sm3, "key_version": version, "font": embedded})
    if case.state == "delivery":
        from tongban.cases.services import case_system_act

        case_system_act(case_id=case.pk, action="deliver", component="cases.results",
                        details={"result": result.pk})
    return result


def result_lookup(*, number: str, check_code: str) -> ElectronicResult | None:
    """The public check: the result of that number with that check code, or None (no difference shown
    between a wrong number and a wrong code)."""
    from tongban.cases.numbers import is_valid, normalise

    number = normalise(number)
    code = (check_code or "").strip().upper()
    if not is_valid(number) or len(code) != 8:
        return None
    result = (ElectronicResult.objects.select_related("case").defer("pdf")
              .filter(case__number=number, revoked_at__isnull=True).first())
    if result is None or not secrets.compare_digest(result.check_code, code):
        return None
    return result


def result_download(*, user: Any, case_id: int, request: Any = None) -> ElectronicResult:
    """The applicant's download of their electronic result (audited)."""
    from tongban.cases.services import applicant_may_act, not_found

    result = ElectronicResult.objects.select_related("case").filter(case_id=case_id).first()
    if result is None or not applicant_may_act(user, result.case):
        raise not_found()
    with transaction.atomic():
        audit_record(action=Action.CASE_RESULT_DOWNLOAD, actor=Actor.user(user), request=request,
                     subject=Subject("cases.case", result.case_id), details={"result": result.pk})
    return result
