"""Reads of the payments app: finding a document as the payer (number and name, QR token, or the payer's own
account), the case's notices, lists for the back office."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tongban.accounts.roles import StaffRole
from tongban.crypto.fields import normalize
from tongban.payments import numbers
from tongban.payments.models import PayableDocument, Payment, Reconciliation, ReconciliationDifference, Refund


def document_by_number(number: str) -> PayableDocument | None:
    number = numbers.normalise(number)
    if not number or len(number) > 32:
        return None
    return PayableDocument.objects.filter(number=number).first()


def name_matches(document: PayableDocument, name: str) -> bool:
    """The second factor of an anonymous payer: the payer's name as on the document (width, case and spaces
    normalised, so "CHAN Tai Man" and "chan tai man" match, as do full-width letters)."""
    stored = document.payer_name or ""
    return bool(name.strip()) and normalize("name", stored).casefold() == normalize("name", name).casefold()


def document_for_payer(*, number: str, payer_name: str) -> PayableDocument | None:
    document = document_by_number(number)
    if document is None or not name_matches(document, payer_name):
        return None
    return document


def notices_for_case(case_id: int) -> list[PayableDocument]:
    """The notices issued for a case (the case page shows them with their QR code)."""
    return list(PayableDocument.objects.filter(case_id=case_id).order_by("created_at"))


def documents_for_staff(user: Any) -> QuerySet[PayableDocument]:
    qs = PayableDocument.objects.order_by("-created_at")
    if user.has_role(StaffRole.FINANCE):
        return qs
    if user.has_role(StaffRole.OFFICER):
        region = user.region_code or ""
        prefix = region.rstrip("0")[:4] if region.endswith("00") else region
        return qs.filter(region_code__startswith=prefix or region)
    return qs.none()


def payments_of(document: PayableDocument) -> list[Payment]:
    return list(document.payments.order_by("-created_at"))


def refunds_pending() -> QuerySet[Refund]:
    return Refund.objects.select_related("payment__document").filter(status="requested").order_by("created_at")


def reconciliations_recent(limit: int = 30) -> list[Reconciliation]:
    return list(Reconciliation.objects.order_by("-day")[:limit])


def differences_open(limit: int = 200) -> list[ReconciliationDifference]:
    return list(ReconciliationDifference.objects.select_related("reconciliation")
                .filter(resolved_at__isnull=True).order_by("-reconciliation__day", "kind")[:limit])
