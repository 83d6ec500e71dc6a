"""Reads of the violation-handling system, with the citizen's permissions: what a person may see is the
violations of the cars they own, of the cars they registered with the owner's consent, and those named
against or decided on their licence."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from tongban.violations import services
from tongban.violations.models import ConsentStatus, Decision, DrivenVehicle, Violation


@dataclass(frozen=True)
class Overview:
    identity: services.Identity
    owned: list[str]
    driven: list[DrivenVehicle]  # pending and approved
    consents: list[DrivenVehicle]  # registrations of the citizen's cars waiting for their answer
    violations: list[Violation]
    standing: services.LicenceStanding | None


def overview(user: Any) -> Overview:
    identity = services.identity_of(user)
    owned = sorted(services.owned_plates(identity.id_number))
    driven = list(DrivenVehicle.objects.filter(
        driver=user, status__in=[ConsentStatus.PENDING, ConsentStatus.APPROVED]).order_by("requested_at"))
    approved = [d.plate for d in driven if d.status == ConsentStatus.APPROVED]
    decided = Decision.objects.blind_filter(licence_number=identity.id_number).values_list("violation_id", flat=True)
    from tongban.crypto.fields import blind_lookup

    named = Q(**blind_lookup(Violation, "driver_licence", identity.id_number))
    rows = (Violation.objects.filter(Q(plate__in=owned + approved) | named | Q(pk__in=list(decided)))
            .select_related("decision").order_by("status", "-occurred_at")[:200])
    consents = list(DrivenVehicle.objects.filter(plate__in=owned, status=ConsentStatus.PENDING)
                    .select_related("driver").order_by("requested_at"))
    return Overview(identity=identity, owned=owned, driven=driven, consents=consents, violations=list(rows),
                    standing=services.licence_standing(identity.id_number))


def violation_for(user: Any, number: str) -> Violation:
    violation = Violation.objects.filter(number=number).first()
    if violation is None or not services.may_see(user, violation):
        raise services.not_found()
    return violation


def where_to_go(violation: Violation) -> list[dict[str, str]]:
    """The counters that handle what cannot be handled online: the 交通违法处理 item's places in the catalog for
    the violation's city (or this platform's), else none (the page then names the recording authority)."""
    from tongban.catalog import selectors as catalog

    for region in (violation.region_code[:4] + "00", services.handling_region()):
        version = catalog.published_version_by_code(f"{region}-GAJG002")
        if version is not None and version.locations:
            return [loc for loc in version.locations if isinstance(loc, dict)]
    return []
