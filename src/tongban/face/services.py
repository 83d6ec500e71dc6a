"""Real-person verification (实人, L3): challenges, the check of a frame burst, the four-eyes review.

    challenge_id, challenge = face_challenge_issue(owner="user:42")
    result = face_check_perform(owner="user:42", challenge_id=..., frames=[jpeg, ...], id_type="resident_id",
                                id_number="...", actor=Actor.user(user), channel="portal", request=request)

The caller has already verified the identity at L2 (the portal: the account's level; the partner API: the
same call's L2 claim). The card photo is fetched inside the source boundary (the idcard source's
`card_photo`, through its circuit breaker) and never leaves this module. Every check writes a FaceCheck
and one audit entry in the same transaction; images are kept, encrypted, only while under review.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from tongban.audit.actions import Action, Outcome
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core import ratelimit
from tongban.core.errors import TongbanError
from tongban.core.uploads import sniff_upload
from tongban.face import liveness, matcher
from tongban.face.liveness import BurstVerdict, Challenge, FaceReason, Rules, judge
from tongban.face.models import CheckStatus, FaceCheck
from tongban.registry import interfaces
from tongban.registry.interfaces import SourceUnavailable

CHALLENGE_TTL = 180  # seconds from the challenge shown to the frames posted
MAX_FRAME_BYTES = 400 * 1024  # a 640 × 480 JPEG is 30–80 kB
FRAME_TYPES = frozenset({"image/jpeg", "image/png"})
SUBJECT_TYPE = "face.check"

_STATUS = {"accept": CheckStatus.ACCEPTED, "review": CheckStatus.REVIEW, "reject": CheckStatus.REJECTED,
           "refused": CheckStatus.REFUSED}


def rules() -> Rules:
    """The thresholds: Rules' defaults, overridden by settings.TONGBAN_FACE (docs/face.md)."""
    return Rules(**dict(getattr(settings, "TONGBAN_FACE", {}) or {}))


def face_available() -> bool:
    return matcher.available()


def unavailable_error() -> TongbanError:
    return TongbanError("face_unavailable", message_zh="本平台暂未开通实人认证（刷脸）功能。",
                        message_en="Real-person (face) verification is not available on this platform.",
                        status=503)


@dataclass(frozen=True, slots=True)
class FaceResult:
    check_id: int
    passed: bool  # L3 reached now
    status: CheckStatus
    reason: FaceReason | None  # public code; None when passed


def conf_limit(owner: str) -> int:
    """Challenges an hour: TONGBAN_FACE_CHALLENGES_PER_HOUR (citizen, app), default (10, 10,000)."""
    citizen, app = getattr(settings, "TONGBAN_FACE_CHALLENGES_PER_HOUR", (10, 10_000))
    return app if owner.startswith("app:") else citizen


def pick_challenge() -> Challenge:
    """Left or right, unpredictably (the browser test fixes it to match its recording)."""
    return secrets.choice(list(Challenge))


def face_challenge_issue(*, owner: str) -> tuple[str, Challenge]:
    """A random head-turn challenge for `owner` ("user:<pk>" or "app:<id>"), valid once for CHALLENGE_TTL s."""
    if not matcher.available():
        raise unavailable_error()
    # Each challenge opens one check of ~0.5 s of CPU: a citizen gets a few tries an hour, an app more.
    limit = conf_limit(owner)
    result = ratelimit.hit(f"face:challenges:{owner}", limit=limit, window=3600)
    if not result.allowed:
        raise TongbanError("rate_limited", message_zh="刷脸认证尝试过于频繁，请一小时后再试。",
                           message_en="Too many face checks; try again later.",
                           headers={"Retry-After": str(result.retry_after)})
    challenge = pick_challenge()
    challenge_id = "fc_" + secrets.token_urlsafe(18)
    cache.set(f"face:challenge:{challenge_id}", {"owner": owner, "challenge": challenge.value}, CHALLENGE_TTL)
    return challenge_id, challenge


