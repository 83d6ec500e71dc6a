"""Demo data for 交通违法处理: violations for the demo citizen's car (called by `tongban demo`)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from tongban.violations.models import ConsentStatus, DrivenVehicle, Violation


def _plates(person: dict[str, Any]) -> list[str]:
    return list(person.get("plates") or ([person["plate"]] if person.get("plate") else []))


@transaction.atomic
def demo_violations_ensure(people: list[dict[str, Any]], citizen: Any = None) -> int:
    """`people[0]` is the demo citizen (tongban.registry.samples). Their own car, or — when they own none — the
    first car of another of `people`, registered for `citizen` (their account) as a car they drive with its
    owner's consent, gets four violations: one to handle online (广州, 200 元 6 分), a parking fine without
    points, one that must go to the counter (2000 元 12 分), and one from Zhejiang handled here by Zhejiang's
    standard (异地). Once only; the number recorded."""
    from tongban.violations.services import violations_generate

    if not people:
        return 0
    plates = _plates(people[0])
    if plates:
        plate = plates[0]
    else:
        others = [p for p in people[1:] if _plates(p)]
        if not others or citizen is None:
            return 0
        plate = _plates(others[0])[0]
        DrivenVehicle.objects.get_or_create(
            driver=citizen, plate=plate, status=ConsentStatus.APPROVED, defaults={"decided_at": timezone.now()})
    if Violation.objects.filter(plate=plate).exists():
        return 0
    made = violations_generate(plates=[plate], per_plate=3, seed=2026, codes=["1625", "1039", "1636"])
    made += violations_generate(plates=[plate], per_plate=1, seed=2027, codes=["1625"], region_code="330100",
                                authority="杭州市公安局交通警察支队")
    return len(made)
