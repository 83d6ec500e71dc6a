"""Writes of the payments app: issuing notices and decisions, payment attempts and their state machine,
gateway notifications (each applied once), expiry, refunds with four eyes.

    created → started → success | failed | cancelled | expired

A final state never changes. A document is paid at most once, however many attempts were started: the
document row is locked for every change, and a partial unique index refuses a second success. Money the
gateway took for an attempt that can no longer succeed (another attempt paid first, or it had expired) is
refunded automatically. Every state change is audited in its transaction; messages leave through the outbox.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.crypto import salted_hmac

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.core.logging import get_logger
from tongban.crypto.sm3 import sm3
from tongban.payments import fees, numbers
from tongban.payments.gateway import GatewayError, OrderState, gateway
from tongban.payments.models import (
    FINAL_STATUSES,
    DocumentKind,
    DocumentStatus,
    GatewayNotification,
    PayableDocument,
    PayerKind,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
)

log = get_logger("tongban.payments")
MESSAGE_CHANNEL = "payments_message"
REFUND_CHANNEL = "payments_refund"
RECEIPT_TASK = "payments.issue_receipt"


def invalid(message: str, field: str = "") -> TongbanError:
    return TongbanError("payment_invalid", message, None, 422, details=[{"field": field, "message": message}])


def not_found() -> TongbanError:
    # "Not found" and "not allowed" look the same (STYLE habit 6).
    return TongbanError("not_found", "未找到该缴款文书，或缴款人姓名不符。", "No such document.", 404)


def _conf(name: str) -> Any:
    return settings.TONGBAN_PAYMENTS[name]  # type: ignore[index]


def _actor(actor: Any, component: str) -> Actor:
    return Actor.user(actor) if actor is not None else Actor.system(component)


# -- issuing ------------------------------------------------------------------------------------------------


def _clean_payer(payer_name: str, payer_id_number: str | None) -> tuple[str, str | None]:
    name = " ".join((payer_name or "").split())
    if not 1 <= len(name) <= 100:
        raise invalid("请填写缴款人姓名或单位名称。", "payer_name")
    number = (payer_id_number or "").strip().upper() or None
    if number is not None and len(number) > 32:
        raise invalid("证件号码过长。", "payer_id_number")
    return name, number


def _message_payer(document: PayableDocument, title: str, body: str, key: str) -> None:
    if document.payer_user_id is not None:
        from tongban.jobs.services import outbox_send

        outbox_send(channel=MESSAGE_CHANNEL, payload={"document_id": document.pk, "title": title, "body": body},
                    idempotency_key=key)


@transaction.atomic
def notice_issue(*, category: str, items: list[dict[str, Any]], payer_name: str, region_code: str,
                 payee_unit: str, due_on: dt.date | None = None, payer_id_number: str | None = None,
                 payer_kind: str = PayerKind.PERSON, payer_user_id: int | None = None,
                 case_id: int | None = None, actor: Any = None, component: str = "") -> PayableDocument:
    """Issue a payment notice (缴款通知书) for fee items of one category: by an officer (`actor`) or by a
    service such as the case engine (`component`, e.g. "cases"), which may tie it to a case (`case_id`).

    `items`: [{"code": <fee item code>, "quantity": n}] — amounts come from the fee table, never the caller."""
    cat = fees.category(category)
    if cat is None or cat.decision:
        raise invalid("缴款类别不正确。", "category")
    if not items:
        raise invalid("请至少选择一个缴款项目。", "items")
    lines: list[dict[str, Any]] = []
    total = 0
    for entry in items:
        item = cat.item(str(entry.get("code", "")))
        quantity = entry.get("quantity", 1)
        if item is None or item.fen is None:
            raise invalid("缴款项目不属于该类别。", "items")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= 99:
            raise invalid("数量须为 1-99 的整数。", "items")
        lines.append({"code": item.code, "name": item.name, "fen": item.fen, "quantity": quantity})
        total += item.fen * quantity
    if not (len(region_code) == 6 and region_code.isdigit()):
        raise invalid("辖区代码应为 6 位数字。", "region_code")
    if not payee_unit.strip():
        raise invalid("请填写执收单位。", "payee_unit")
    name, id_number = _clean_payer(payer_name, payer_id_number)
    today = clock.today_local()
    due = due_on or today + dt.timedelta(days=15)
    if due < today:
        raise invalid("缴款期限不能早于今天。", "due_on")
    document = PayableDocument(
        kind=DocumentKind.NOTICE, number=numbers.allocate("notice", region=region_code, day=today),
        category=cat.code, payee_unit=payee_unit.strip()[:100], region_code=region_code, payer_kind=payer_kind,
        payer_name=name, payer_id_number=id_number, payer_user_id=payer_user_id, items=lines,
        amount_fen=total, due_on=due, case_id=case_id,
        issued_by=actor if actor is not None else None, issued_by_system=component[:64])
    document.save()
    _audit_issue(document, actor, component or "payments")
    _message_payer(document, "待缴款通知",
                   f"您有一笔{cat.name}待缴纳，缴款码 {document.number}，金额 {fees.yuan(document.amount_fen)} 元，"
                   f"请于 {due:%Y-%m-%d} 前缴纳。", f"payments:issued:{document.pk}")
    return document


@transaction.atomic
def decision_issue(*, fine_fen: int, served_on: dt.date, payer_name: str, region_code: str, payee_unit: str,
                   payer_id_number: str | None = None, number: str | None = None, payer_user_id: int | None = None,
                   actor: Any = None, component: str = "") -> PayableDocument:
    """Record a penalty decision (处罚决定书) whose fine is paid here: by an officer for now, later by the
    violations service. A decision made elsewhere keeps its own number (it must fit the configured format)."""
    if not isinstance(fine_fen, int) or isinstance(fine_fen, bool) or not 0 < fine_fen <= 100_000_000:
        raise invalid("罚款金额须为正整数（分），且不超过 100 万元。", "fine_fen")
    today = clock.today_local()
    if served_on > today:
        raise invalid("送达日期不能晚于今天。", "served_on")
    if not (len(region_code) == 6 and region_code.isdigit()):
        raise invalid("辖区代码应为 6 位数字。", "region_code")
    name, id_number = _clean_payer(payer_name, payer_id_number)
    if number:
        number = numbers.normalise(number)
        if not numbers.checks_out("decision", number) and not _shape_only("decision", number):
            raise invalid("处罚决定书编号格式不正确。", "number")
        if PayableDocument.objects.filter(number=number).exists():
            raise invalid("该处罚决定书编号已登记。", "number")
    else:
        number = numbers.allocate("decision", region=region_code, day=today)
    cat = fees.category("traffic_fine")
    document = PayableDocument(
        kind=DocumentKind.DECISION, number=number, category="traffic_fine", payee_unit=payee_unit.strip()[:100],
        region_code=region_code, payer_name=name, payer_id_number=id_number, payer_user_id=payer_user_id,
        items=[{"code": "fine", "name": cat.item("fine").name if cat and cat.item("fine") else "罚款",  # type: ignore[union-attr]
                "fen": fine_fen, "quantity": 1}],
        amount_fen=fine_fen, served_on=served_on, issued_by=actor, issued_by_system=component[:64])
    document.save()
    _audit_issue(document, actor, component or "payments")
    _message_payer(document, "罚款缴纳提醒",
                   f"处罚决定书 {document.number}：罚款 {fees.yuan(fine_fen)} 元，请自送达之日起 15 日内缴纳，"
                   "逾期每日按罚款数额的 3% 加处罚款。", f"payments:issued:{document.pk}")
    return document


def _shape_only(kind: str, number: str) -> bool:
    import re

    return bool(re.fullmatch(str(numbers.number_format(kind)["accept"]), number))


def _audit_issue(document: PayableDocument, actor: Any, component: str) -> None:
    audit_record(action=Action.PAYMENT_DOCUMENT_ISSUE, actor=_actor(actor, component),
                 subject=Subject("payments.document", document.pk),
                 details={"kind": document.kind, "number": document.number, "category": document.category,
                          "amount_fen": document.amount_fen, "case": document.case_id})


@transaction.atomic
def document_cancel(*, document_id: int, actor: Any, reason: str) -> PayableDocument:
    document = PayableDocument.objects.select_for_update().get(pk=document_id)
    if document.status != DocumentStatus.UNPAID:
        raise TongbanError("payment_already_paid")
    document.status = DocumentStatus.CANCELLED
    document.save(update_fields=["status"])
    audit_record(action=Action.PAYMENT_STATE, actor=Actor.user(actor), subject=Subject("payments.document", document.pk),
                 details={"document": "cancelled", "reason": reason[:200]})
    return document


# -- what is owed today -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    principal_fen: int
    surcharge_fen: int

    @property
    def total_fen(self) -> int:
        return self.principal_fen + self.surcharge_fen


def amount_due(document: PayableDocument, on: dt.date | None = None) -> Due:
    """What paying the document costs on day `on` (today): a fine adds its late fee from the date of service."""
    on = on or clock.today_local()
    if document.kind == DocumentKind.DECISION and document.served_on is not None:
        return Due(document.amount_fen, fees.late_fee_fen(fine_fen=document.amount_fen, served_on=document.served_on,
                                                          paid_on=on))
    return Due(document.amount_fen, 0)


def qr_token(number: str) -> str:
    """What the QR code printed on a notice carries besides the number: it stands for the payer's name."""
    return salted_hmac("tongban.payments.qr", number, algorithm="sha256").hexdigest()[:20]


