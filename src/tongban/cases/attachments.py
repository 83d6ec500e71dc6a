"""Materials (申请材料): uploads judged by their bytes, size-limited, scanned, images re-encoded, stored
SM4-GCM encrypted; every opening audited.

The virus scanner is an interface chosen in settings (TONGBAN_VIRUS_SCANNER, a dotted path): `NoopScanner`
by default (a deployment puts its engine behind it), `EicarScanner` — which refuses the EICAR test
string, as every engine does — in the tests and the demo.
"""

from __future__ import annotations

import io
from typing import Any, Protocol, runtime_checkable

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest
from django.utils.module_loading import import_string

from tongban.audit.actions import Action
from tongban.cases.models import AttachmentSource, Case, CaseAttachment
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.core.uploads import sniff_upload
from tongban.crypto.sm3 import sm3

ALLOWED = frozenset({"image/jpeg", "image/png", "application/pdf"})
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
MAX_IMAGE_SIDE = 4000
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class VirusFound(Exception):
    pass


@runtime_checkable
class VirusScanner(Protocol):
    def scan(self, data: bytes) -> None:
        """Raise VirusFound if the content is infected."""


class NoopScanner:
    """No engine configured: accepts everything (a deployment configures its own)."""

    def scan(self, data: bytes) -> None:
        return None


class EicarScanner:
    """Refuses content carrying the EICAR anti-virus test string (what any engine detects)."""

    def scan(self, data: bytes) -> None:
        if EICAR in data:
            raise VirusFound("EICAR-Test-File")


def scanner() -> VirusScanner:
    path = getattr(settings, "TONGBAN_VIRUS_SCANNER", "tongban.cases.attachments.NoopScanner")
    return import_string(path)()  # type: ignore[no-any-return]


def max_bytes() -> int:
    return int(getattr(settings, "TONGBAN_CASES_MAX_UPLOAD_BYTES", DEFAULT_MAX_BYTES))


def _read(file: Any, limit: int) -> bytes:
    if hasattr(file, "seek"):
        file.seek(0)
    if hasattr(file, "chunks"):
        data = b"".join(file.chunks())
    else:
        data = file.read(limit + 1)
    return bytes(data)


def reencode_image(data: bytes, mime: str) -> bytes:
    """Decode and encode again: drops metadata (EXIF, GPS) and anything hidden after the image data."""
    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(data)) as opened:
        image: Image.Image = ImageOps.exif_transpose(opened)
        if max(image.size) > MAX_IMAGE_SIDE:
            image.thumbnail((MAX_IMAGE_SIDE, MAX_IMAGE_SIDE))
        out = io.BytesIO()
        if mime == "image/jpeg":
            image.convert("RGB").save(out, "JPEG", quality=88, optimize=True)
        else:
            if image.mode not in ("RGB", "RGBA", "L", "LA", "P"):
                image = image.convert("RGBA")
            image.save(out, "PNG", optimize=True)
    return out.getvalue()


@transaction.atomic
def attachment_add(*, user: Any, case_id: int, material_code: str, file: Any,
                   request: HttpRequest | None = None) -> CaseAttachment:
    """Add (or replace) the applicant's upload for one of the item's materials."""
    from tongban.cases.services import _audit, _item, _own_case, refuse

    case = _own_case(user, case_id)
    if case.state not in ("draft", "correction"):
        raise refuse("case_not_editable", "办件已提交，不能再修改材料。", "The case can no longer be changed.", 409)
    material = next((m for m in _item(case).materials if m.code == material_code), None)
    if material is None:
        raise refuse("case_material_unknown", "该事项没有这项材料。", "No such material for this item.", 422,
                     field=f"material_{material_code}")
    if material.obtained_by_platform:
        raise refuse("case_material_by_platform", f"“{material.name}”由平台获取，无需上传。",
                     "The platform obtains this material itself.", 422, field=f"material_{material_code}")
    limit = max_bytes()
    mime = sniff_upload(file, allowed=ALLOWED, max_bytes=limit)
    data = _read(file, limit)
    try:
        scanner().scan(data)
    except VirusFound:
        _audit(Action.CASE_MATERIAL_ADD, case, user=user, request=request,
               details={"material": material_code, "refused": "virus"})
        raise TongbanError("upload_infected", "文件未通过病毒查杀，已拒收。", "The file failed the virus scan.", 422,
                           [{"field": f"material_{material_code}"}]) from None
    if mime.startswith("image/"):
        try:
            data = reencode_image(data, mime)
        except Exception as exc:
            raise TongbanError("upload_corrupt", details=[{"field": f"material_{material_code}"}]) from exc
    return _store(case, material_code=material_code, material_name=material.name, data=data, mime=mime,
                  source=AttachmentSource.UPLOADED, user=user, request=request)


def _store(case: Case, *, material_code: str, material_name: str, data: bytes, mime: str, source: str,
           user: Any, request: HttpRequest | None) -> CaseAttachment:
    from tongban.cases.services import _audit

    now = clock.now()
    CaseAttachment.objects.filter(case=case, material_code=material_code, superseded_at__isnull=True).update(
        superseded_at=now)
    attachment = CaseAttachment(case=case, material_code=material_code, material_name=material_name[:200],
                                source=source, content_type=mime, size=len(data), sm3=sm3(data).hex(),
                                content=data, uploaded_by=user if source == AttachmentSource.UPLOADED else None)
    attachment.save()
    _audit(Action.CASE_MATERIAL_ADD if source == AttachmentSource.UPLOADED else Action.CASE_MATERIAL_FETCH, case,
           user=user, request=request, details={"material": material_code, "attachment": attachment.pk,
                                                "content_type": mime, "size": len(data), "sm3": attachment.sm3})
    return attachment


@transaction.atomic
def attachment_open(*, user: Any, case_id: int, attachment_id: int, request: HttpRequest | None = None
                    ) -> CaseAttachment:
    """The material for the applicant or an officer covering the case; each opening audited."""
    from tongban.cases.services import _audit, case_roles, not_found

    attachment = CaseAttachment.objects.select_related("case").filter(pk=attachment_id, case_id=case_id).first()
    if attachment is None or not case_roles(user, attachment.case):
        raise not_found()
    _audit(Action.CASE_MATERIAL_OPEN, attachment.case, user=user, request=request,
           details={"attachment": attachment.pk, "material": attachment.material_code})
    return attachment


def current_attachments(case: Case) -> list[CaseAttachment]:
    return list(case.attachments.filter(superseded_at__isnull=True).defer("content").order_by("material_code"))
