"""Writes of the exchange: emitting an outgoing message in the caller's transaction, an operator's replay of
a dead letter, key rotation. Delivery is in delivery.py, inbound in inbound.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.exchange.delivery import lane_of
from tongban.exchange.messages import TYPES, VERSIONS
from tongban.exchange.models import MessageStatus, OutMessage
from tongban.jobs.services import job_enqueue


def message_emit(*, type: str, source_id: int, entity: str, occurred_at: dt.datetime) -> None:  # noqa: A002
    """Queue one message in the current transaction (it exists iff the change commits). Emitting the same
    (type, source) twice keeps the first: the idempotency key is `<type>:<source id>`."""
    if type not in TYPES:
        raise ValueError(f"unknown exchange message type {type!r}")
    OutMessage.objects.bulk_create([OutMessage(
        type=type, schema_version=VERSIONS[type], source_id=source_id, entity=entity, lane=lane_of(entity),
        day=clock.to_local(occurred_at).date(), created_at=clock.now(), next_attempt_at=clock.now())],
        ignore_conflicts=True)
    # A delivery pass with the commit (the in-process worker wakes on it); one job a second at most.
    job_enqueue(task="exchange.deliver", payload={}, idempotency_key=f"on-emit:{int(clock.now().timestamp())}")


def verification_stats_emit(*, day: dt.date) -> None:
    """Queue the day's identity-verification statistics (once per day: the key is the day)."""
    from tongban.exchange.messages import VERIFICATION_STATS, stats_source_id

    when = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=clock.SHANGHAI)
    message_emit(type=VERIFICATION_STATS, source_id=stats_source_id(day), entity="verification-stats",
                 occurred_at=when)


def _message(message_id: int) -> OutMessage:
    m = OutMessage.objects.select_for_update().filter(pk=message_id).first()
    if m is None:
        raise TongbanError("not_found", "消息不存在。", "No such message.", 404)
    return m


@transaction.atomic
def message_replay(*, message_id: int, actor: Any, request: Any = None) -> OutMessage:
    """An operator sends a dead letter again (after fixing its cause): pending, with a fresh retry budget."""
    m = _message(message_id)
    if m.status != MessageStatus.DEAD:
        raise TongbanError("conflict", "只有死信可以重发。", "Only dead messages can be replayed.", 409)
    m.status = MessageStatus.PENDING
    m.attempts = 0
    m.next_attempt_at = clock.now()
    m.save(update_fields=["status", "attempts", "next_attempt_at"])
    audit_record(action=Action.EXCHANGE_REPLAY, actor=Actor.user(actor) if actor else Actor.cli(),
                 subject=Subject("exchange.message", m.pk), request=request,
                 details={"type": m.type, "key": m.idempotency_key})
    return m


@transaction.atomic
def message_discard(*, message_id: int, actor: Any, request: Any = None) -> OutMessage:
    """An operator gives a dead letter up (it can never be applied there): its entity's later messages, held
    behind it so the national side gets them in order, flow again. The gap is the operator's to explain."""
    m = _message(message_id)
    if m.status != MessageStatus.DEAD:
        raise TongbanError("conflict", "只有死信可以放弃。", "Only dead messages can be discarded.", 409)
    m.status = MessageStatus.DISCARDED
    m.save(update_fields=["status"])
    audit_record(action=Action.EXCHANGE_DISCARD, actor=Actor.user(actor) if actor else Actor.cli(),
                 subject=Subject("exchange.message", m.pk), request=request,
                 details={"type": m.type, "key": m.idempotency_key, "error": m.last_error[:200]})
    return m


@transaction.atomic
def envelope_key_rotate() -> str:
    from tongban.exchange.keys import rotate_envelope_key

    row = rotate_envelope_key()
    audit_record(action=Action.EXCHANGE_KEY_ROTATE, actor=Actor.cli(),
                 subject=Subject("exchange.envelope_key", row.pk), details={"key_id": row.key_id})
    return row.key_id