def qr_token_valid(number: str, token: str) -> bool:
    return bool(token) and secrets.compare_digest(qr_token(number), token)


# -- attempts -----------------------------------------------------------------------------------------------


def request_hash(*, number: str, total_fen: int, channel: str) -> str:
    """The body an idempotency key is bound to: the same key with another body is a conflict (409)."""
    body = json.dumps({"reference": number, "amount": total_fen, "channel": channel}, sort_keys=True)
    return sm3(body.encode()).hex()


def _transition(payment: Payment, to: str, *, actor: Actor, details: dict[str, Any] | None = None,
                fields: tuple[str, ...] = ()) -> None:
    """Move a locked payment to another state (never out of a final one) and audit it."""
    if payment.status in FINAL_STATUSES:
        raise AssertionError(f"payment {payment.pk} is final ({payment.status})")
    before = payment.status
    payment.status = to
    if to in FINAL_STATUSES:
        payment.finished_at = clock.now()
    payment.save(update_fields=["status", "finished_at", *fields])
    audit_record(action=Action.PAYMENT_STATE, actor=actor, subject=Subject("payments.payment", payment.pk),
                 details={"from": before, "to": to, "document": payment.document_id, "total_fen": payment.total_fen,
                          **(details or {})})


@dataclass(frozen=True)
class Created:
    payment: Payment
    created: bool  # False: the same key and body returned the original


