"""Entries written outside a transaction: one autocommit INSERT, durable before audit_record returns.

The partner API's verifications are pure reads, so their audit entry is a transaction of its own
(chain.append_committed): one round trip instead of BEGIN, INSERT, COMMIT. These tests pin that it
is committed when the call returns, that a failure neither loses nor duplicates an entry, and that
the chains still verify after concurrent writers.
"""

from __future__ import annotations

import json
import threading

import pytest
from django.db import OperationalError, connection, connections, transaction

from tongban.audit import chain
from tongban.audit.actions import Action
from tongban.audit.models import AuditEntry
from tongban.audit.services import Actor, Subject, audit_checkpoint, audit_record
from tongban.audit.verify import verify_log

pytestmark = pytest.mark.django_db(transaction=True)

APP = Actor.partner_app("pa_test")


def _record(i: int = 0) -> AuditEntry:
    return audit_record(action=Action.VERIFICATION_REQUEST, actor=APP, subject=Subject("t", str(i)))


def _committed_elsewhere(pk: int) -> bool:
    """Seen from another connection, i.e. committed (not merely written in our open transaction)."""
    found: list[bool] = []

    def look() -> None:
        try:
            found.append(AuditEntry.objects.filter(pk=pk).exists())
        finally:
            connections.close_all()

    t = threading.Thread(target=look)
    t.start()
    t.join()
    return found[0]


def test_entry_is_committed_when_audit_record_returns():
    first = _record(0)  # opens the chain, in a transaction
    entry = _record(1)
    assert not connection.in_atomic_block
    assert entry.pk is not None and entry.seq == first.seq + 1
    assert _committed_elsewhere(entry.pk)
    assert AuditEntry.objects.get(pk=entry.pk).hash == entry.hash


def test_one_round_trip_outside_a_transaction(django_assert_num_queries):
    _record(0)
    with django_assert_num_queries(1):
        _record(1)


def test_the_first_entry_of_a_thread_still_opens_its_chain_in_a_transaction(monkeypatch):
    calls: list[bool] = []
    real = chain.append

    def spy(**kwargs):
        calls.append(connection.in_atomic_block)
        return real(**kwargs)

    monkeypatch.setattr(chain, "append", spy)
    _record(0)
    _record(1)
    assert calls == [True]  # only the first went through the transactional path


def test_a_lost_answer_after_commit_neither_loses_nor_duplicates(monkeypatch):
    _record(0)
    real_insert = chain._insert

    def commit_then_fail(conn, values):
        real_insert(conn, values)  # the row is committed (autocommit) …
        raise OperationalError("server closed the connection unexpectedly")  # … but the answer is lost

    monkeypatch.setattr(chain, "_insert", commit_then_fail)
    with pytest.raises(OperationalError):
        _record(1)
    monkeypatch.setattr(chain, "_insert", real_insert)
    nxt = _record(2)
    assert nxt.seq == 3  # continued after the committed seq 2, read back from the database
    seqs = list(AuditEntry.objects.filter(chain_id=nxt.chain_id).order_by("seq").values_list("seq", flat=True))
    assert seqs == [1, 2, 3]
    audit_checkpoint()
    assert verify_log().ok


def test_a_failed_insert_leaves_no_gap(monkeypatch):
    _record(0)

    def fail(conn, values):
        raise OperationalError("connection refused")

    real_insert = chain._insert
    monkeypatch.setattr(chain, "_insert", fail)
    with pytest.raises(OperationalError):
        _record(1)
    monkeypatch.setattr(chain, "_insert", real_insert)
    nxt = _record(2)
    assert nxt.seq == 2  # nothing was written: the same seq is used, no gap
    audit_checkpoint()
    assert verify_log().ok


def test_after_a_rollback_the_next_autocommit_entry_follows_the_database():
    _record(0)
    with pytest.raises(RuntimeError), transaction.atomic():
        _record(1)
        raise RuntimeError("rolled back")
    nxt = _record(2)
    assert nxt.seq == 2
    audit_checkpoint()
    assert verify_log().ok


