"""Performing an identity verification for a caller: the engine, the abuse controls, the audit entry
and the metering, in one place for every channel (the partner API, the citizen portal, the back office).

    outcome = verification_perform(claim=IdentityClaim(...), level=AssuranceLevel.L2, purpose="gov_service",
                                   actor=Actor.user(user), request=request, channel="portal")

The audit entry names the identity by its blind-index reference (`identity_reference`), never by the
number or the name; its details hold the verdicts and codes only (docs/partner-api.md).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from django.db import transaction
from django.http import HttpRequest

from tongban.audit.actions import Action, Outcome
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core.errors import TongbanError
from tongban.core.identifiers import validate_resident_id, validate_travel_permit
from tongban.core.ids import new_id
from tongban.core.masking import unmaskable_hex
from tongban.crypto.fields import blind_index
from tongban.partners import abuse, metering
from tongban.verification import engine
from tongban.verification.engine import IdentityClaim, VerificationOutcome
from tongban.verification.levels import AssuranceLevel
from tongban.verification.reasons import FieldVerdict, ReasonCode

if TYPE_CHECKING:
    from tongban.partners.selectors import PartnerAppInfo

__all__ = ["identity_reference", "metered_outcome", "new_verification_id", "verification_perform"]

SUBJECT_TYPE = "identity"


def new_verification_id() -> str:
    """`vf_` + the time-ordered id in lowercase base32 (letters and 2-7: never mistaken for a number
    by the log masking, and sortable by time)."""
    return "vf_" + base64.b32encode(new_id().to_bytes(8, "big")).decode().rstrip("=").lower()


def _normalised_number(claim: IdentityClaim) -> str:
    if claim.id_type == "resident_id":
        return validate_resident_id(claim.id_number, field="id_number").number
    if claim.id_type == "hk_macao_permit":
        return validate_travel_permit(claim.id_number, field="id_number").number
    raise TongbanError("validation_error", details=[{"field": "id_type", "type": "id_type_invalid"}])


def identity_reference(id_type: str, id_number: str) -> str:
    """The identity's reference in audit entries, alerts and cache keys: its blind index, as
    `v<key version>.` and the HMAC in hex, in groups of eight (so that no run of digits in it can
    look like an ID or a phone number to the log masking). Raises TongbanError on an invalid number."""
    number = _normalised_number(IdentityClaim(id_type=id_type, id_number=id_number, name=""))  # type: ignore[arg-type]
    return _reference(id_type, number)


def _reference(id_type: str, number: str) -> str:
    value = blind_index(number, scope=f"verification.identity.{id_type}", normalizer="id_number")
    return f"v{int.from_bytes(value[:2], 'big')}." + unmaskable_hex(value[2:].hex())


def level_code(level: AssuranceLevel | int) -> str:
    return f"l{int(level)}"


def metered_outcome(outcome: VerificationOutcome) -> str:
    """The outcome bucket a call is counted under (tongban.partners.metering)."""
    if outcome.passed:
        return metering.PASSED
    if outcome.reason is ReasonCode.SOURCE_UNAVAILABLE:
        return metering.SOURCE_UNAVAILABLE
    if any(v is FieldVerdict.INCONSISTENT for v in outcome.fields.values()):
        return metering.INCONSISTENT
    return metering.NOT_PASSED


def _audit_outcome(outcome: VerificationOutcome) -> Outcome:
    if outcome.passed:
        return Outcome.SUCCESS
    if outcome.reason is ReasonCode.SOURCE_UNAVAILABLE:
        return Outcome.ERROR
    return Outcome.FAILURE


def caller_key(actor: Actor, app: PartnerAppInfo | None, channel: str) -> str:
    """Who is asking, for the identity velocity: the partner app; else the account (a citizen verifying
    themself at the portal, a staff member); else the channel (a system component)."""
    if app is not None:
        return f"app:{app.app_id}"
    if actor.id:
        return f"{actor.type}:{actor.id}"
    return f"channel:{channel}"


def verification_perform(
    *,
    claim: IdentityClaim,
    level: AssuranceLevel,
    purpose: str,
    actor: Actor,
    request: HttpRequest | None = None,
    channel: str,
    app: PartnerAppInfo | None = None,
    verification_id: str | None = None,
    app_throttled: int | None = None,
) -> VerificationOutcome:
    """Verify `claim` up to `level` for `actor`, through `channel` ("partner_api", "portal", "backoffice" …).

    Raises TongbanError for bad input (422, the field named), `identity_throttled` (429 + Retry-After)
    when this caller (`app`, else the actor's account) verified this identity too often in the last hour
    (other callers are still served; every caller's together raise an alert), and `app_throttled`
    (429) while `app` is paused for an enumeration-like share of inconsistent answers. Every call,
    refused or answered, writes one audit entry (action verification.request) and is metered.
    `verification_id` (default: a new one) is recorded in the audit entry: give it to the caller for
    later disputes. `app_throttled`: the seconds the app's throttle has left, when the caller already read
    it for this request (the partner API does, in its first cache round trip); None reads it here.
    """
    level = AssuranceLevel(level)
    verification_id = verification_id or new_verification_id()
    app_key = app.app_id if app is not None else f"channel:{channel}"
    org_id = app.organisation_id if app is not None else None
    lcode = level_code(level)
    base: dict[str, object] = {"verification_id": verification_id, "channel": channel, "purpose": purpose,
                               "level_requested": lcode, "id_type": claim.id_type}
    if app is not None:
        base["app"] = app.app_id

    def refuse(exc: TongbanError, *, metered: str, subject: Subject | None, outcome: Outcome) -> TongbanError:
        audit_record(action=Action.VERIFICATION_REQUEST, outcome=outcome, actor=actor, subject=subject,
                     request=request, details={**base, "passed": False, "error": exc.code})
        metering.record(app_key=app_key, organisation_id=org_id, level=lcode, outcome=metered)
        return exc

    if app is not None:
        wait = abuse.app_throttled_for(app.app_id) if app_throttled is None else app_throttled
        if wait:
            raise refuse(TongbanError("app_throttled", headers={"Retry-After": str(wait)},
                                      details=[{"retry_after": wait}]),
                         metered=metering.THROTTLED, subject=None, outcome=Outcome.DENIED)
    try:
        number = _normalised_number(claim)
    except TongbanError as exc:
        raise refuse(exc, metered=metering.INVALID, subject=None, outcome=Outcome.FAILURE) from None
    subject = Subject(SUBJECT_TYPE, _reference(claim.id_type, number))

    # Counted per caller: one caller's attempts (junk ones too) never refuse this identity to another caller;
    # all callers' together raise the alert (partners.abuse.identity_velocity_hit).
    velocity = abuse.identity_velocity_hit(str(subject.id), caller_key(actor, app, channel))
    if not velocity.allowed:
        with transaction.atomic():
            abuse.identity_velocity_alert(subject_ref=str(subject.id), count=velocity.count, app_key=app_key, actor=actor)
            error = refuse(TongbanError("identity_throttled", headers={"Retry-After": str(velocity.retry_after)},
                                        details=[{"retry_after": velocity.retry_after}]),
                           metered=metering.THROTTLED, subject=subject, outcome=Outcome.DENIED)
        raise error
    if velocity.alert:
        abuse.identity_velocity_alert(subject_ref=str(subject.id), count=velocity.total, app_key=app_key, actor=actor,
                                      refused=False)

    try:
        outcome = engine.verify(claim, level=level)
    except TongbanError as exc:
        raise refuse(exc, metered=metering.INVALID, subject=subject, outcome=Outcome.FAILURE) from None

    metered = metered_outcome(outcome)
    audit_record(
        action=Action.VERIFICATION_REQUEST, outcome=_audit_outcome(outcome), actor=actor, subject=subject,
        request=request,
        details={**base, "level_reached": level_code(outcome.reached), "passed": outcome.passed,
                 "reason": outcome.reason.value if outcome.reason else None,
                 "audit_reason": outcome.audit_reason.value if outcome.audit_reason else None,
                 # "field=verdict" strings: a key called "name" would be masked as a person's name.
                 "verdicts": [f"{field}={verdict.value}" for field, verdict in outcome.fields.items()],
                 "sources": list(outcome.sources_consulted)},
    )
    metering.record(app_key=app_key, organisation_id=org_id, level=lcode, outcome=metered)
    # An app's share of inconsistent answers (enumeration) is the risk engine's rule `inconsistent_ratio`,
    # fed by the audit entry above (tongban.risk.engine).
    return outcome