def payment_create(*, document_id: int, idempotency_key: str, channel: str = "redirect", user: Any = None,
                   expected_total_fen: int | None = None) -> Created:
    """Start paying a document (GOV.UK Pay's contract for the key): the same key and body return the original
    attempt; the same key with another body is a 409. Then the order is placed with the gateway."""
    if channel not in ("redirect", "qr"):
        raise invalid("支付方式不正确。", "channel")
    if not idempotency_key or len(idempotency_key) > 128:
        raise TongbanError("idempotency_key_invalid")
    outcome = _payment_create(document_id=document_id, idempotency_key=idempotency_key, channel=channel,
                              user=user, expected_total_fen=expected_total_fen)
    if outcome.payment.status == PaymentStatus.CREATED:
        return Created(payment_start(payment_id=outcome.payment.pk), outcome.created)
    return outcome


def _payment_create(*, document_id: int, idempotency_key: str, channel: str, user: Any,
                    expected_total_fen: int | None) -> Created:
    try:
        with transaction.atomic():
            document = PayableDocument.objects.select_for_update().filter(pk=document_id).first()
            if document is None:
                raise not_found()
            due = amount_due(document)
            digest = request_hash(number=document.number, total_fen=due.total_fen
                                  if expected_total_fen is None else expected_total_fen, channel=channel)
            existing = Payment.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                if existing.request_hash != digest or existing.document_id != document.pk:
                    raise TongbanError("idempotency_conflict")
                return Created(existing, False)
            if document.status == DocumentStatus.PAID:
                raise TongbanError("payment_already_paid")
            if document.status == DocumentStatus.CANCELLED:
                raise TongbanError("payment_document_closed")
            if expected_total_fen is not None and expected_total_fen != due.total_fen:
                # The page showed another amount (a day passed, the late fee grew): show the new one first.
                raise invalid(f"应缴金额已更新为 {fees.yuan(due.total_fen)} 元，请确认后再缴款。", "amount")
            now = clock.now()
            payment = Payment(document=document, principal_fen=due.principal_fen, surcharge_fen=due.surcharge_fen,
                              total_fen=due.total_fen, order_id=_order_id(), channel=channel,
                              idempotency_key=idempotency_key, request_hash=digest,
                              user=user if getattr(user, "is_authenticated", False) else None,
                              expires_at=now + dt.timedelta(seconds=int(_conf("ATTEMPT_TTL_SECONDS"))))
            payment.save()
            audit_record(action=Action.PAYMENT_STATE, actor=Actor.user(user) if user is not None else Actor.anonymous(),
                         subject=Subject("payments.payment", payment.pk),
                         details={"from": "", "to": PaymentStatus.CREATED, "document": document.pk,
                                  "principal_fen": payment.principal_fen, "surcharge_fen": payment.surcharge_fen,
                                  "channel": channel})
            return Created(payment, True)
    except IntegrityError:
        # Another request with the same key committed while we waited (a double click).
        existing = Payment.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        document = existing.document
        due = amount_due(document)
        digest = request_hash(number=document.number, total_fen=due.total_fen
                              if expected_total_fen is None else expected_total_fen, channel=channel)
        if existing.request_hash != digest or existing.document_id != document_id:
            raise TongbanError("idempotency_conflict") from None
        return Created(existing, False)