def test_concurrent_autocommit_writers_verify(settings):
    settings.TONGBAN_AUDIT_CHECKPOINT_EVERY = 20
    settings.TONGBAN_AUDIT_CHECKPOINT_MIN_INTERVAL = 0
    writers, per_writer = 4, 30
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(per_writer):
                audit_record(action=Action.VERIFICATION_REQUEST, actor=Actor.partner_app(f"app-{n}"),
                             subject=Subject("t", f"{n}-{i}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert AuditEntry.objects.filter(action=Action.VERIFICATION_REQUEST).count() == writers * per_writer
    audit_checkpoint()
    report = verify_log()
    assert report.ok, report.problems
    assert report.unsealed == 0


def test_a_writer_that_appends_and_exits_during_a_checkpoint_is_not_closed_below_its_last_entry(monkeypatch):
    """The checkpoint decides that a writer's chain closes (its thread has exited) before it reads the chain's
    head: a writer that was alive when asked may still append, and its chain stays open; read the other way
    round, a writer appending its last entry and exiting in between left its chain closed below that entry.
    (PostgreSQL: on SQLite the checkpoint's transaction holds the write lock, so no append lands during it.)"""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: nothing is appended while a checkpoint runs")
    go, wrote = threading.Event(), []

    def writer() -> None:
        try:
            _record(1)
            _record(2)
            go.wait(10)
            wrote.append(_record(3).seq)  # its last entry, then the thread ends
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    while not any(s.committed.seq == 2 for s in chain._registry.values()):
        thread.join(0.01)
    real = chain.ChainState.owner_alive

    def asked(state: chain.ChainState) -> bool:
        # The writer appends and exits exactly while the checkpoint looks at its chain.
        if state.thread() is thread and thread.is_alive():
            go.set()
            thread.join(10)
        return real(state)

    monkeypatch.setattr(chain.ChainState, "owner_alive", asked)
    audit_checkpoint()
    assert wrote == [3]
    report = verify_log()
    assert report.ok, report.problems


def test_an_entry_committed_while_a_checkpoint_reads_its_chain_is_no_missing_tail(caplog):
    """Issue 12, finding 5: a checkpoint compares a chain's head in the database with the head its writer
    holds in memory, and a database that shows less means committed entries were deleted. It must read
    the memory first: the writer advances its head only after the database has committed the entry, so a
    read of the database that follows sees at least that. Read the other way round, an entry committed
    between the two reads looked missing: a false CRITICAL `audit.chain_tail_missing` (db_seq 495,
    expected 496) for a chain whose entry 496 exists. Here the writer commits exactly after the
    checkpoint's query for its chain's head has run. (PostgreSQL: on SQLite the checkpoint's transaction
    holds the write lock, so nothing commits during it.)"""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers: nothing commits while a checkpoint runs")
    go, wrote, finish = threading.Event(), threading.Event(), threading.Event()
    seqs: list[int] = []

    def writer() -> None:
        try:
            _record(1)
            _record(2)
            go.wait(10)
            seqs.append(_record(3).seq)  # committed (autocommit) and the head in memory advanced
            wrote.set()
            finish.wait(10)  # alive throughout the checkpoint: its chain stays open
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    while not any(s.committed.seq == 2 for s in chain._registry.values()):
        thread.join(0.01)
    (state,) = chain._registry.values()
    head_queries: list[str] = []

    def commit_right_after_the_head_query(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if sql.startswith('SELECT "audit_auditentry"."seq"') and state.chain_id in [str(p) for p in params or ()]:
            head_queries.append(sql)
            if not go.is_set():
                go.set()
                assert wrote.wait(10), "the writer did not append"
        return result

    try:
        with connection.execute_wrapper(commit_right_after_the_head_query):
            checkpoint = audit_checkpoint()
    finally:
        go.set()
        finish.set()
        thread.join(10)
    assert head_queries, "the checkpoint did not read the chain's head as expected"
    assert seqs == [3]
    missing = [r for r in caplog.records if isinstance(r.msg, dict) and r.msg.get("event") == "audit.chain_tail_missing"]
    assert missing == []
    heads = json.loads(checkpoint.body)["heads"]
    assert heads[state.chain_id]["seq"] == 2 and not heads[state.chain_id]["closed"]  # entry 3 is sealed next time
    audit_checkpoint()
    report = verify_log()
    assert report.ok, report.problems
    assert report.unsealed == 0
