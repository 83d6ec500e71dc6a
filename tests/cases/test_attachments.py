"""Materials: the type judged from the bytes, the size limit, the virus-scan hook (EICAR refused), images
re-encoded (metadata gone), content SM4-encrypted at rest, each opening audited."""

from __future__ import annotations

import io

import pytest
from django.db import connection
from PIL import Image

from tests.cases.conftest import make_citizen, png_bytes
from tongban.audit.models import AuditEntry
from tongban.cases.attachments import EICAR, EicarScanner, NoopScanner, attachment_add, attachment_open
from tongban.cases.services import case_start, case_submit
from tongban.core.errors import TongbanError

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _scanner(settings):
    settings.TONGBAN_VIRUS_SCANNER = "tongban.cases.attachments.EicarScanner"


def _draft(item):
    citizen = make_citizen()
    return citizen, case_start(user=citizen, item_code=item.code)


def test_eicar_is_refused_by_the_scanner(item):
    citizen, case = _draft(item)
    pdf_with_eicar = b"%PDF-1.4\n" + EICAR + b"\n%%EOF\n"
    with pytest.raises(TongbanError) as exc:
        attachment_add(user=citizen, case_id=case.pk, material_code="photo", file=io.BytesIO(pdf_with_eicar))
    assert exc.value.code == "upload_infected" and "病毒" in exc.value.message("zh")
    assert case.attachments.count() == 0
    NoopScanner().scan(pdf_with_eicar)  # the default engine-less scanner lets it through
    with pytest.raises(Exception, match="EICAR"):
        EicarScanner().scan(b"prefix " + EICAR)


def test_type_is_judged_by_content_and_size_is_limited(item, settings):
    citizen, case = _draft(item)
    with pytest.raises(TongbanError) as script:
        attachment_add(user=citizen, case_id=case.pk, material_code="photo",
                       file=io.BytesIO(b"#!/bin/sh\nrm -rf /\n"))  # whatever its name said
    assert script.value.code == "upload_type_not_allowed"
    with pytest.raises(TongbanError) as fake_png:
        attachment_add(user=citizen, case_id=case.pk, material_code="photo",
                       file=io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"not really an image" * 10))
    assert fake_png.value.code == "upload_corrupt"
    settings.TONGBAN_CASES_MAX_UPLOAD_BYTES = 1000
    with pytest.raises(TongbanError) as big:
        attachment_add(user=citizen, case_id=case.pk, material_code="photo",
                       file=io.BytesIO(png_bytes(size=(600, 600), color="blue") + b"\0" * 2000))
    assert big.value.code == "upload_too_large"
    with pytest.raises(TongbanError) as unknown:
        attachment_add(user=citizen, case_id=case.pk, material_code="nope", file=io.BytesIO(png_bytes()))
    assert unknown.value.code == "case_material_unknown"


def test_images_are_reencoded_and_stored_encrypted(item):
    citizen, case = _draft(item)
    buffer = io.BytesIO()
    image = Image.new("RGB", (64, 48), "green")
    exif = Image.Exif()
    exif[0x010F] = "SecretCameraMaker"  # Make
    image.save(buffer, "JPEG", exif=exif.tobytes())
    original = buffer.getvalue() + b"TRAILING-PAYLOAD"
    assert b"SecretCameraMaker" in original
    attachment = attachment_add(user=citizen, case_id=case.pk, material_code="photo", file=io.BytesIO(original))
    assert attachment.content_type == "image/jpeg"
    stored = bytes(attachment.content)
    assert b"SecretCameraMaker" not in stored and b"TRAILING-PAYLOAD" not in stored
    assert Image.open(io.BytesIO(stored)).size == (64, 48)
    with connection.cursor() as cursor:
        cursor.execute("SELECT content FROM cases_caseattachment WHERE id = %s", [attachment.pk])
        raw = bytes(cursor.fetchone()[0])
    assert b"\xff\xd8\xff" not in raw[:64] and b"JFIF" not in raw
    # A replacement supersedes the earlier upload.
    second = attachment_add(user=citizen, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes()))
    attachment.refresh_from_db()
    assert attachment.superseded_at is not None and second.superseded_at is None


def test_each_opening_is_audited_and_strangers_see_nothing(item, officer):
    citizen, case = _draft(item)
    attachment = attachment_add(user=citizen, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes()))
    opened = attachment_open(user=citizen, case_id=case.pk, attachment_id=attachment.pk)
    assert bytes(opened.content).startswith(b"\x89PNG")
    assert AuditEntry.objects.filter(action="case.material.open", subject_id=str(case.pk)).count() == 1
    stranger = make_citizen(id_number="330106198808081236")
    with pytest.raises(TongbanError) as exc:
        attachment_open(user=stranger, case_id=case.pk, attachment_id=attachment.pk)
    assert exc.value.code == "not_found"
    # An officer covering the case opens it once it is submitted; also audited.
    from tongban.cases.services import case_save_draft

    case_save_draft(user=citizen, case_id=case.pk, answers={"name": "张三", "reason": "damaged"},
                    delivery={"method": "pickup", "station": "窗口"})
    case_submit(user=citizen, case_id=case.pk)
    attachment_open(user=officer, case_id=case.pk, attachment_id=attachment.pk)
    entries = AuditEntry.objects.filter(action="case.material.open", subject_id=str(case.pk))
    assert entries.count() == 2 and entries.filter(actor_id=str(officer.pk)).exists()


def test_uploads_are_closed_after_submission(item):
    citizen, case = _draft(item)
    from tongban.cases.services import case_save_draft

    attachment_add(user=citizen, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes()))
    case_save_draft(user=citizen, case_id=case.pk, answers={"name": "张三", "reason": "damaged"},
                    delivery={"method": "pickup", "station": "窗口"})
    case_submit(user=citizen, case_id=case.pk)
    with pytest.raises(TongbanError) as exc:
        attachment_add(user=citizen, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes()))
    assert exc.value.code == "case_not_editable"