def _order_id() -> str:
    return f"TB{clock.now():%y%m%d}{secrets.token_hex(8).upper()}"


def return_url(order_id: str) -> str:
    base = str(getattr(settings, "TONGBAN_PUBLIC_URL", "http://127.0.0.1:8000")).rstrip("/")
    return f"{base}/pay/return/{order_id}/"


def payment_start(*, payment_id: int) -> Payment:
    """Place the attempt's order with the gateway (idempotent on the order id) and mark it started."""
    payment = Payment.objects.select_related("document").get(pk=payment_id)
    if payment.status != PaymentStatus.CREATED:
        return payment
    try:
        order = gateway().create_order(
            order_id=payment.order_id, amount_fen=payment.total_fen,
            subject=(fees.category(payment.document.category).name  # type: ignore[union-attr]
                     if fees.category(payment.document.category) else "非税收入"),
            notify_url=str(_conf("NOTIFY_URL")), return_url=return_url(payment.order_id), channel=payment.channel,
            expire_seconds=int(_conf("ATTEMPT_TTL_SECONDS")))
    except GatewayError as exc:
        log.warning("payments.gateway_create_failed", payment_id=payment.pk, error=type(exc).__name__)
        raise TongbanError("payment_gateway_unavailable") from None
    with transaction.atomic():
        payment = Payment.objects.select_for_update().get(pk=payment_id)
        if payment.status != PaymentStatus.CREATED:
            return payment
        payment.gateway_ref = order.gateway_ref
        payment.pay_url = order.pay_url
        payment.started_at = clock.now()
        _transition(payment, PaymentStatus.STARTED, actor=Actor.system("payments"),
                    details={"gateway_ref": order.gateway_ref}, fields=("gateway_ref", "pay_url", "started_at"))
    return payment


# -- outcomes: notifications, queries, expiry ---------------------------------------------------------------


def _apply(payment_id: int, *, status: str, amount_fen: int, paid_at: dt.datetime | None, source: str) -> str:
    """Apply the gateway's word about one order, in the caller's transaction. Returns what happened."""
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    actor = Actor.system(f"payments.{source}")
    if status == "success":
        if amount_fen != payment.total_fen:
            log.warning("payments.amount_mismatch", payment_id=payment.pk)
            audit_record(action=Action.PAYMENT_NOTIFICATION_REJECTED, actor=actor,
                         subject=Subject("payments.payment", payment.pk),
                         details={"reason": "amount_mismatch", "theirs_fen": amount_fen, "ours_fen": payment.total_fen})
            return "amount_mismatch"
        if payment.status == PaymentStatus.SUCCESS:
            return "already_applied"
        document = PayableDocument.objects.select_for_update().get(pk=payment.document_id)
        if payment.status in FINAL_STATUSES or document.status != DocumentStatus.UNPAID:
            # The gateway took money for an attempt that cannot succeed here: give it back.
            if payment.status not in FINAL_STATUSES:
                payment.failure = "document_already_paid"
                _transition(payment, PaymentStatus.FAILED, actor=actor, details={"reason": payment.failure},
                            fields=("failure",))
            _refund_automatic(payment, reason="重复缴款或逾期支付，自动退款")
            return "refunded"
        payment.paid_at = paid_at or clock.now()
        _transition(payment, PaymentStatus.SUCCESS, actor=actor, fields=("paid_at",))
        document.status = DocumentStatus.PAID
        document.paid_at = payment.paid_at
        document.save(update_fields=["status", "paid_at"])
        from tongban.jobs.services import job_enqueue

        job_enqueue(task=RECEIPT_TASK, payload={"payment_id": payment.pk}, idempotency_key=f"receipt:{payment.pk}")
        _message_payer(document, "缴款成功",
                       f"缴款码/决定书编号 {document.number} 已缴款 {fees.yuan(payment.total_fen)} 元，可下载电子票据。",
                       f"payments:paid:{payment.pk}")
        return "applied"
    if payment.status in FINAL_STATUSES:
        return "ignored_final"
    if status == "failed":
        payment.failure = "declined"
        _transition(payment, PaymentStatus.FAILED, actor=actor, fields=("failure",))
        return "applied"
    if status == "closed":
        expired = clock.now() >= payment.expires_at
        _transition(payment, PaymentStatus.EXPIRED if expired else PaymentStatus.CANCELLED, actor=actor)
        return "applied"
    return "ignored"


