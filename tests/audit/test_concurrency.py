"""Several writers at once (threads, each with its own connection) produce chains that verify."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from tongban.audit import chain
from tongban.audit.actions import Action
from tongban.audit.models import AuditChain, AuditEntry
from tongban.audit.services import Actor, Subject, audit_checkpoint, audit_record
from tongban.audit.verify import verify_log

WRITERS = 4
PER_WRITER = 40


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_make_verifiable_chains(settings):
    settings.TONGBAN_AUDIT_CHECKPOINT_EVERY = 25
    settings.TONGBAN_AUDIT_CHECKPOINT_MIN_INTERVAL = 0
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def writer(n: int) -> None:
        from django.db import connections

        try:
            start.wait()
            for i in range(PER_WRITER):
                if i % 10 == 9:  # now and then a request fails and its transaction rolls back
                    with pytest.raises(RuntimeError), transaction.atomic():
                        audit_record(action=Action.VERIFICATION_REQUEST, actor=Actor.partner_app(f"app-{n}"))
                        raise RuntimeError("rolled back")
                with transaction.atomic():
                    audit_record(action=Action.VERIFICATION_REQUEST, actor=Actor.partner_app(f"app-{n}"),
                                 subject=Subject("verification", f"{n}-{i}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,), name=f"writer-{n}") for n in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert AuditEntry.objects.count() == WRITERS * PER_WRITER
    assert AuditChain.objects.count() == WRITERS  # one chain per writer thread
    for chain_id in AuditChain.objects.values_list("id", flat=True):
        seqs = list(AuditEntry.objects.filter(chain_id=chain_id).order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, PER_WRITER + 1))
    # The writer threads are gone: the next checkpoint closes their chains.
    audit_checkpoint()
    report = verify_log()
    assert report.ok, report.problems
    assert report.unsealed == 0
    assert all(s.closed for s in report.sealed.values())
    assert connection.vendor in ("sqlite", "postgresql")
    chain.reset_local_chains()
