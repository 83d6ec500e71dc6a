"""The partner API's real-person call (实人, l3): signed like every call on /partner/v1/ (docs/partner-api.md §7).

    POST /partner/v1/face/challenges     {}                      → {challenge_id, challenge, expires_in}
    POST /partner/v1/face/verifications  {person…, purpose, challenge_id, frames: [base64 JPEG × 4–12]}
                                                                  → the verdict: l3 reached or the reason

The person is first verified to l2 (the same engine as /verifications); only then is the burst judged against
the photo of their current card, inside the platform. The answer is codes only: never the photo, never the
distance. Without the optional extra `face` both calls answer 503 face_unavailable.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from tongban.audit.services import Actor
from tongban.core.errors import TongbanError
from tongban.partners.api import (
    CHANNEL,
    Call,
    _check_allowed,
    _claim,
    _handle,
    _json,
    _parse,
    _quota,
    _refused,
)
from tongban.partners.schemas import FaceChallengeRequest, FaceVerificationRequest
from tongban.verification.levels import AssuranceLevel
from tongban.verification.services import (
    identity_reference,
    level_code,
    new_verification_id,
    verification_perform,
)

FACE_MAX_BODY = 2_000_000  # under DATA_UPLOAD_MAX_MEMORY_SIZE; 12 frames of ~100 kB in base64
LEVEL = "l3"


def _face_services() -> Any:
    from tongban.face import services

    return services


def _challenge(request: HttpRequest, call: Call) -> dict[str, Any]:
    call.level = LEVEL
    _parse(FaceChallengeRequest, _json(call.body) if call.body.strip() else {})
    if LEVEL not in call.app.allowed_levels:
        raise _refused(request, call, TongbanError("level_not_allowed", details=[{"field": "level"}]))
    face = _face_services()
    challenge_id, challenge = face.face_challenge_issue(owner=f"app:{call.app.app_id}")
    return {"nonce": call.nonce, "challenge_id": challenge_id, "challenge": challenge.value,
            "expires_in": face.CHALLENGE_TTL}


def _frames(values: list[str]) -> list[bytes]:
    try:
        return [base64.b64decode(value, validate=True) for value in values]
    except (binascii.Error, ValueError):
        raise TongbanError("validation_error", details=[{"field": "frames", "type": "base64"}]) from None


def _verify(request: HttpRequest, call: Call) -> dict[str, Any]:
    call.level = LEVEL
    data = _json(call.body)
    try:
        parsed = _parse(FaceVerificationRequest, data)
        frames = _frames(parsed.frames)
    except TongbanError as exc:
        raise _refused(request, call, exc) from None
    _check_allowed(request, call, LEVEL, parsed.purpose)
    face = _face_services()
    if not face.face_available():
        raise face.unavailable_error()
    _quota(request, call, 1)
    verification_id = new_verification_id()
    outcome = verification_perform(claim=_claim(parsed), level=AssuranceLevel.L2, purpose=parsed.purpose,
                                   actor=Actor.partner_app(call.app.app_id), request=request, channel=CHANNEL,
                                   app=call.app, verification_id=verification_id, app_throttled=call.throttled)
    answer: dict[str, Any] = {
        "nonce": call.nonce, "purpose": parsed.purpose, "verification_id": verification_id,
        "level_requested": LEVEL, "fields": {name: verdict.value for name, verdict in outcome.fields.items()},
    }
    if not outcome.passed:  # l2 not reached: the burst is not looked at
        return {**answer, "level_reached": "none" if outcome.reached is AssuranceLevel.NONE
                else level_code(outcome.reached), "acr": outcome.acr, "passed": False,
                "reason": outcome.reason.value if outcome.reason else None, "face": "not_checked"}
    result = face.face_check_perform(
        owner=f"app:{call.app.app_id}", challenge_id=parsed.challenge_id, frames=frames, id_type=parsed.id_type,
        id_number=parsed.id_number, subject_ref=identity_reference(parsed.id_type, parsed.id_number),
        actor=Actor.partner_app(call.app.app_id), channel=CHANNEL, app_id=call.app.app_id, request=request)
    reached = AssuranceLevel.L3 if result.passed else AssuranceLevel.L2
    return {**answer, "level_reached": level_code(reached), "acr": reached.uri, "passed": result.passed,
            "reason": result.reason.value if result.reason else None, "face": result.status.value}


@csrf_exempt
def face_challenges(request: HttpRequest) -> HttpResponse:
    """POST /partner/v1/face/challenges: a random head-turn challenge for this app, valid once for 180 s."""
    return _handle(request, _challenge)


@csrf_exempt
def face_verifications(request: HttpRequest) -> HttpResponse:
    """POST /partner/v1/face/verifications: l2, then the burst against the card photo."""
    return _handle(request, _verify, max_body=FACE_MAX_BODY)