def notification_apply(*, notify_id: str, order_id: str, status: str, amount_fen: int,
                       paid_at: dt.datetime | None) -> str:
    """Apply one (authenticated) gateway notification once: a repeat of the same notification changes nothing,
    a late or out-of-order one cannot move a final state."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                note = GatewayNotification.objects.create(notify_id=notify_id[:64], order_id=order_id[:32],
                                                          status=status[:16], amount_fen=amount_fen, outcome="")
        except IntegrityError:
            return "duplicate"
        payment_id = Payment.objects.filter(order_id=order_id).values_list("pk", flat=True).first()
        if payment_id is None:
            note.outcome = "unknown_order"
        else:
            note.payment_id = payment_id
            note.outcome = _apply(payment_id, status=status, amount_fen=amount_fen, paid_at=paid_at, source="notify")
        note.save(update_fields=["payment", "outcome"])
        return note.outcome


def notification_receive(*, body: bytes, timestamp: str, signature: str) -> str:
    """The gateway's POST: check the HMAC-SM3 signature, parse, apply. Raises TongbanError on a bad one."""
    from tongban.payments.gateway import notification_key, verify_signature

    if not verify_signature(key=notification_key(), timestamp=timestamp, signature=signature, body=body):
        with transaction.atomic():
            audit_record(action=Action.PAYMENT_NOTIFICATION_REJECTED, actor=Actor.system("payments.notify"),
                         details={"reason": "bad_signature"})
        raise TongbanError("signature_invalid")
    try:
        data = json.loads(body)
        paid = data.get("paid_at")
        paid_at = dt.datetime.fromisoformat(paid) if paid else None
        if paid_at is not None and paid_at.tzinfo is None:
            raise ValueError("naive time")
        amount = data["amount_fen"]
        if not isinstance(amount, int) or isinstance(amount, bool):
            raise ValueError("amount")
        return notification_apply(notify_id=str(data["notify_id"]), order_id=str(data["order_id"]),
                                  status=str(data["status"]), amount_fen=amount, paid_at=paid_at)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise TongbanError("bad_request") from None


def _apply_state(payment: Payment, state: OrderState, source: str) -> Payment:
    if state.status in ("success", "failed", "closed"):
        with transaction.atomic():
            _apply(payment.pk, status=state.status, amount_fen=state.amount_fen, paid_at=state.paid_at, source=source)
    return Payment.objects.select_related("document").get(pk=payment.pk)


def payment_refresh(*, payment_id: int) -> Payment:
    """The return page's check: never trust the URL, ask the gateway (query API) about an unfinished attempt."""
    payment = Payment.objects.select_related("document").get(pk=payment_id)
    if payment.status != PaymentStatus.STARTED:
        return payment
    try:
        state = gateway().query(order_id=payment.order_id)
    except GatewayError:
        return payment  # the notification will come; the page says "confirming"
    return _apply_state(payment, state, "query")


