"""Delivery of outgoing messages: lanes leased to one worker at a time (so one entity's messages leave in
order with any number of workers), batches signed once, personal fields sealed, each message's outcome
recorded from the counterpart's answer. Safe to run from many threads and processes (docs/exchange.md)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import threading
import time
import uuid
import zlib
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Min, Q

from tongban.core import clock
from tongban.core.masking import scrub
from tongban.crypto.sm3 import sm3
from tongban.exchange import keys, wire
from tongban.exchange.client import HttpExchangeClient, TransportError, get_client
from tongban.exchange.conf import conf, peer_public_key
from tongban.exchange.log import log_append
from tongban.exchange.messages import BUILDERS, CASE_EVENT, VERSIONS, Built
from tongban.exchange.models import Lane, MessageStatus, OutMessage

logger = logging.getLogger("tongban.exchange")
DUE = (MessageStatus.PENDING, MessageStatus.RETRYING)


def lane_of(entity: str) -> int:
    return zlib.crc32(entity.encode()) % conf().lanes


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"[:64]


def _jitter(delay: float) -> float:
    return delay / 2 + random.random() * delay / 2  # noqa: S311  (spreading retries, not a secret)


def ensure_lanes() -> None:
    n = conf().lanes
    if Lane.objects.count() < n:
        epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        Lane.objects.bulk_create([Lane(id=i, next_attempt_at=epoch) for i in range(n)], ignore_conflicts=True)


def claim_lane(worker: str, *, now: dt.datetime, skip: set[int] | None = None) -> int | None:
    """Lease one lane that has due messages and is not leased (or whose lease expired); None if none."""
    due_lanes = set(OutMessage.objects.filter(status__in=DUE, next_attempt_at__lte=now)
                    .values_list("lane", flat=True).distinct()) - (skip or set())
    if not due_lanes:
        return None
    if len(due_lanes) > conf().lanes or max(due_lanes) >= conf().lanes:  # LANES lowered: old lanes still drain
        epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        Lane.objects.bulk_create([Lane(id=i, next_attempt_at=epoch) for i in due_lanes], ignore_conflicts=True)
    lease_until = now + dt.timedelta(seconds=conf().lease_seconds)
    candidates = list(due_lanes)
    random.shuffle(candidates)
    with transaction.atomic():
        free = (Lane.objects.filter(id__in=candidates, next_attempt_at__lte=now)
                .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now)))
        if connection.vendor == "postgresql":
            free = free.select_for_update(skip_locked=True)
        ids = list(free.values_list("id", flat=True)[:len(candidates)])
        for lane_id in ids:
            # compare-and-set: on SQLite the write lock serialises this; on PostgreSQL SKIP LOCKED did
            if Lane.objects.filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now), id=lane_id
                                   ).update(leased_by=worker, lease_expires_at=lease_until):
                return lane_id
    return None


def _renew(lane_id: int, worker: str, now: dt.datetime) -> bool:
    until = now + dt.timedelta(seconds=conf().lease_seconds)
    return bool(Lane.objects.filter(id=lane_id, leased_by=worker, lease_expires_at__gte=now)
                .update(lease_expires_at=until))


def release_lane(lane_id: int, worker: str) -> None:
    Lane.objects.filter(id=lane_id, leased_by=worker).update(leased_by="", lease_expires_at=None)


def pick_batch(lane_id: int, *, now: dt.datetime, size: int) -> list[OutMessage]:
    """The lane's due messages in order, at most `size`, skipping every message of an entity that has an
    earlier message still waiting (a rejection's back-off) or dead-lettered (until an operator replays or
    discards it): one entity's messages never overtake."""
    blocked: set[str] = set()
    dead = dict(OutMessage.objects.filter(status=MessageStatus.DEAD, lane=lane_id).values("entity")
                .annotate(first=Min("id")).values_list("entity", "first"))
    batch: list[OutMessage] = []
    last = 0
    for _ in range(20):  # pages past the messages of entities waiting for a retry (bounded per pass)
        rows = list(OutMessage.objects.filter(lane=lane_id, status__in=DUE, id__gt=last).order_by("id")
                    .only("id", "type", "schema_version", "source_id", "entity", "status", "attempts",
                          "next_attempt_at")[: size * 2])
        for m in rows:
            if m.entity in blocked:
                continue
            if m.entity in dead and dead[m.entity] < m.pk:
                blocked.add(m.entity)
                continue
            if m.next_attempt_at > now:
                blocked.add(m.entity)
                continue
            batch.append(m)
            if len(batch) >= size:
                return batch
        if len(rows) < size * 2:
            break
        last = rows[-1].pk
    return batch


@dataclass
class BatchResult:
    batch_id: str = ""
    sent: int = 0
    duplicates: int = 0
    rejected: int = 0
    deferred: int = 0
    dead: int = 0
    failed: str = ""
    keys_sent: list[str] = field(default_factory=list)


