"""The outgoing message types: for each, how its body is built from the source rows (in bulk) and which
JSON schema it follows (docs/exchange/schemas/). Bodies are built when sent, from rows that do not change
(a case event, a rating, a published version), so a message says what happened, not what is true now."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from tongban.core import clock

CASE_EVENT = "case.event"
RATING = "evaluation.rating"
ITEM_PUBLICATION = "item.publication"
VERIFICATION_STATS = "verification.stats"
TYPES = (CASE_EVENT, RATING, ITEM_PUBLICATION, VERIFICATION_STATS)
VERSIONS = {CASE_EVENT: 1, RATING: 1, ITEM_PUBLICATION: 1, VERIFICATION_STATS: 1}


@dataclass(frozen=True)
class Built:
    entity: str  # what the receiver orders by ("case:<number>")
    seq: int
    occurred_at: dt.datetime
    body: dict[str, Any]
    personal: dict[str, Any] | None
    day: str = ""  # the business day (Asia/Shanghai), when the builder already has it


def _iso(value: dt.datetime) -> str:
    return clock.to_local(value).isoformat(timespec="seconds")


def _people(user_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """The applicants' verified names and ID numbers (decrypted here, re-encrypted for the counterpart)."""
    from tongban.accounts.models import CitizenProfile

    out: dict[int, dict[str, str]] = {}
    for profile in CitizenProfile.objects.filter(user_id__in=set(user_ids)).only(
            "user_id", "name", "id_number", "id_type"):
        out[profile.user_id] = {"name": str(profile.name or ""), "id_type": profile.id_type or "",
                                "id_number": str(profile.id_number or "")}
    return out


def build_case_events(ids: list[int]) -> dict[int, Built]:
    from tongban.cases.models import CaseEvent

    rows = list(CaseEvent.objects.filter(pk__in=ids).values_list(
        "id", "created_at", "action", "from_state", "to_state", "case__number", "case__item_code",
        "case__item_title", "case__department", "case__region_code", "case__applicant_kind", "case__applicant_id"))
    people = _people(r[11] for r in rows)
    return {r[0]: _case_event(r, people.get(r[11])) for r in rows}


def _case_event(r: tuple[Any, ...], person: dict[str, str] | None) -> Built:
    (event_id, created_at, action, from_state, to_state, number, item_code, item_title, department,
     region_code, applicant_kind, _applicant) = r
    local = clock.to_local(created_at)  # once: the body's time and the message's day (profiled: per message)
    body = {"case_number": number or "", "item_code": item_code, "item_title": item_title,
            "department": department, "region_code": region_code, "event_id": event_id, "action": action,
            "from_state": from_state, "to_state": to_state, "occurred_at": local.isoformat(timespec="seconds"),
            "applicant_kind": applicant_kind}
    personal = ({"applicant_name": person["name"], "applicant_id_type": person["id_type"],
                 "applicant_id_number": person["id_number"]} if person else None)
    return Built(entity=f"case:{number}", seq=event_id, occurred_at=created_at, body=body, personal=personal,
                 day=local.date().isoformat())


def build_ratings(ids: list[int]) -> dict[int, Built]:
    from tongban.evaluation.models import Rating

    out = {}
    for r in Rating.objects.filter(pk__in=ids).select_related("case").only(
            "id", "level", "tags", "channel", "real_name", "national_id", "item_code", "created_at",
            "changed_at", "case__number", "region_code"):
        when = r.changed_at or r.created_at
        body = {"rating_id": r.pk, "case_number": r.case.number or "", "item_code": r.item_code,
                "level": r.level, "tags": list(r.tags or []), "channel": r.channel, "real_name": r.real_name,
                "national_id": r.national_id or "", "region_code": r.region_code, "rated_at": _iso(when)}
        out[r.pk] = Built(entity=f"rating:{r.pk}", seq=r.pk, occurred_at=when, body=body, personal=None)
    return out


def build_item_publications(ids: list[int]) -> dict[int, Built]:
    from tongban.catalog.models import CatalogChange

    out = {}
    for c in CatalogChange.objects.filter(pk__in=ids).select_related("version", "implementation"):
        v = c.version
        body = {"change_seq": c.seq, "kind": c.kind, "implementation_code": c.implementation.code,
                "version": v.number, "name": v.name, "department": c.implementation.department,
                "region_code": c.implementation.region_code, "promised_limit_days": v.promised_limit_days,
                "statutory_limit_days": v.statutory_limit_days, "online_depth": v.online_depth,
                "hooked_national": v.hooked_national, "occurred_at": _iso(c.occurred_at)}
        out[c.pk] = Built(entity=f"item:{c.implementation.code}", seq=c.seq, occurred_at=c.occurred_at,
                          body=body, personal=None)
    return out


def stats_source_id(day: dt.date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def build_verification_stats(ids: list[int]) -> dict[int, Built]:
    """身份核验统计: one day's identity verifications by assurance level and outcome, partners and the
    platform's own channels together (the partner app's metering, `partners.UsageCounter`). Counts only."""
    from django.db.models import Sum

    from tongban.partners.models import UsageCounter

    out = {}
    for source_id in ids:
        day = dt.date(source_id // 10000, source_id // 100 % 100, source_id % 100)
        rows = (UsageCounter.objects.filter(day=day).values("level", "outcome").annotate(n=Sum("count"))
                .order_by("level", "outcome"))
        counts: list[dict[str, Any]] = [{"level": r["level"], "outcome": r["outcome"], "count": int(r["n"] or 0)}
                                        for r in rows]
        when = dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=clock.SHANGHAI)
        body = {"day": day.isoformat(), "total": sum(int(c["count"]) for c in counts), "counts": counts}
        out[source_id] = Built(entity="verification-stats", seq=source_id, occurred_at=when, body=body, personal=None)
    return out


BUILDERS: dict[str, Callable[[list[int]], dict[int, Built]]] = {
    CASE_EVENT: build_case_events, RATING: build_ratings, ITEM_PUBLICATION: build_item_publications,
    VERIFICATION_STATS: build_verification_stats}


@lru_cache(maxsize=4096)
def version_hooked(version_id: int) -> bool:
    """Whether a catalog version is hooked to the national platform (published versions never change)."""
    from tongban.catalog.models import ImplementationVersion

    return bool(ImplementationVersion.objects.filter(pk=version_id, hooked_national=True).exists())