def payments_expire_due(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """End attempts past their expiry: an unstarted one expires; a started one is closed at the gateway first
    (a payment made in the last second is kept, not lost)."""
    now = now or clock.now()
    done = 0
    for payment in Payment.objects.filter(status__in=[PaymentStatus.CREATED, PaymentStatus.STARTED],
                                          expires_at__lte=now).order_by("expires_at")[:limit]:
        if payment.status == PaymentStatus.STARTED:
            try:
                state = gateway().close(order_id=payment.order_id)
            except GatewayError:
                continue
            if state.status == "success":
                _apply_state(payment, state, "expiry")
                done += 1
                continue
        with transaction.atomic():
            locked = Payment.objects.select_for_update().get(pk=payment.pk)
            if locked.status not in FINAL_STATUSES:
                _transition(locked, PaymentStatus.EXPIRED, actor=Actor.system("payments.expiry"))
                done += 1
    return done


# -- refunds ------------------------------------------------------------------------------------------------


def _refund_id() -> str:
    return f"RF{clock.now():%y%m%d}{secrets.token_hex(8).upper()}"


def _refund_audit(refund: Refund, actor: Actor, before: str) -> None:
    audit_record(action=Action.PAYMENT_REFUND, actor=actor, subject=Subject("payments.refund", refund.pk),
                 details={"from": before, "to": refund.status, "payment": refund.payment_id,
                          "amount_fen": refund.amount_fen})


def _refund_automatic(payment: Payment, *, reason: str) -> Refund:
    from tongban.jobs.services import outbox_send

    existing = Refund.objects.filter(payment=payment, requested_by_system="payments.duplicate").first()
    if existing is not None:
        return existing
    refund = Refund.objects.create(payment=payment, refund_id=_refund_id(), amount_fen=payment.total_fen,
                                   reason=reason, status=RefundStatus.APPROVED, requested_by_system="payments.duplicate",
                                   decided_at=clock.now())
    _refund_audit(refund, Actor.system("payments.duplicate"), "")
    outbox_send(channel=REFUND_CHANNEL, payload={"refund_id": refund.pk}, idempotency_key=f"refund:{refund.pk}")
    return refund


def _refundable(payment: Payment) -> int:
    taken = sum(r.amount_fen for r in payment.refunds.exclude(status__in=[RefundStatus.REJECTED, RefundStatus.FAILED]))
    return payment.total_fen - taken


@transaction.atomic
def refund_request(*, payment_id: int, amount_fen: int, reason: str, actor: Any) -> Refund:
    """An officer asks to refund (part of) a successful payment; another officer approves (four eyes)."""
    payment = Payment.objects.select_for_update().filter(pk=payment_id).first()
    if payment is None or payment.status != PaymentStatus.SUCCESS:
        raise TongbanError("refund_invalid", "只能对支付成功的缴款申请退款。", None, 422)
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or not 0 < amount_fen <= _refundable(payment):
        raise TongbanError("refund_invalid", "退款金额须大于零且不超过可退金额。", None, 422)
    if not reason.strip():
        raise TongbanError("refund_invalid", "请填写退款原因。", None, 422)
    refund = Refund.objects.create(payment=payment, refund_id=_refund_id(), amount_fen=amount_fen,
                                   reason=reason.strip()[:200], requested_by=actor)
    _refund_audit(refund, Actor.user(actor), "")
    return refund


@transaction.atomic
def refund_decide(*, refund_id: int, approve: bool, actor: Any) -> Refund:
    from tongban.jobs.services import outbox_send

    refund = Refund.objects.select_for_update().filter(pk=refund_id).first()
    if refund is None:
        raise TongbanError("not_found")
    if refund.status != RefundStatus.REQUESTED:
        raise TongbanError("refund_state")
    if refund.requested_by_id == actor.pk:
        raise TongbanError("refund_four_eyes")
    before = refund.status
    refund.status = RefundStatus.APPROVED if approve else RefundStatus.REJECTED
    refund.decided_by = actor
    refund.decided_at = clock.now()
    refund.save(update_fields=["status", "decided_by", "decided_at"])
    _refund_audit(refund, Actor.user(actor), before)
    if approve:
        outbox_send(channel=REFUND_CHANNEL, payload={"refund_id": refund.pk}, idempotency_key=f"refund:{refund.pk}")
    return refund


def refund_submit(*, refund_pk: int) -> Refund:
    """The outbox's work: hand an approved refund to the gateway (idempotent on the refund id)."""
    from tongban.payments.gateway import GatewayRejected

    refund = Refund.objects.select_related("payment").get(pk=refund_pk)
    if refund.status != RefundStatus.APPROVED:
        return refund
    try:
        ref = gateway().refund(refund_id=refund.refund_id, order_id=refund.payment.order_id,
                               amount_fen=refund.amount_fen)
        outcome = RefundStatus.SUCCEEDED
    except GatewayRejected:
        ref, outcome = "", RefundStatus.FAILED
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_pk)
        if refund.status != RefundStatus.APPROVED:
            return refund
        refund.status = outcome
        refund.gateway_ref = ref
        refund.finished_at = clock.now()
        refund.save(update_fields=["status", "gateway_ref", "finished_at"])
        _refund_audit(refund, Actor.system("payments.refund"), RefundStatus.APPROVED)
    return refund
