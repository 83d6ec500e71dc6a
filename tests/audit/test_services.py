"""audit_record: what an entry holds, masking, transactions and savepoints, no off switch."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test import RequestFactory, override_settings

from tongban.audit import chain
from tongban.audit.actions import Action, ActorType, Outcome
from tongban.audit.models import AuditChain, AuditEntry
from tongban.audit.services import Actor, Subject, audit_checkpoint, audit_record
from tongban.audit.verify import verify_log

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system("tests")


def _record(n: int = 1, **kwargs):
    return [audit_record(action=Action.PERSONAL_DATA_READ, actor=SYSTEM, subject=Subject("t", str(i)), **kwargs)
            for i in range(n)]


def test_entries_chain_and_verify():
    entries = _record(5)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert len({e.chain_id for e in entries}) == 1
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.prev_hash == before.hash
    chain_row = AuditChain.objects.get()
    assert entries[0].prev_hash == chain_row.genesis_hash
    audit_checkpoint()
    report = verify_log()
    assert report.ok, report.problems
    assert (report.entries, report.chains, report.checkpoints, report.unsealed) == (5, 1, 1, 0)


def test_unsealed_tail_is_reported_not_failed():
    _record(3)
    audit_checkpoint()
    _record(2)
    report = verify_log()
    assert report.ok and report.unsealed == 2


def test_details_are_masked_and_secrets_dropped():
    entry = audit_record(action=Action.VERIFICATION_REQUEST, actor=Actor.partner_app("app-7"),
                         details={"note": "查询 110105199001011234 手机 13800138000", "name": "张三丰",
                                  "password": "hunter2hunter2", "ratio": 0.5, "nested": {"ids": ["11010519900101123X"]}})
    entry.refresh_from_db()
    text = str(entry.details)
    assert "110105199001011234" not in text and "110***********1234" in text
    assert "13800138000" not in text and "138****8000" in text
    assert "11010519900101123X" not in text
    assert entry.details["name"] == "张**"
    assert entry.details["password"] == "[redacted]"
    assert entry.details["ratio"] == "0.5"  # no floats in the canonical form
    assert verify_log().ok


def test_subject_id_must_not_be_an_id_number():
    with pytest.raises(ValueError):
        audit_record(action=Action.PERSONAL_DATA_READ, actor=SYSTEM, subject=Subject("person", "110105199001011234"))


def test_integer_primary_keys_are_ids_even_when_they_look_like_id_numbers():
    """tongban row ids are 18-19 digits; passed as ints they are never refused as personal data."""
    entry = audit_record(action=Action.PERSONAL_DATA_READ, actor=SYSTEM, subject=Subject("person", 110105199001011234))
    assert entry.subject_id == "110105199001011234"


def test_actor_is_required_without_a_request():
    with pytest.raises(ValueError):
        audit_record(action=Action.CONFIG_CHANGE)


def test_unknown_action_is_refused():
    with pytest.raises(ValueError):
        audit_record(action="made.up", actor=SYSTEM)  # type: ignore[arg-type]


def test_request_gives_actor_address_and_request_id():
    request = RequestFactory().get("/x", REMOTE_ADDR="2001:db8:0:0:0:0:0:1")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    request.request_id = "req-123456789"
    entry = audit_record(action=Action.AUTH_LOGIN_FAILURE, outcome=Outcome.FAILURE, request=request)
    assert entry.actor_type == ActorType.ANONYMOUS
    assert entry.client_ip == "2001:db8::1"
    assert entry.request_id == "req-123456789"
    request.audit_actor = Actor.partner_app("partner-42")
    entry = audit_record(action=Action.VERIFICATION_REQUEST, request=request)
    assert (entry.actor_type, entry.actor_id) == ("partner_app", "partner-42")


def test_request_id_from_log_context():
    import structlog

    structlog.contextvars.bind_contextvars(request_id="ctx-abcdefgh")
    try:
        entry = audit_record(action=Action.CONFIG_CHANGE, actor=SYSTEM)
    finally:
        structlog.contextvars.clear_contextvars()
    assert entry.request_id == "ctx-abcdefgh"


@override_settings(TONGBAN_AUDIT_ENABLED=False, AUDIT_ENABLED=False, TONGBAN_AUDIT=False, TONGBAN_AUDIT_DISABLED=True)
def test_no_setting_switches_auditing_off():
    before = AuditEntry.objects.count()
    audit_record(action=Action.CONFIG_CHANGE, actor=SYSTEM)
    assert AuditEntry.objects.count() == before + 1


def test_outside_a_transaction_it_opens_one():
    # pytest-django wraps the test in a transaction; the call must work the same from autocommit,
    # which transaction=True tests below exercise. Here: nested atomic blocks keep one chain.
    with transaction.atomic():
        a = _record(1)[0]
    b = _record(1)[0]
    assert (a.chain_id, a.seq + 1) == (b.chain_id, b.seq)


def test_savepoint_rollback_does_not_break_the_chain():
    first = _record(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        _record(3)  # seq 3..5, rolled back with the savepoint
        raise RuntimeError("boom")
    with transaction.atomic():
        inner = _record(1)[0]
        with pytest.raises(RuntimeError), transaction.atomic():
            _record(1)
            raise RuntimeError("boom")
    after = _record(1)[0]
    assert inner.seq == 3 and inner.prev_hash == first[-1].hash
    assert after.seq == 4 and after.prev_hash == inner.hash
    audit_checkpoint()
    assert verify_log().ok


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transaction_does_not_break_the_chain():
    with transaction.atomic():
        a = _record(1)[0]
    state = chain._thread_states()["default"]
    assert state.committed.seq == 1  # the on_commit callback ran
    with pytest.raises(RuntimeError), transaction.atomic():
        _record(2)
        raise RuntimeError("boom")
    assert state.committed.seq == 1
    b = _record(1)[0]  # in its own (autocommit-opened) transaction
    assert (b.chain_id, b.seq, b.prev_hash) == (a.chain_id, 2, a.hash)
    # A rolled-back *first* entry takes its chain row with it; the next entry opens a fresh chain.
    chain.reset_local_chains()
    with pytest.raises(RuntimeError), transaction.atomic():
        lost = _record(1)[0]
        raise RuntimeError("boom")
    c = _record(1)[0]
    assert c.chain_id != lost.chain_id and c.seq == 1
    audit_checkpoint()
    report = verify_log()
    assert report.ok, report.problems
    assert report.entries == 3


@pytest.mark.django_db(transaction=True)
def test_checkpoint_piggybacks_on_commits(settings):
    settings.TONGBAN_AUDIT_CHECKPOINT_EVERY = 5
    settings.TONGBAN_AUDIT_CHECKPOINT_MIN_INTERVAL = 0
    from tongban.audit.models import AuditCheckpoint

    for _ in range(12):
        _record(1)
    assert AuditCheckpoint.objects.count() == 2
    report = verify_log()
    assert report.ok and report.unsealed == 2


@pytest.mark.django_db(transaction=True)
def test_close_own_chains_at_exit_seals_the_tail():
    _record(3)
    checkpoint = chain.close_own_chains()
    assert checkpoint is not None
    report = verify_log()
    assert report.ok and report.unsealed == 0
    assert all(s.closed for s in report.sealed.values())
    nxt = _record(1)[0]  # a closed chain is never appended to again
    assert nxt.seq == 1
    assert verify_log().ok


def test_one_query_per_append_on_the_hot_path(django_assert_num_queries):
    _record(1)  # opens the chain
    with django_assert_num_queries(1):
        _record(1)
    assert connection.in_atomic_block


def test_every_security_event_has_an_action():
    from tongban.accounts.events import SecurityEvent
    from tongban.audit.actions import SECURITY_EVENT_ACTIONS

    assert {e.value for e in SecurityEvent} <= set(SECURITY_EVENT_ACTIONS)
