"""`tongban audit …`: verify exits non-zero and names the problem; export and verify-export round-trip."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tongban.audit.actions import Action
from tongban.audit.models import AuditCheckpoint, AuditEntry
from tongban.audit.services import Actor, audit_record

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("audit", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_checkpoint_verify_export(tmp_path):
    for _ in range(3):
        audit_record(action=Action.CONFIG_CHANGE, actor=Actor.system("tests"))
    assert "checkpoint #1" in _run("checkpoint")
    assert "verifies" in _run("verify", "--no-progress")
    assert AuditEntry.objects.filter(action=Action.AUDIT_VERIFY, outcome="success").exists()
    out = tmp_path / "a.jsonl"
    assert "entries" in _run("export", "--from", "2000-01-01", "--to", "2100-01-01", "--out", str(out))
    assert "verify" in _run("verify-export", str(out))
    out.write_bytes(out.read_bytes().replace(b"config.change", b"config.chang3", 1))
    with pytest.raises(CommandError):
        _run("verify-export", str(out))


def test_verify_fails_and_names_the_entry(attacker):
    entries = [audit_record(action=Action.CONFIG_CHANGE, actor=Actor.system("tests")) for _ in range(3)]
    _run("checkpoint")
    with attacker():
        AuditEntry.objects.filter(pk=entries[1].pk).update(actor_id="mallory")
    err = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command("audit", "verify", "--no-progress", stdout=io.StringIO(), stderr=err)
    assert info.value.returncode == 2
    assert f"entry id={entries[1].pk}" in err.getvalue() and "[altered]" in err.getvalue()
    assert AuditCheckpoint.objects.count() == 1


def test_purge_refuses_short_retention():
    with pytest.raises(CommandError):
        _run("purge", "--older-than-days", "30")
