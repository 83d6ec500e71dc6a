"""The verification engine: a claimed identity in, verdicts and an assurance level out — never data.

Pure: no writes and no audit here (callers audit, with `audit_reason`). L1 is one population-registry
call, L2 one more ID-card call; each goes through the source's circuit breaker. A source that fails,
times out or is open-circuited gives "source_unavailable", which never passes. See docs/verification.md.
"""

from __future__ import annotations

import datetime
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.core.identifiers import validate_resident_id, validate_travel_permit
from tongban.registry import interfaces
from tongban.registry.interfaces import CardStatus, PermitStatus, PersonStatus, SourceUnavailable
from tongban.verification.breaker import BreakerOpen, breaker_for
from tongban.verification.levels import SUPPORTED_LEVELS, AssuranceLevel
from tongban.verification.reasons import FieldVerdict, ReasonCode

T = TypeVar("T")

IdType = Literal["resident_id", "hk_macao_permit"]
ID_TYPES: tuple[str, ...] = ("resident_id", "hk_macao_permit")
MAX_NAME_LENGTH = 100

# Field names in VerificationOutcome.fields.
ID_NUMBER, NAME, CARD_VALIDITY, ISSUE_COUNT = "id_number", "name", "card_validity", "issue_count"
NAME_EN = "name_en"  # a permit holder's English name, when the claim gives it besides the Chinese one

_PERSON_STATUS_REASONS = {
    PersonStatus.DECEASED: ReasonCode.DECEASED,
    PersonStatus.CANCELLED: ReasonCode.CANCELLED,
    PersonStatus.EMIGRATED: ReasonCode.EMIGRATED,
}
_CARD_STATUS_REASONS = {
    CardStatus.LOST: ReasonCode.CARD_LOST,
    CardStatus.VOID: ReasonCode.CARD_VOID,
    CardStatus.EXPIRED: ReasonCode.CARD_EXPIRED,
}
_PERMIT_STATUS_REASONS = {PermitStatus.VOID: ReasonCode.PERMIT_VOID, PermitStatus.EXPIRED: ReasonCode.PERMIT_EXPIRED}

_C, _I, _U, _N = (FieldVerdict.CONSISTENT, FieldVerdict.INCONSISTENT, FieldVerdict.SOURCE_UNAVAILABLE,
                  FieldVerdict.NOT_CHECKED)


