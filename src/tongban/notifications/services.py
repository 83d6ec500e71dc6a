"""Queueing a text message: an encrypted row and its outbox entry, in the caller's transaction."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from tongban.jobs.services import outbox_send
from tongban.notifications.models import AccountMessage, SmsMessage

SMS_CHANNEL = "sms"


@transaction.atomic
def sms_queue(*, phone: str, text: str, purpose: str, expires_at: dt.datetime | None = None) -> SmsMessage:
    """Write the message (encrypted) and queue its delivery; the outbox job holds the id only.

    Call it inside the transaction of the change that causes the message (invariant 4): both commit
    or neither does, and the channel handler sends it once per message row. `expires_at` is the end of
    the message's useful life (a one-time code's expiry): not sent by then, it is never sent (status
    expired, its text erased).
    """
    if not text or len(text) > 500:
        raise ValueError("an SMS text is 1-500 characters")
    message = SmsMessage(phone=phone, text=text, purpose=purpose[:32])
    message.save()
    outbox_send(channel=SMS_CHANNEL, payload={"message_id": message.pk},
                idempotency_key=f"sms:{message.pk}", expires_at=expires_at)
    return message


def payload_id_parse(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("not a row id")
    return value


def account_message_post(*, user_id: int, title: str, body: str, link: str = "", source_key: str
                         ) -> tuple[AccountMessage, bool]:
    """Put a message in the account's message centre, once per `source_key` (an outbox may run twice);
    (message, created)."""
    return AccountMessage.objects.get_or_create(
        source_key=source_key[:100],
        defaults={"user_id": user_id, "title": title[:100], "body": body[:1000], "link": link[:200]})


def account_messages_mark_read(*, user_id: int, message_ids: list[int] | None = None) -> int:
    """Mark the account's messages read (all of them, or those listed); the number marked."""
    from django.utils import timezone

    rows = AccountMessage.objects.filter(user_id=user_id, read_at__isnull=True)
    if message_ids is not None:
        rows = rows.filter(pk__in=message_ids)
    return rows.update(read_at=timezone.now())