def _take_challenge(owner: str, challenge_id: str) -> Challenge:
    key = f"face:challenge:{challenge_id}"
    value = cache.get(key) if isinstance(challenge_id, str) and challenge_id.startswith("fc_") else None
    # Used once: deleted before the frames are judged, so a second post of the same burst is refused.
    if not value or value.get("owner") != owner or not cache.delete(key):
        raise TongbanError("face_challenge_invalid", message_zh="动作提示已失效，请重新开始。",
                           message_en="The challenge has expired or was already used; start again.", status=422,
                           details=[{"field": "challenge_id", "type": "face_challenge_invalid"}])
    return Challenge(value["challenge"])


def _frames_checked(frames: Sequence[bytes], conf: Rules) -> list[bytes]:
    if not (conf.min_frames <= len(frames) <= conf.max_frames):
        raise TongbanError("face_frames_invalid", message_zh=f"请上传 {conf.min_frames}–{conf.max_frames} 帧画面。",
                           message_en="Wrong number of frames.", status=422,
                           details=[{"field": "frames", "type": "face_frames_invalid"}])
    for data in frames:
        sniff_upload(_Bytes(data), allowed=FRAME_TYPES, max_bytes=MAX_FRAME_BYTES)
    return list(frames)


class _Bytes:
    """A bytes upload for sniff_upload (read/seek)."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def read(self, n: int = -1) -> bytes:
        end = len(self._data) if n < 0 else self._pos + n
        chunk = self._data[self._pos:end]
        self._pos += len(chunk)
        return chunk

    def seek(self, pos: int) -> None:
        self._pos = pos


def _card_photo(id_number: str) -> bytes | None:
    from tongban.verification.breaker import breaker_for

    idcard = interfaces.idcard()
    photo = breaker_for(idcard.name).call(idcard.card_photo, id_number)
    return None if photo is None else photo.image


def _verdict(frames: list[bytes], card_image: bytes | None, challenge: Challenge, conf: Rules) -> BurstVerdict:
    facts = liveness.burst_facts(frames)
    card = matcher.analyse(matcher.decode(card_image)) if card_image else matcher.FaceFacts(faces=0)
    return judge(facts, card, challenge, conf)


def face_check_perform(*, owner: str, challenge_id: str, frames: Sequence[bytes], id_type: str, id_number: str,
                       subject_ref: str, actor: Actor, channel: str, user: Any = None, app_id: str = "",
                       request: HttpRequest | None = None) -> FaceResult:
    """Judge the burst against the card photo of `id_number` (already verified at L2 by the caller).

    Raises TongbanError before anything is written for: face_unavailable (503), face_challenge_invalid,
    face_frames_invalid and the upload codes (422), source_unavailable (503). Otherwise one FaceCheck and
    one audit entry, and for a citizen an accepted check raises the account to L3 in the same transaction.
    """
    if not matcher.available():
        raise unavailable_error()
    conf = rules()
    challenge = _take_challenge(owner, challenge_id)
    checked = _frames_checked(frames, conf)
    if id_type != "resident_id":
        raise TongbanError("level_not_supported", message_zh="实人认证目前仅支持居民身份证。",
                           message_en="Real-person verification needs a resident ID card.", status=422)
    from tongban.verification.breaker import BreakerOpen

    try:
        card_image = _card_photo(id_number)
    except (SourceUnavailable, BreakerOpen):
        raise TongbanError("source_unavailable", message_zh="权威数据源暂不可用，请稍后再试。",
                           message_en="The authoritative source is unavailable; try again later.", status=503) from None
    try:
        verdict = _verdict(checked, card_image, challenge, conf)
    except ValueError:
        raise TongbanError("upload_corrupt", message_zh="画面无法识别，请重新拍摄。",
                           message_en="A frame could not be read.", status=422) from None
    status = _STATUS[verdict.decision]
    review = status is CheckStatus.REVIEW
    with transaction.atomic():
        check = FaceCheck(channel=channel, user=user, app_id=app_id, subject_ref=subject_ref, id_type=id_type,
                          id_number=id_number if review else None, challenge=challenge.value, status=status,
                          reason=verdict.reason.value if verdict.reason else "", distance=verdict.distance,
                          selfie=checked[verdict.frame_index] if review and verdict.frame_index is not None else None,
                          card_photo=card_image if review else None)
        check.save()
        audit_record(action=Action.FACE_CHECK, actor=actor, subject=Subject(SUBJECT_TYPE, check.pk), request=request,
                     outcome=Outcome.SUCCESS if status is CheckStatus.ACCEPTED else Outcome.FAILURE,
                     details={"identity": subject_ref, "channel": channel, "challenge": challenge.value,
                              "status": status.value, "reason": check.reason, "frames": len(checked),
                              "distance": None if verdict.distance is None else round(verdict.distance, 4),
                              "images_kept": review, **({"app": app_id} if app_id else {})})
        if status is CheckStatus.ACCEPTED and user is not None and channel == "portal":
            from tongban.accounts.citizens import citizen_level_raise_l3

            citizen_level_raise_l3(user=user, actor=actor, request=request, check_id=check.pk)
    return FaceResult(check_id=check.pk, passed=status is CheckStatus.ACCEPTED, status=status, reason=verdict.reason)


# -- the four-eyes review ------------------------------------------------------------------------------------

REVIEW_DECISIONS = ("approve", "deny")


def _reviewer_check(actor: Any) -> None:
    from tongban.face.selectors import can_review

    if not can_review(actor):
        raise TongbanError("not_found")


def face_review_decide(*, actor: Any, check_id: int, decision: str, request: HttpRequest | None = None) -> FaceCheck:
    """One reviewer's decision on a check under review. The first decision is recorded; a second, by a
    different reviewer, that agrees closes the review (approve: L3 for a portal citizen); a second that
    disagrees sends the check back to the queue for two fresh eyes. Closing deletes both images."""
    _reviewer_check(actor)
    if decision not in REVIEW_DECISIONS:
        raise TongbanError("validation_error", details=[{"field": "decision", "type": "invalid_choice"}])
    with transaction.atomic():
        check = FaceCheck.objects.select_for_update().filter(pk=check_id, status=CheckStatus.REVIEW).first()
        if check is None:
            raise TongbanError("not_found")
        now = timezone.now()
        subject = Subject(SUBJECT_TYPE, check.pk)
        if not check.first_reviewer_id:
            check.first_reviewer, check.first_decision, check.first_at = actor, decision, now
            check.save(update_fields=["first_reviewer", "first_decision", "first_at"])
            audit_record(action=Action.FACE_REVIEW, actor=Actor.user(actor), subject=subject, request=request,
                         details={"step": "first", "decision": decision, "identity": check.subject_ref})
            return check
        if check.first_reviewer_id == actor.pk:
            raise TongbanError("four_eyes", message_zh="复核须由另一名工作人员完成。",
                               message_en="A second, different reviewer must decide.", status=409)
        if decision != check.first_decision:
            audit_record(action=Action.FACE_REVIEW, actor=Actor.user(actor), subject=subject, request=request,
                         details={"step": "second", "decision": decision, "agreed": False,
                                  "first_reviewer": check.first_reviewer_id, "identity": check.subject_ref})
            check.first_reviewer, check.first_decision, check.first_at = None, "", None
            check.save(update_fields=["first_reviewer", "first_decision", "first_at"])
            return check
        check.second_reviewer, check.decided_at = actor, now
        check.status = CheckStatus.APPROVED if decision == "approve" else CheckStatus.DENIED
        check.selfie = check.card_photo = check.id_number = None  # deleted with the decision
        check.save(update_fields=["second_reviewer", "decided_at", "status", "selfie", "card_photo", "id_number"])
        audit_record(action=Action.FACE_REVIEW, actor=Actor.user(actor), subject=subject, request=request,
                     details={"step": "second", "decision": decision, "agreed": True, "status": check.status,
                              "first_reviewer": check.first_reviewer_id, "identity": check.subject_ref,
                              "images_deleted": True})
        if check.status == CheckStatus.APPROVED and check.user_id and check.channel == "portal":
            from tongban.accounts.citizens import citizen_level_raise_l3

            citizen_level_raise_l3(user=check.user, actor=Actor.user(actor), request=request, check_id=check.pk)
    return check