def encode_batch(items: list[tuple[str, str, int, Built]], *, batch_id: str | None = None
                 ) -> tuple[str, bytes, dict[str, str], list[str]]:
    """(batch id, body, headers, keys) for [(idempotency key, type, schema version, built)]: sealed, signed."""
    batch_id = batch_id or uuid.uuid4().hex
    key_id, cipher, wrapped = keys.current_envelope_key()
    signer_name, private = keys.signer()
    messages = []
    keys_list = []
    personal: dict[str, dict[str, Any]] = {}
    for idem, type_, version, built in items:
        messages.append({"key": idem, "type": type_, "v": version, "entity": built.entity, "seq": built.seq,
                         "day": built.day or clock.to_local(built.occurred_at).date().isoformat(), "body": built.body})
        if built.personal:
            personal[idem] = built.personal
        keys_list.append(idem)
    envelope = {"v": wire.WIRE_VERSION, "batch_id": batch_id, "sender": conf().sender,
                "sent_at": clock.now().isoformat(), "envelope": {"key_id": key_id, "wrapped_key": wire.b64(wrapped)},
                "personal": wire.seal_personal(cipher, batch_id, personal), "messages": messages}
    body = wire.dumps(envelope)
    headers = {wire.SIGNATURE_HEADER: wire.sign(private, body), wire.SIGNER_HEADER: signer_name}
    return batch_id, body, headers, keys_list


def post_batch(client: HttpExchangeClient, batch_id: str, body: bytes, headers: dict[str, str],
               keys_list: list[str]) -> dict[str, Any]:
    """Send one batch, check the receipt, log it (either way). Raises TransportError when the counterpart
    did not take it (down, slow, refused the batch as a whole)."""
    body_sm3 = sm3(body).hex()
    keys_sm3 = wire.keys_digest(keys_list)
    log_fields: dict[str, Any] = {"direction": "out", "batch_id": batch_id, "count": len(keys_list), "keys_sm3": keys_sm3,
                  "body_sm3": body_sm3, "signature": headers[wire.SIGNATURE_HEADER],
                  "signer_key": headers[wire.SIGNER_HEADER]}
    try:
        status, answer = client.send_batch(body, headers)
    except TransportError:
        log_append(**log_fields, receipt="", outcome="failed")
        raise
    receipt = str(answer.get("receipt", ""))
    if status != 200:
        log_append(**log_fields, receipt="", outcome="refused")
        raise TransportError(f"batch refused: HTTP {status} {answer.get('code', '')} {answer.get('message', '')}")
    if not wire.verify(peer_public_key(), wire.receipt_input(batch_id, body_sm3), receipt):
        log_append(**log_fields, receipt="", outcome="bad_receipt")
        raise TransportError("the national platform's receipt does not verify")
    results = answer.get("results") or []
    outcome = "accepted" if all(r.get("status") in ("accepted", "duplicate") for r in results) else "partial"
    log_append(**log_fields, receipt=receipt, outcome=outcome)
    return answer


def deliver_lane(lane_id: int, worker: str, *, client: HttpExchangeClient | None = None,
                 max_batches: int = 1_000_000) -> list[BatchResult]:
    """Send the lane's due messages batch by batch while we hold its lease."""
    cfg = conf()
    client = client or get_client()
    out: list[BatchResult] = []
    for _ in range(max_batches):
        now = clock.now()
        if not _renew(lane_id, worker, now):
            logger.warning("exchange.lane_lost", extra={"lane": lane_id})
            break
        batch = pick_batch(lane_id, now=now, size=cfg.batch_size)
        if not batch:
            break
        result = _send(batch, client=client, lane_id=lane_id, now=now)
        out.append(result)
        if result.failed:
            break
    return out


def _build(batch: list[OutMessage]) -> tuple[list[tuple[str, str, int, Built]], list[OutMessage]]:
    by_type: dict[str, list[OutMessage]] = {}
    for m in batch:
        by_type.setdefault(m.type, []).append(m)
    built: dict[int, Built] = {}
    missing: list[OutMessage] = []
    for type_, msgs in by_type.items():
        builder = BUILDERS.get(type_)
        got = builder([m.source_id for m in msgs]) if builder else {}
        for m in msgs:
            b = got.get(m.source_id)
            if b is None:
                missing.append(m)
            else:
                built[m.pk] = b
    items = [(m.idempotency_key, m.type, VERSIONS.get(m.type, m.schema_version), built[m.pk])
             for m in batch if m.pk in built]
    return items, missing


