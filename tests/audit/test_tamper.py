"""Someone with database-administrator rights switches the triggers off and edits rows directly:
verification catches each change and names the entry (or checkpoint) where it happened."""

from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from tongban.audit import chain
from tongban.audit.actions import Action
from tongban.audit.canonical import chain_hash, entry_document
from tongban.audit.models import AuditChain, AuditCheckpoint, AuditEntry
from tongban.audit.services import Actor, Subject, audit_checkpoint, audit_record
from tongban.audit.verify import ALTERED, CHECKPOINT, DELETED, INSERTED, verify_log

pytestmark = pytest.mark.django_db


def _record(n: int):
    return [audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.system("tests"), subject=Subject("t", str(i)))
            for i in range(n)]


def _sql(sql: str, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _first(report):
    assert not report.ok
    return report.first


def test_altered_field_is_named(attacker):
    entries = _record(6)
    audit_checkpoint()
    with attacker():
        _sql("UPDATE audit_auditentry SET outcome = 'denied' WHERE id = %s", [entries[2].id])
    problem = _first(verify_log())
    assert (problem.kind, problem.entry_id, problem.seq) == (ALTERED, entries[2].id, 3)


def test_altered_details_are_named(attacker):
    entries = _record(4)
    with attacker():
        AuditEntry.objects.filter(id=entries[1].id).update(details={"hidden": "yes"})
    problem = _first(verify_log())
    assert (problem.kind, problem.entry_id) == (ALTERED, entries[1].id)


def test_altered_and_rehashed_entry_is_named(attacker):
    entries = _record(5)
    audit_checkpoint()
    target = entries[1]
    doc = entry_document(chain_id=target.chain_id, seq=target.seq, occurred_at=target.occurred_at,
                         actor_type="system", actor_id="someone-else", action=target.action,
                         subject_type=target.subject_type, subject_id=target.subject_id, outcome=target.outcome,
                         client_ip=target.client_ip, request_id=target.request_id, details=target.details)
    with attacker():
        AuditEntry.objects.filter(id=target.id).update(actor_id="someone-else",
                                                       hash=chain_hash(target.prev_hash, doc))
    problem = _first(verify_log())
    assert (problem.kind, problem.entry_id) == (ALTERED, target.id)


def test_deleted_middle_entry_is_named(attacker):
    entries = _record(6)
    audit_checkpoint()
    with attacker():
        _sql("DELETE FROM audit_auditentry WHERE id = %s", [entries[3].id])
    report = verify_log()
    problem = _first(report)
    assert problem.kind == DELETED and problem.seq == 4
    assert f"entry id={entries[2].id}" in problem.message


def test_deleted_tail_after_a_checkpoint_is_caught(attacker):
    entries = _record(6)
    audit_checkpoint()
    with attacker():
        _sql("DELETE FROM audit_auditentry WHERE id >= %s", [entries[4].id])
    problem = _first(verify_log())
    assert problem.kind == DELETED and problem.seq == 5
    assert "sealed by checkpoint #1" in problem.message


def test_deleted_tail_before_a_checkpoint_is_caught_by_the_living_writer(attacker):
    entries = _record(6)
    with attacker():
        _sql("DELETE FROM audit_auditentry WHERE id >= %s", [entries[4].id])
    # The writer still knows its head: the next checkpoint seals what it wrote, not what is left.
    audit_checkpoint()
    problem = _first(verify_log())
    assert problem.kind == DELETED and problem.seq == 5


def test_deleted_tail_before_a_checkpoint_shows_at_the_writers_next_entry(attacker):
    entries = _record(4)
    with attacker():
        _sql("DELETE FROM audit_auditentry WHERE id = %s", [entries[3].id])
    _record(1)  # continues at seq 5: the gap is visible
    problem = _first(verify_log())
    assert problem.kind == DELETED and problem.seq == 4


def test_unsealed_tail_of_a_dead_writer_is_the_documented_window(attacker):
    """The one case verification cannot see (docs/audit.md): the tail written after the last
    checkpoint by a writer that died without closing its chain, deleted before anyone sealed it."""
    entries = _record(3)
    audit_checkpoint()
    entries += _record(1)
    chain.reset_local_chains()  # the writer process is gone
    with attacker():
        _sql("DELETE FROM audit_auditentry WHERE id = %s", [entries[3].id])
    audit_checkpoint()
    assert verify_log().ok


def test_forged_entry_in_an_unknown_chain_is_named(attacker):
    _record(2)
    audit_checkpoint()
    forged_chain = uuid.uuid4().hex
    doc = entry_document(chain_id=forged_chain, seq=1, occurred_at=timezone.now(), actor_type="system",
                         actor_id="x", action="config.change", subject_type="", subject_id="", outcome="success",
                         client_ip="", request_id="", details={})
    forged = AuditEntry.objects.create(chain_id=forged_chain, seq=1, prev_hash="0" * 64,
                                       hash=chain_hash("0" * 64, doc), occurred_at=timezone.now(),
                                       actor_type="system", actor_id="x", action="config.change",
                                       outcome="success", details={})
    problem = _first(verify_log())
    assert (problem.kind, problem.entry_id) == (INSERTED, forged.id)


def test_forged_chain_record_is_caught():
    _record(1)
    audit_checkpoint()
    AuditChain.objects.create(id=uuid.uuid4().hex, opened_at=timezone.now(), label="evil", anchor_seq=0,
                              anchor_hash="0" * 64, genesis_hash="0" * 64, key_id="file:0000", signature="00")
    report = verify_log()
    assert any(p.kind == INSERTED and "unknown key" in p.message for p in report.problems)


def test_entry_appended_to_a_closed_chain_is_named():
    entries = _record(2)
    chain.make_checkpoint(close_own="shutdown")
    last = entries[-1]
    doc = entry_document(chain_id=last.chain_id, seq=3, occurred_at=timezone.now(), actor_type="system",
                         actor_id="x", action="config.change", subject_type="", subject_id="", outcome="success",
                         client_ip="", request_id="", details={})
    forged = AuditEntry.objects.create(chain_id=last.chain_id, seq=3, prev_hash=last.hash,
                                       hash=chain_hash(last.hash, doc), occurred_at=timezone.now(),
                                       actor_type="system", actor_id="x", action="config.change",
                                       outcome="success", details={})
    problem = _first(verify_log())
    assert (problem.kind, problem.entry_id) == (INSERTED, forged.id)


def test_entry_inserted_in_the_middle_with_everything_rehashed_is_caught(attacker):
    """The thorough attacker: insert at seq 3, renumber and re-hash everything after it."""
    entries = _record(3)
    audit_checkpoint()
    entries += _record(3)
    audit_checkpoint()
    rows = list(AuditEntry.objects.filter(chain_id=entries[0].chain_id).order_by("seq").values())
    fake = dict(rows[1], actor_id="intruder", subject_id="forged")
    rewritten = rows[:2] + [fake] + rows[2:]
    prev = rows[1]["hash"]
    with attacker():
        AuditEntry.objects.filter(seq__gte=3).delete()
        for seq, row in enumerate(rewritten[2:], start=3):
            doc = entry_document(chain_id=row["chain_id"], seq=seq, occurred_at=row["occurred_at"],
                                 actor_type=row["actor_type"], actor_id=row["actor_id"], action=row["action"],
                                 subject_type=row["subject_type"], subject_id=row["subject_id"],
                                 outcome=row["outcome"], client_ip=row["client_ip"], request_id=row["request_id"],
                                 details=row["details"])
            h = chain_hash(prev, doc)
            AuditEntry.objects.create(**{**row, "id": None, "seq": seq, "prev_hash": prev, "hash": h})
            prev = h
    report = verify_log()
    problem = _first(report)
    # Seq 3 was sealed by checkpoint #1: the forged row now sits there.
    assert (problem.kind, problem.seq) == (ALTERED, 3)
    assert "differ from what a checkpoint sealed" in problem.message


def test_altered_checkpoint_signature_is_named(attacker):
    _record(2)
    audit_checkpoint()
    _record(1)
    second = audit_checkpoint()
    sig = bytearray(bytes.fromhex(second.signature))
    sig[-1] ^= 0x01
    with attacker():
        AuditCheckpoint.objects.filter(pk=second.pk).update(signature=sig.hex())
    problem = _first(verify_log())
    assert (problem.kind, problem.checkpoint_seq) == (CHECKPOINT, 2)


def test_altered_checkpoint_body_is_caught(attacker):
    entries = _record(2)
    cp = audit_checkpoint()
    body = json.loads(cp.body)
    body["heads"][entries[0].chain_id]["seq"] = 1
    with attacker():
        AuditCheckpoint.objects.filter(pk=cp.pk).update(
            body=json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False))
    report = verify_log()
    assert any(p.kind == CHECKPOINT and p.checkpoint_seq == 1 and "signature" in p.message for p in report.problems)


def test_deleted_checkpoint_is_caught(attacker):
    _record(1)
    audit_checkpoint()
    _record(1)
    middle = audit_checkpoint()
    _record(1)
    audit_checkpoint()
    with attacker():
        AuditCheckpoint.objects.filter(pk=middle.pk).delete()
    report = verify_log()
    assert any(p.kind == DELETED and p.checkpoint_seq == 3 for p in report.problems)


def test_disabled_trigger_is_reported(attacker):
    _record(1)
    audit_checkpoint()
    with attacker():
        report = verify_log()
    assert any(p.kind == "guard" for p in report.problems)
    assert verify_log().ok
