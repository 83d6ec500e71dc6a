"""Daily reconciliation against the gateway's settlement file.

The file (CSV, UTF-8): `order_id,gateway_ref,type,amount_fen,time`, one line per payment (`pay`) or refund
(`refund`) settled that day (China Standard Time). Each of our successful payments of the day (by the
gateway's payment time) is matched to a `pay` line by order id; each difference becomes a row for finance
staff: **missing** (ours, not in the file), **extra** (in the file, not ours that day), **amount** (both,
different amounts). Set-based: one query for our side, dictionaries for the comparison, one bulk insert.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from django.db import transaction

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core import clock
from tongban.crypto.sm3 import sm3
from tongban.payments.models import (
    DifferenceKind,
    Payment,
    PaymentStatus,
    Reconciliation,
    ReconciliationDifference,
)


class SettlementFileError(ValueError):
    """The file is not a settlement file."""


def parse_settlement(data: bytes) -> dict[str, tuple[str, int]]:
    """order_id -> (gateway_ref, amount_fen) of the day's `pay` lines."""
    try:
        reader = csv.DictReader(io.StringIO(data.decode("utf-8")))
    except UnicodeDecodeError as exc:
        raise SettlementFileError("not UTF-8") from exc
    if reader.fieldnames is None or not {"order_id", "type", "amount_fen"} <= set(reader.fieldnames):
        raise SettlementFileError("missing columns")
    found: dict[str, tuple[str, int]] = {}
    for row in reader:
        if row.get("type") != "pay":
            continue
        try:
            amount = int(row["amount_fen"])
        except (TypeError, ValueError) as exc:
            raise SettlementFileError(f"line {reader.line_num}: amount") from exc
        found[str(row["order_id"])] = (str(row.get("gateway_ref", "")), amount)
    return found


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, tzinfo=clock.SHANGHAI)  # the settlement day is China's
    return start, start + dt.timedelta(days=1)


def reconciliation_run(*, day: dt.date, data: bytes | None = None, actor: Any = None) -> Reconciliation:
    """Reconcile one day (again: the previous result of that day is replaced). `data` defaults to the file
    fetched from the gateway."""
    if data is None:
        from tongban.payments.gateway import gateway

        data = gateway().settlement(day=day)
    theirs = parse_settlement(data)
    start, end = day_bounds(day)
    ours: dict[str, tuple[int, int]] = {
        order_id: (pk, total) for pk, order_id, total in Payment.objects.filter(
            status=PaymentStatus.SUCCESS, paid_at__gte=start, paid_at__lt=end).values_list("pk", "order_id", "total_fen")}
    differences: list[ReconciliationDifference] = []
    for order_id, (pk, total) in ours.items():
        other = theirs.get(order_id)
        if other is None:
            differences.append(ReconciliationDifference(kind=DifferenceKind.MISSING, order_id=order_id, payment_id=pk,
                                                        ours_fen=total))
        elif other[1] != total:
            differences.append(ReconciliationDifference(kind=DifferenceKind.AMOUNT, order_id=order_id, payment_id=pk,
                                                        ours_fen=total, theirs_fen=other[1]))
    extra = [order_id for order_id in theirs if order_id not in ours]
    if extra:
        known = dict(Payment.objects.filter(order_id__in=extra).values_list("order_id", "pk"))
        for order_id in extra:
            differences.append(ReconciliationDifference(kind=DifferenceKind.EXTRA, order_id=order_id[:32],
                                                        payment_id=known.get(order_id), theirs_fen=theirs[order_id][1]))
    with transaction.atomic():
        Reconciliation.objects.filter(day=day).delete()
        run = Reconciliation.objects.create(
            day=day, file_sm3=sm3(data).hex(), ours=len(ours), theirs=len(theirs),
            ours_fen=sum(total for _, total in ours.values()), theirs_fen=sum(a for _, a in theirs.values()),
            differences=len(differences))
        for item in differences:
            item.reconciliation = run
        ReconciliationDifference.objects.bulk_create(differences, batch_size=2000)
        audit_record(action=Action.PAYMENT_RECONCILE,
                     actor=Actor.user(actor) if actor is not None else Actor.system("payments.reconcile"),
                     subject=Subject("payments.reconciliation", run.pk),
                     details={"day": day.isoformat(), "ours": run.ours, "theirs": run.theirs,
                              "differences": run.differences, "file_sm3": run.file_sm3})
        if differences:
            _tell_finance(run)
    return run


def _tell_finance(run: Reconciliation) -> None:
    """A message to every finance account's message centre, through the outbox."""
    from tongban.accounts.models import User
    from tongban.jobs.services import outbox_send
    from tongban.payments.services import MESSAGE_CHANNEL

    for user_id in User.objects.filter(role_finance=True, is_active=True).values_list("pk", flat=True):
        outbox_send(channel=MESSAGE_CHANNEL, payload={"user_id": user_id, "title": "对账差异待处理",
                                                      "body": f"{run.day:%Y-%m-%d} 对账发现 {run.differences} 笔差异，请在后台处理。"},
                    idempotency_key=f"payments:reconcile:{run.pk}:{user_id}")


@transaction.atomic
def difference_resolve(*, difference_id: int, note: str, actor: Any) -> ReconciliationDifference:
    item = ReconciliationDifference.objects.select_for_update().get(pk=difference_id)
    if item.resolved_at is None:
        item.resolved_at = clock.now()
        item.resolved_by = actor
        item.note = note.strip()[:200]
        item.save(update_fields=["resolved_at", "resolved_by", "note"])
        audit_record(action=Action.PAYMENT_DIFFERENCE_RESOLVE, actor=Actor.user(actor),
                     subject=Subject("payments.reconciliation", item.reconciliation_id),
                     details={"difference": item.pk, "kind": item.kind, "order_id": item.order_id})
    return item
