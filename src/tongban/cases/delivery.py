"""Delivering the result: pick-up at a station, postal delivery through the courier (EMS), or an
electronic result. The courier sits behind an interface chosen in settings (TONGBAN_EMS["BACKEND"]), as
every counterpart does; outside production it is the simulator in `sim/ems.py`.

    courier().create_order(order_id=…, recipient=…, phone=…, address=…, callback_url=…) -> waybill

The courier pushes tracking events to `/cases/ems/callback/`, signed like the SMS gateway's requests:
X-Ems-Signature = hex HMAC-SHA256(token, timestamp + "\\n" + body), X-Ems-Timestamp (Unix seconds).
"Signed for" closes the delivery, and with it the case.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any, Protocol, runtime_checkable

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.cases.models import (
    ActorKind,
    Case,
    CaseEvent,
    DeliveryMethod,
    Parcel,
    ParcelDirection,
    ParcelStatus,
    TrackingEvent,
)
from tongban.core import clock
from tongban.core.logging import get_logger

log = get_logger("tongban.cases")
EMS_CHANNEL = "ems_order"
ISSUE_RESULT_TASK = "cases.issue_result"
CLOCK_SKEW = 300


class CourierError(Exception):
    """The order did not go through."""


class CourierUnavailable(CourierError):
    """Worth retrying."""


class CourierRejected(CourierError):
    """The courier refused the order as invalid."""


def sign(token: str, timestamp: str, body: bytes) -> str:
    return hmac.new(token.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()


def verify_signature(*, token: str, timestamp: str, signature: str, body: bytes, now: float | None = None) -> bool:
    try:
        if abs((now if now is not None else time.time()) - int(timestamp)) > CLOCK_SKEW:
            return False
    except ValueError:
        return False
    return hmac.compare_digest(signature, sign(token, timestamp, body))


@runtime_checkable
class Courier(Protocol):
    def create_order(self, *, order_id: str, recipient: str, phone: str, address: str, callback_url: str) -> str:
        """Place a delivery order; return the waybill number. The same order id twice places one order."""


class HttpCourier:
    """The courier's HTTP API (EMS's, or the simulator's): POST {url}/v1/orders, signed."""

    def __init__(self, *, url: str, token: str, timeout: float = 5.0, **_: Any) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("the courier URL must be http:// or https://")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def create_order(self, *, order_id: str, recipient: str, phone: str, address: str, callback_url: str) -> str:
        body = json.dumps({"order_id": order_id, "recipient": recipient, "phone": phone, "address": address,
                           "callback_url": callback_url}, ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        request = urllib.request.Request(f"{self.url}/v1/orders", data=body, method="POST", headers={  # noqa: S310
            "Content-Type": "application/json; charset=utf-8", "Authorization": f"Bearer {self.token}",
            "Idempotency-Key": order_id, "X-Ems-Timestamp": timestamp,
            "X-Ems-Signature": sign(self.token, timestamp, body)})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            if 400 <= exc.code < 500 and exc.code not in (401, 408, 429):
                raise CourierRejected(f"courier refused the order: HTTP {exc.code}") from None
            raise CourierUnavailable(f"courier answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            raise CourierUnavailable(f"courier unreachable: {type(exc).__name__}") from None
        waybill = answer.get("waybill") if isinstance(answer, dict) else None
        if not isinstance(waybill, str) or not waybill:
            raise CourierUnavailable("courier answered without a waybill")
        return waybill[:32]


def courier() -> Courier:
    conf: dict[str, Any] = dict(settings.TONGBAN_EMS)
    conf.pop("CALLBACK_URL", None)
    backend = import_string(str(conf.pop("BACKEND")))
    return backend(**{key.lower(): value for key, value in conf.items()})  # type: ignore[no-any-return]


def callback_url() -> str:
    return str(settings.TONGBAN_EMS.get("CALLBACK_URL") or "http://127.0.0.1:8000/cases/ems/callback/")


# -- on entering delivery --------------------------------------------------------------------------------


def on_transition(case: Case, event: CaseEvent) -> None:
    """Start the delivery chosen by the applicant when the case enters "delivery" (in its transaction); two-way
    post's inbound leg and fee notice (tongban.cases.twoway) on the transitions that start them."""
    from tongban.cases import twoway

    twoway.on_transition(case, event)
    if event.to_state != "delivery" or event.from_state == "delivery":
        return
    from tongban.jobs.services import job_enqueue, outbox_send

    if case.delivery_method == DeliveryMethod.POST:
        parcel, _ = Parcel.objects.get_or_create(case=case, direction=ParcelDirection.OUTBOUND,
                                                 defaults={"order_id": f"tongban-{case.pk}"})
        outbox_send(channel=EMS_CHANNEL, payload={"parcel_id": parcel.pk}, idempotency_key=f"ems-order:{parcel.pk}")
    elif case.delivery_method == DeliveryMethod.ELECTRONIC:
        job_enqueue(task=ISSUE_RESULT_TASK, payload={"case_id": case.pk}, idempotency_key=f"result:{case.pk}")


def parcel_place_order(*, parcel_id: int, idempotency_key: str) -> str:
    """Hand the order to the courier (the outbox channel's work); the waybill is recorded."""
    parcel = Parcel.objects.select_related("case").filter(pk=parcel_id).first()
    if parcel is None:
        raise CourierRejected("parcel row is gone")
    if parcel.waybill:
        return parcel.waybill
    case = parcel.case
    if parcel.direction == ParcelDirection.INBOUND:  # two-way post: from the applicant to the office
        from tongban.cases.twoway import office_of

        office = office_of(case)
        recipient, address = office, f"{office}（{case.item_title}受理窗口，寄件人：{case.delivery_recipient or ''}）"
    else:
        recipient, address = case.delivery_recipient or "", case.delivery_address or ""
    waybill = courier().create_order(order_id=parcel.order_id, recipient=recipient,
                                     phone=case.delivery_phone or "", address=address,
                                     callback_url=callback_url())
    with transaction.atomic():
        parcel = Parcel.objects.select_for_update().get(pk=parcel_id)
        parcel.waybill = waybill
        parcel.status = ParcelStatus.ORDERED
        parcel.updated_at = clock.now()
        parcel.save(update_fields=["waybill", "status", "updated_at"])
        audit_record(action=Action.CASE_DELIVERY, actor=Actor.system("cases.ems"),
                     subject=Subject("cases.case", case.pk), details={"event": "ordered", "waybill": waybill})
        label = "原件寄送单已生成，请将原件交邮政寄出" if parcel.direction == ParcelDirection.INBOUND else "已交邮政寄递"
        _timeline(case, label, {"waybill": waybill, "status": ParcelStatus.ORDERED, "direction": parcel.direction})
    log.info("ems.ordered", case_id=case.pk, waybill=waybill)
    return waybill


def _timeline(case: Case, label: str, details: dict[str, Any]) -> CaseEvent:
    from tongban.cases.services import CASE_NOTICE_CHANNEL
    from tongban.jobs.services import outbox_send

    event = CaseEvent(case=case, kind="delivery", label=label, from_state=case.state, to_state=case.state,
                      actor_kind=ActorKind.SYSTEM, details=details)
    event.save()
    outbox_send(channel=CASE_NOTICE_CHANNEL, payload={"event_id": event.pk}, idempotency_key=f"case-event:{event.pk}")
    return event


_NOTABLE = {ParcelStatus.COLLECTED: "邮政已揽收", ParcelStatus.OUT_FOR_DELIVERY: "邮件派送中",
            ParcelStatus.SIGNED: "邮件已签收", ParcelStatus.DELAYED: "邮件延误", ParcelStatus.LOST: "邮件丢失，正在处理"}
_NOTABLE_INBOUND = {ParcelStatus.COLLECTED: "原件已由邮政揽收", ParcelStatus.SIGNED: "受理窗口已签收原件",
                    ParcelStatus.DELAYED: "原件邮件延误", ParcelStatus.LOST: "原件邮件丢失，正在处理"}
_TERMINAL = {ParcelStatus.SIGNED, ParcelStatus.LOST}


@transaction.atomic
def parcel_event_record(*, waybill: str, event_id: str, status: str, description: str,
                        occurred_at: dt.datetime) -> bool:
    """Record one tracking event pushed by the courier (each event id once); "signed" closes the case.
    Returns False when the event was already recorded or the waybill is unknown."""
    if status not in ParcelStatus.values:
        raise ValueError("unknown parcel status")
    parcel = Parcel.objects.select_for_update(of=("self",)).select_related("case").filter(waybill=waybill).first()
    if parcel is None or TrackingEvent.objects.filter(event_id=event_id).exists():
        return False
    TrackingEvent.objects.create(parcel=parcel, event_id=event_id[:64], status=status,
                                 description=description[:200], occurred_at=occurred_at)
    if parcel.status in _TERMINAL:
        return True  # a late or repeated event after the end changes nothing
    parcel.status = status
    parcel.updated_at = clock.now()
    if status == ParcelStatus.SIGNED:
        parcel.signed_at = occurred_at
    parcel.save(update_fields=["status", "updated_at", "signed_at"])
    case = parcel.case
    audit_record(action=Action.CASE_DELIVERY, actor=Actor.system("cases.ems"), subject=Subject("cases.case", case.pk),
                 details={"event": status, "waybill": waybill})
    inbound = parcel.direction == ParcelDirection.INBOUND
    if status in _NOTABLE:
        label = _NOTABLE_INBOUND.get(ParcelStatus(status), "") if inbound else _NOTABLE[ParcelStatus(status)]
        if label:
            _timeline(case, label, {"waybill": waybill, "status": status, "direction": parcel.direction})
    if inbound:
        from tongban.cases.twoway import AWAITING_ORIGINALS, ORIGINALS_RECEIVED

        if status == ParcelStatus.SIGNED and case.state == AWAITING_ORIGINALS:
            from tongban.cases.services import case_system_act

            case_system_act(case_id=case.pk, action=ORIGINALS_RECEIVED, component="cases.ems",
                            details={"waybill": waybill})
        return True
    if status == ParcelStatus.SIGNED and case.state == "delivery":
        from tongban.cases.services import case_system_act

        case_system_act(case_id=case.pk, action="deliver", component="cases.ems", details={"waybill": waybill})
    return True
