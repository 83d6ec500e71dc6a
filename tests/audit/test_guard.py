"""The database itself refuses to change audit rows; only the retention purge deletes, and only old rows."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from tongban.audit.actions import Action
from tongban.audit.guard import missing_triggers, purge_permit
from tongban.audit.models import AuditChain, AuditCheckpoint, AuditEntry
from tongban.audit.services import Actor, PurgeRefused, audit_checkpoint, audit_purge, audit_record
from tongban.audit.verify import verify_log

pytestmark = pytest.mark.django_db
SYSTEM = Actor.system("tests")


def _refused(fn) -> None:
    with pytest.raises(DatabaseError) as info, transaction.atomic():
        fn()
    assert "append-only" in str(info.value) or "cannot be purged" in str(info.value)


def _sql(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_triggers_are_installed():
    assert missing_triggers() == []


def test_update_and_delete_are_refused_for_everyone():
    entry = audit_record(action=Action.CONFIG_CHANGE, actor=SYSTEM)
    audit_checkpoint()
    _refused(lambda: AuditEntry.objects.filter(pk=entry.pk).update(outcome="failure"))
    _refused(lambda: _sql("UPDATE audit_auditentry SET details = '{}' WHERE id = %s", [entry.pk]))
    _refused(lambda: AuditEntry.objects.filter(pk=entry.pk).delete())
    _refused(lambda: _sql("DELETE FROM audit_auditentry"))
    _refused(lambda: AuditChain.objects.all().update(label="x"))
    _refused(lambda: AuditChain.objects.all().delete())
    _refused(lambda: AuditCheckpoint.objects.all().update(signature="00"))
    _refused(lambda: AuditCheckpoint.objects.all().delete())
    assert AuditEntry.objects.filter(pk=entry.pk, outcome="success").exists()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_purge_variable_alone_does_not_let_young_rows_go():
    entry = audit_record(action=Action.CONFIG_CHANGE, actor=SYSTEM)
    def delete_with_variable_set():
        _sql("SELECT set_config('tongban.audit_purge', 'on', true)")
        _sql("DELETE FROM audit_auditentry WHERE id = %s", [entry.pk])

    _refused(delete_with_variable_set)


def _old_entries(monkeypatch, n: int, days: int = 200):
    past = timezone.now() - dt.timedelta(days=days)
    monkeypatch.setattr(timezone, "now", lambda: past)
    try:
        entries = [audit_record(action=Action.PERSONAL_DATA_READ, actor=SYSTEM) for _ in range(n)]
        audit_checkpoint()
    finally:
        monkeypatch.undo()
    return entries


def test_purge_permit_deletes_old_rows_only(monkeypatch):
    old = _old_entries(monkeypatch, 2)
    young = audit_record(action=Action.PERSONAL_DATA_READ, actor=SYSTEM)
    with transaction.atomic(), purge_permit():
        AuditEntry.objects.filter(pk=old[0].pk).delete()
    assert not AuditEntry.objects.filter(pk=old[0].pk).exists()

    def delete_young():
        with purge_permit():
            AuditEntry.objects.filter(pk=young.pk).delete()

    _refused(delete_young)
    _refused(lambda: AuditEntry.objects.filter(pk=old[1].pk).delete())  # old, but no permit


def test_retention_purge_keeps_the_log_verifiable(monkeypatch):
    old = _old_entries(monkeypatch, 5)
    young = [audit_record(action=Action.PERSONAL_DATA_READ, actor=SYSTEM) for _ in range(2)]
    audit_checkpoint()
    result = audit_purge()
    assert result.deleted == 5 and result.chains == 1
    assert not AuditEntry.objects.filter(pk__in=[e.pk for e in old]).exists()
    assert AuditEntry.objects.filter(pk__in=[e.pk for e in young]).count() == 2
    assert AuditEntry.objects.filter(action=Action.AUDIT_PURGE).exists()
    audit_checkpoint()
    report = verify_log()
    assert report.ok, report.problems
    assert report.floors[old[0].chain_id].seq == 5


def test_purge_refuses_less_than_180_days(monkeypatch):
    _old_entries(monkeypatch, 2, days=100)
    with pytest.raises(PurgeRefused):
        audit_purge(older_than_days=90)
    result = audit_purge()  # 180 days: nothing that old
    assert result.deleted == 0


def test_purge_refuses_a_log_that_does_not_verify(monkeypatch, attacker):
    old = _old_entries(monkeypatch, 3)
    with attacker():
        AuditEntry.objects.filter(pk=old[1].pk).update(actor_id="x")
    with pytest.raises(PurgeRefused):
        audit_purge()