class Verdicts(dict[str, FieldVerdict]):
    """The per-field verdicts: a read-only dict (still copies, pickles and works with dataclasses.asdict)."""

    def _read_only(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("verdicts are read-only")

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle rebuild it whole, not item by item
        return (Verdicts, (dict(self),))

    __setitem__ = __delitem__ = _read_only  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = __ior__ = _read_only  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class IdentityClaim:
    """What the subject asserts. repr() leaves out the number and the name."""

    id_type: IdType
    id_number: str  # resident ID, or the Mainland Travel Permit (9 or 11 characters)
    name: str = field(repr=False)  # Chinese name; for HK/Macao the Chinese or the English name
    card_valid_from: datetime.date | None = field(default=None, repr=False)  # L2: resident ID card validity
    card_valid_to: datetime.date | None = field(default=None, repr=False)  # None with card_long_term for 长期
    card_long_term: bool = field(default=False, repr=False)
    name_en: str = field(default="", repr=False)  # HK/Macao: the English name too (then `name` is the Chinese)

    def __repr__(self) -> str:
        return f"IdentityClaim(id_type={self.id_type!r})"


@dataclass(frozen=True, slots=True)
class VerificationOutcome:
    """The answer: codes only. `reason` may be told to the caller; `audit_reason` is for the audit
    record only (it tells a number that does not exist from a name that does not match)."""

    requested: AssuranceLevel
    reached: AssuranceLevel  # the highest level fully verified (NONE when L1 failed)
    passed: bool  # reached >= requested
    fields: Mapping[str, FieldVerdict]
    reason: ReasonCode | None  # why the requested level was not reached (public code)
    sources_consulted: tuple[str, ...]  # the sources actually asked (not those skipped by an open breaker)
    audit_reason: ReasonCode | None = None  # fine-grained; never put in an answer

    @property
    def acr(self) -> str | None:
        """The reached level's URI (OIDC `acr`), None when nothing was verified."""
        return self.reached.uri

    def public(self) -> dict[str, Any]:
        """What a partner or a page may be shown (JSON-ready); no audit_reason, no sources."""
        return {
            "requested": int(self.requested),
            "reached": int(self.reached),
            "acr": self.acr,
            "passed": self.passed,
            "fields": {name: verdict.value for name, verdict in self.fields.items()},
            "reason": None if self.reason is None else self.reason.value,
        }


class _Run:
    """One verification's bookkeeping: the field verdicts and which sources were asked."""

    def __init__(self, requested: AssuranceLevel, field_names: tuple[str, ...]) -> None:
        self.requested = requested
        self.fields: dict[str, FieldVerdict] = dict.fromkeys(field_names, _N)
        self.consulted: list[str] = []

    def done(self, reached: AssuranceLevel, reason: ReasonCode | None = None) -> VerificationOutcome:
        passed = reason is None and reached >= self.requested
        return VerificationOutcome(
            requested=self.requested,
            reached=reached,
            passed=passed,
            fields=Verdicts(self.fields),
            reason=None if reason is None else reason.public,
            sources_consulted=tuple(self.consulted),
            audit_reason=reason,
        )


def _asked(run: _Run, source: interfaces.Source, call: Callable[..., T], *args: Any) -> T:
    """Ask a source through its breaker; record it as consulted unless the breaker stopped the call."""
    try:
        result = breaker_for(source.name).call(call, *args)
    except BreakerOpen:
        raise
    except SourceUnavailable:
        run.consulted.append(source.name)
        raise
    run.consulted.append(source.name)
    return result


def _clean_name(name: str) -> str:
    """Trim; refuse empty, over-long or control characters (the sources do the comparing)."""
    cleaned = " ".join((name or "").split())
    if not cleaned or len(cleaned) > MAX_NAME_LENGTH or any(unicodedata.category(c) == "Cc" for c in cleaned):
        raise TongbanError("name_invalid", details=[{"field": "name", "type": "name_invalid"}])
    return cleaned


def _card_dates(claim: IdentityClaim) -> tuple[datetime.date, datetime.date | None]:
    start, end, long_term = claim.card_valid_from, claim.card_valid_to, claim.card_long_term
    coherent = start is not None and (end is None) == long_term and (end is None or end > start)
    if not coherent:
        raise TongbanError("card_validity_invalid", details=[{"field": "card_validity", "type": "card_validity_invalid"}])
    assert start is not None
    return start, end


def verify(claim: IdentityClaim, *, level: AssuranceLevel) -> VerificationOutcome:
    """Verify `claim` up to `level` against the authoritative sources.

    Bad input (an invalid number, an empty name, L2 without card dates) raises TongbanError before any
    source is asked. Everything else is an outcome: see docs/verification.md for the codes.
    """
    level = AssuranceLevel(level)
    if claim.id_type not in ID_TYPES:
        raise TongbanError("validation_error", details=[{"field": "id_type", "type": "id_type_invalid"}])
    if claim.id_type == "resident_id":
        number = validate_resident_id(claim.id_number, field=ID_NUMBER).number
        name = _clean_name(claim.name)
        run = _Run(level, (ID_NUMBER, NAME, CARD_VALIDITY))
        if level not in SUPPORTED_LEVELS:
            return run.done(AssuranceLevel.NONE, ReasonCode.LEVEL_NOT_SUPPORTED)
        dates = _card_dates(claim) if level >= AssuranceLevel.L2 else None
        return _verify_resident(run, number, name, dates)
    permit = validate_travel_permit(claim.id_number, field=ID_NUMBER)
    name = _clean_name(claim.name)
    name_en = _clean_name(claim.name_en) if claim.name_en.strip() else ""
    run = _Run(level, (ID_NUMBER, NAME, NAME_EN, ISSUE_COUNT) if name_en else (ID_NUMBER, NAME, ISSUE_COUNT))
    if level not in SUPPORTED_LEVELS:
        return run.done(AssuranceLevel.NONE, ReasonCode.LEVEL_NOT_SUPPORTED)
    return _verify_hk_macao(run, permit.number, permit.issue_count is not None, name, name_en)


def _verify_resident(
    run: _Run, number: str, name: str, dates: tuple[datetime.date, datetime.date | None] | None
) -> VerificationOutcome:
    population = interfaces.population()
    try:
        person = _asked(run, population, population.compare, number, name)
    except SourceUnavailable:
        run.fields[ID_NUMBER] = run.fields[NAME] = _U
        return run.done(AssuranceLevel.NONE, ReasonCode.SOURCE_UNAVAILABLE)
    if not (person.found and person.name_consistent):
        # One verdict for the pair: the answer never tells an unknown number from a wrong name.
        run.fields[ID_NUMBER] = run.fields[NAME] = _I
        return run.done(AssuranceLevel.NONE, ReasonCode.NAME_INCONSISTENT if person.found else ReasonCode.NOT_FOUND)
    run.fields[ID_NUMBER] = run.fields[NAME] = _C
    # The status is told only now that the caller has shown it knows the name and the number.
    if person.status is not PersonStatus.NORMAL:
        return run.done(AssuranceLevel.NONE, _PERSON_STATUS_REASONS.get(person.status, ReasonCode.CANCELLED))  # type: ignore[arg-type]
    if dates is None:
        return run.done(AssuranceLevel.L1)

    idcard = interfaces.idcard()
    valid_from, valid_to = dates
    try:
        card = _asked(run, idcard, idcard.current_card_check, number, valid_from, valid_to)
    except SourceUnavailable:
        run.fields[CARD_VALIDITY] = _U
        return run.done(AssuranceLevel.L1, ReasonCode.SOURCE_UNAVAILABLE)
    if not card.found:
        run.fields[CARD_VALIDITY] = _I
        return run.done(AssuranceLevel.L1, ReasonCode.CARD_NOT_FOUND)
    if not card.consistent:
        run.fields[CARD_VALIDITY] = _I
        reason = ReasonCode.CARD_SUPERSEDED if card.superseded else ReasonCode.CARD_VALIDITY_INCONSISTENT
        return run.done(AssuranceLevel.L1, reason)
    run.fields[CARD_VALIDITY] = _C
    # The card's status is told only for the card the caller described. A "valid" card whose end
    # date has passed since the source last updated it is expired all the same.
    if card.status is not CardStatus.VALID:
        return run.done(AssuranceLevel.L1, _CARD_STATUS_REASONS.get(card.status, ReasonCode.CARD_VOID))  # type: ignore[arg-type]
    if valid_to is not None and valid_to < clock.today_local():
        return run.done(AssuranceLevel.L1, ReasonCode.CARD_EXPIRED)
    return run.done(AssuranceLevel.L2)


def _verify_hk_macao(run: _Run, permit_number: str, with_count: bool, name: str, name_en: str = ""
                     ) -> VerificationOutcome:
    """Names are compared ignoring case, spacing and Traditional/Simplified forms (the source does it). With
    both names given, a caller who got the number and one name right is told which name did not match."""
    exitentry = interfaces.exitentry()
    names = (NAME, NAME_EN) if name_en else (NAME,)
    try:
        answer = (_asked(run, exitentry, exitentry.compare, permit_number, name, name_en) if name_en
                  else _asked(run, exitentry, exitentry.compare, permit_number, name))
    except SourceUnavailable:
        for key in (ID_NUMBER, *names):
            run.fields[key] = _U
        return run.done(AssuranceLevel.NONE, ReasonCode.SOURCE_UNAVAILABLE)
    if not (answer.found and answer.name_consistent):
        for key in (ID_NUMBER, *names):
            run.fields[key] = _I
        if answer.found and name_en and (answer.name_zh_consistent or answer.name_en_consistent):
            run.fields[ID_NUMBER] = _C
            run.fields[NAME] = _C if answer.name_zh_consistent else _I
            run.fields[NAME_EN] = _C if answer.name_en_consistent else _I
        return run.done(AssuranceLevel.NONE, ReasonCode.NAME_INCONSISTENT if answer.found else ReasonCode.NOT_FOUND)
    for key in (ID_NUMBER, *names):
        run.fields[key] = _C
    if run.requested < AssuranceLevel.L2:
        return run.done(AssuranceLevel.L1)
    # L2 (实证) for a permit holder: the permit presented is the current one and it is valid.
    if with_count:
        if not answer.issue_count_consistent:
            run.fields[ISSUE_COUNT] = _I
            return run.done(AssuranceLevel.L1, ReasonCode.PERMIT_SUPERSEDED)
        run.fields[ISSUE_COUNT] = _C
    if answer.status is not PermitStatus.VALID:
        return run.done(AssuranceLevel.L1, _PERMIT_STATUS_REASONS.get(answer.status, ReasonCode.PERMIT_VOID))  # type: ignore[arg-type]
    return run.done(AssuranceLevel.L2)
