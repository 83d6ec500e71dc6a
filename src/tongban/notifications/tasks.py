"""The outbox channel "sms": decrypt the queued message and hand it to the configured gateway."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from tongban.core.logging import get_logger
from tongban.jobs.registry import PermanentJobError, outbox_channel
from tongban.notifications.models import SmsMessage, SmsStatus
from tongban.notifications.services import payload_id_parse
from tongban.notifications.sms import SmsRejected, gateway

log = get_logger("tongban.notifications")


# The lease is how long a message held by a worker that died waits before another worker sends it. It
# must be shorter than the shortest useful life of an SMS — a login code's five minutes (accounts.otp),
# which job_enqueue enforces — and above a delivery's worst case (two row reads and writes, and the
# gateway's timeout, TONGBAN_SMS_GATEWAY_TIMEOUT_SECONDS, 5 s by default).
SMS_LEASE_SECONDS = 30


def forget_sms(payload: dict[str, Any]) -> None:
    """The message's useful life passed before it was sent: it never will be, so its text goes."""
    try:
        message_id = payload_id_parse(payload["message_id"])
    except (KeyError, TypeError, ValueError):
        return
    message = SmsMessage.objects.filter(pk=message_id, status=SmsStatus.QUEUED).first()
    if message is None:
        return
    message.status = SmsStatus.EXPIRED
    message.text = None
    message.save(update_fields=["status", "text"])
    log.info("sms.expired", message_id=message.pk, phone=message.masked("phone"), purpose=message.purpose)


@outbox_channel("sms", max_attempts=8, lease_seconds=SMS_LEASE_SECONDS, on_expire=forget_sms)
def deliver_sms(payload: dict[str, Any], *, idempotency_key: str) -> None:
    try:
        message_id = payload_id_parse(payload["message_id"])
    except (KeyError, TypeError, ValueError):
        raise PermanentJobError("sms payload without a message id") from None
    message = SmsMessage.objects.filter(pk=message_id).first()
    if message is None:
        raise PermanentJobError("sms message row is gone")
    if message.status == SmsStatus.SENT:
        return  # delivered on an earlier attempt whose job did not record its success
    if message.text is None:
        raise PermanentJobError("sms message has no text")
    try:
        gateway_id = gateway().send(phone=message.phone, text=message.text, idempotency_key=idempotency_key)
    except SmsRejected as exc:
        with transaction.atomic():
            message.status = SmsStatus.FAILED
            message.save(update_fields=["status"])
        log.warning("sms.rejected", message_id=message.pk, phone=message.masked("phone"), purpose=message.purpose)
        raise PermanentJobError(str(exc)) from None
    with transaction.atomic():
        message.status = SmsStatus.SENT
        message.sent_at = timezone.now()
        message.gateway_message_id = gateway_id
        message.text = None
        message.save(update_fields=["status", "sent_at", "gateway_message_id", "text"])
    log.info("sms.sent", message_id=message.pk, phone=message.masked("phone"), purpose=message.purpose)