def _send(batch: list[OutMessage], *, client: HttpExchangeClient, lane_id: int, now: dt.datetime) -> BatchResult:
    cfg = conf()
    items, missing = _build(batch)
    result = BatchResult()
    for m in missing:  # the source row is gone (or the type unknown): nothing to send, ever
        _reject(m, "source_missing: 来源记录不存在", now=now, permanent=True)
        result.dead += 1
    if not items:
        return result
    from tongban.exchange.backfill import pending_history  # (backfill builds on this module)

    # A backfill under way: a case's history it has not yet delivered goes ahead of the case's live messages.
    items = pending_history(items, {m.idempotency_key: m.source_id for m in batch if m.type == CASE_EVENT})
    batch_id, body, headers, keys_list = encode_batch(items)
    result.batch_id = batch_id
    try:
        answer = post_batch(client, batch_id, body, headers, keys_list)
    except TransportError as exc:
        lane = Lane.objects.get(pk=lane_id)
        delay = _jitter(min(cfg.lane_backoff_cap, cfg.backoff * 2 ** min(lane.failures, 20)))
        Lane.objects.filter(pk=lane_id).update(failures=lane.failures + 1, last_error=scrub(str(exc))[:500],
                                               next_attempt_at=now + dt.timedelta(seconds=delay))
        logger.warning("exchange.batch_failed", extra={"lane": lane_id, "batch": batch_id, "error": str(exc)[:200]})
        result.failed = str(exc)[:200]
        return result
    Lane.objects.filter(pk=lane_id).exclude(failures=0).update(failures=0, last_error="")
    by_key = {m.idempotency_key: m for m in batch}
    sent_ids = []
    for r in answer.get("results") or []:
        found = by_key.get(str(r.get("key")))
        if found is None:
            continue
        m = found
        status = r.get("status")
        if status in ("accepted", "duplicate"):
            sent_ids.append(m.pk)
            result.sent += status == "accepted"
            result.duplicates += status == "duplicate"
            result.keys_sent.append(m.idempotency_key)
        elif status == "rejected":
            dead = _reject(m, f"{r.get('code', '')}: {r.get('message', '')}", now=now)
            result.rejected += 1
            result.dead += dead
        else:
            result.deferred += 1  # held behind a rejected message of the same entity: next pass
    mark_sent(sent_ids, batch_id=batch_id, now=now)
    return result


def mark_sent(ids: list[int], *, batch_id: str, now: dt.datetime) -> None:
    """Record what the counterpart acknowledged. A crash before this line leaves the messages due: they
    are sent again under the same keys and the counterpart answers `duplicate` (the failure tests cut here)."""
    if ids:
        OutMessage.objects.filter(pk__in=ids, status__in=DUE).update(
            status=MessageStatus.SENT, sent_at=now, batch_id=batch_id, last_error="")


def _reject(m: OutMessage, error: str, *, now: dt.datetime, permanent: bool = False) -> bool:
    """A message the counterpart refused: back off, or dead-letter after the retry budget. True if dead."""
    cfg = conf()
    attempts = m.attempts + 1
    dead = permanent or attempts >= cfg.max_attempts
    delay = _jitter(min(cfg.backoff_cap, cfg.backoff * 2 ** (attempts - 1)))
    OutMessage.objects.filter(pk=m.pk, status__in=DUE).update(
        attempts=attempts, last_error=scrub(error)[:500],
        status=MessageStatus.DEAD if dead else MessageStatus.RETRYING,
        next_attempt_at=now + dt.timedelta(seconds=delay))
    if dead:
        from tongban.audit.actions import Action
        from tongban.audit.services import Actor, Subject, audit_record

        logger.error("exchange.dead", extra={"message_id": m.pk, "type": m.type})
        audit_record(action=Action.EXCHANGE_DEAD, actor=Actor.system("exchange.delivery"),
                     subject=Subject("exchange.message", m.pk),
                     details={"type": m.type, "attempts": attempts, "error": scrub(error)[:200]})
    return dead


def deliver_pass(*, worker: str | None = None, client: HttpExchangeClient | None = None,
                 max_seconds: float = 30.0) -> list[BatchResult]:
    """Claim lanes with due messages one after another and deliver them, for at most `max_seconds` of wall
    time. What a delivery job, `tongban exchange deliver` and the tests call."""
    worker = worker or worker_name()
    ensure_lanes()
    results: list[BatchResult] = []
    started = time.monotonic()
    tried: set[int] = set()
    while time.monotonic() - started < max_seconds:
        lane_id = claim_lane(worker, now=clock.now(), skip=tried)
        if lane_id is None:
            break
        tried.add(lane_id)
        try:
            results.extend(deliver_lane(lane_id, worker, client=client))
        except Exception:
            release_lane(lane_id, worker)
            raise
        # Not in a `finally`: a worker that is killed keeps its lease, like a process that died, and the
        # lane waits for the lease to end (lease_seconds) before another worker takes it.
        release_lane(lane_id, worker)
    return results
