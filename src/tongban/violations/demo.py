"""Demo data for 交通违法处理: violations for the demo citizen's cars (called by `tongban demo`)."""

from __future__ import annotations

from typing import Any

from tongban.violations.models import Violation


def demo_violations_ensure(people: list[dict[str, Any]]) -> int:
    """For the first of `people` (the demo citizen, from tongban.registry.samples) with a plate: one violation
    to handle online (广州, 200 元 6 分), one parking fine without points, one that must go to the counter
    (2000 元 12 分), and one from Zhejiang handled here by Zhejiang's standard (异地). Once only."""
    from tongban.violations.services import violations_generate

    for person in people:
        plates = person.get("plates") or ([person["plate"]] if person.get("plate") else [])
        if not plates:
            continue
        plate = plates[0]
        if Violation.objects.filter(plate=plate).exists():
            return 0
        made = violations_generate(plates=[plate], per_plate=3, seed=2026, codes=["1625", "1039", "1636"])
        made += violations_generate(plates=[plate], per_plate=1, seed=2027, codes=["1625"], region_code="330100",
                                    authority="杭州市公安局交通警察支队")
        return len(made)
    return 0
