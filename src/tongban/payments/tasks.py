"""Background work of the payments app: messages to the payer and to finance staff (outbox
"payments.message"), refunds handed to the gateway (outbox "payments.refund"), receipts, and the sweep that
ends attempts past their expiry (every minute)."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from tongban.jobs.registry import PermanentJobError, job_task, outbox_channel
from tongban.payments.gateway import GatewayUnavailable
from tongban.payments.services import MESSAGE_CHANNEL, RECEIPT_TASK, REFUND_CHANNEL


def _id(payload: dict[str, Any], key: str) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PermanentJobError(f"payload without {key}")
    return value


@outbox_channel(MESSAGE_CHANNEL, max_attempts=8)
def deliver_message(payload: dict[str, Any], *, idempotency_key: str) -> None:
    from tongban.notifications.services import account_message_post
    from tongban.payments.models import PayableDocument

    if "user_id" in payload:
        user_id, link = _id(payload, "user_id"), "/backoffice/payments/reconciliation/"
    else:
        document = PayableDocument.objects.filter(pk=_id(payload, "document_id")).first()
        if document is None or document.payer_user_id is None:
            return
        user_id, link = document.payer_user_id, f"/pay/{document.number}/"
    with transaction.atomic():
        account_message_post(user_id=user_id, title=str(payload.get("title", ""))[:100],
                             body=str(payload.get("body", ""))[:1000], link=link, source_key=idempotency_key)


@outbox_channel(REFUND_CHANNEL, max_attempts=10)
def deliver_refund(payload: dict[str, Any], *, idempotency_key: str) -> None:
    from tongban.payments.services import refund_submit

    try:
        refund_submit(refund_pk=_id(payload, "refund_id"))
    except GatewayUnavailable:
        raise  # retried with back-off


@job_task(RECEIPT_TASK, max_attempts=5)
def issue_receipt(payment_id: int) -> None:
    from tongban.payments.receipts import receipt_ensure

    receipt_ensure(payment_id=payment_id)


@job_task("payments.expire_attempts", every=60, max_attempts=1)
def expire_attempts() -> None:
    from tongban.payments.services import payments_expire_due

    payments_expire_due()
