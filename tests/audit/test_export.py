"""The auditor's signed export: it verifies, and a modified copy does not."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.utils import timezone

from tongban.audit.actions import Action
from tongban.audit.models import AuditEntry
from tongban.audit.services import Actor, audit_checkpoint, audit_export, audit_record, signature_path
from tongban.audit.verify import verify_export
from tongban.crypto.sm2 import SM2PrivateKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def export(tmp_path):
    for i in range(5):
        audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.system(f"tests-{i}"), details={"id_number": "110105199001011234"})
    audit_checkpoint()
    now = timezone.now()
    out = tmp_path / "audit.jsonl"
    sig = audit_export(start=now - dt.timedelta(hours=1), end=now + dt.timedelta(hours=1), out=out)
    return out, sig


def test_export_verifies_and_is_audited(export):
    out, sig = export
    result = verify_export(out)
    assert result.ok, result.message
    assert result.entries == sig["entries"] == 6  # five, and the export's own audit entry
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["type"] == "header"
    assert {line["type"] for line in lines} == {"header", "entry", "chain", "checkpoint"}
    assert "110105199001011234" not in out.read_text()
    assert AuditEntry.objects.filter(action=Action.AUDIT_EXPORT).count() == 1


def test_modified_export_fails(export):
    out, _ = export
    text = out.read_text().replace('"outcome":"success"', '"outcome":"failure"', 1)
    out.write_text(text)
    result = verify_export(out)
    assert not result.ok and "modified" in result.message


def test_resigned_export_with_another_key_fails(export):
    out, _ = export
    sig_file = signature_path(out)
    sig = json.loads(sig_file.read_text())
    other = SM2PrivateKey.generate()
    sig["public_key_pem"] = other.public_key().to_pem().decode()
    sig["signature"] = other.sign(bytes.fromhex(sig["sm3"])).hex()
    sig_file.write_text(json.dumps(sig))
    assert not verify_export(out).ok


def test_export_verifies_with_the_public_key_alone(export):
    out, sig = export
    from tongban.crypto.sm2 import SM2PublicKey

    public = SM2PublicKey.from_pem(sig["public_key_pem"])
    assert verify_export(out, public_key=public).ok
