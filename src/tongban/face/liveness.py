"""Judging a burst of camera frames: one face, the same throughout, the challenge performed, and the match.

Pure functions over `matcher.FaceFacts`; no database. The thresholds come from settings
(`TONGBAN_FACE_*`, docs/face.md) and are passed in as a `Rules`.

The head turn is read from the 5 landmarks: the nose's sideways offset from the eyes' midpoint, in eye
distances (`FaceFacts.yaw`). A person turning shifts it by 0.2–0.4; a photo held up, moved or tilted
keeps it (every point of a flat picture foreshortens alike), so a replayed still fails the challenge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from tongban.face import matcher
from tongban.face.matcher import FaceFacts, distance


class Challenge(StrEnum):
    TURN_LEFT = "turn_left"  # the person turns to their own left: the nose moves towards the image's right
    TURN_RIGHT = "turn_right"

    @property
    def label(self) -> str:
        from django.utils.translation import gettext

        return gettext("请缓慢向左转头") if self is Challenge.TURN_LEFT else gettext("请缓慢向右转头")


class FaceReason(StrEnum):
    """Why L3 was not reached (told to the caller; never the distance)."""

    NO_FACE = "face_not_found"
    MULTIPLE_FACES = "face_multiple"
    CHALLENGE_FAILED = "face_challenge_failed"
    FACE_CHANGED = "face_changed"
    NO_MATCH = "face_mismatch"
    REVIEW = "face_review"
    NO_CARD_PHOTO = "face_card_photo_missing"
    UNAVAILABLE = "face_unavailable"


@dataclass(frozen=True, slots=True)
class Rules:
    accept_max: float = 0.45  # distance to the card photo at or below: accepted
    review_max: float = 0.6  # above accept_max and at or below: manual review; above: rejected
    turn_min: float = 0.07  # the yaw must move this far (eye distances) the asked way, and not the other way
    same_max: float = 0.6  # every frame's face within this distance of the first: one person throughout
    min_frames: int = 4
    max_frames: int = 12


@dataclass(frozen=True, slots=True)
class BurstVerdict:
    reason: FaceReason | None  # None: liveness passed and the face matched (accept)
    decision: str  # "accept" | "review" | "reject" | "refused" (liveness failed before matching)
    distance: float | None = None  # to the card photo; for the record and the reviewers only
    frame_index: int | None = None  # the frontal frame matched (kept for review)


def burst_facts(frames: Sequence[bytes]) -> list[matcher.FaceFacts]:
    """Every frame's faces and pose (detector + 5 landmarks, ~25 ms a frame); the encoding (~75 ms) only
    for the first and the last frame showing one face: the same person before and after the turn."""
    pixels = [matcher.decode(data) for data in frames]
    facts = [matcher.analyse(p, encode=False) for p in pixels]
    single = [i for i, f in enumerate(facts) if f.faces == 1]
    for i in {single[0], single[-1]} if single else ():
        facts[i] = matcher.encode(pixels[i], facts[i])
    return facts


def judge(frames: Sequence[FaceFacts], card: FaceFacts, challenge: Challenge, rules: Rules) -> BurstVerdict:
    """The verdict on a burst of frames (in capture order) against the card photo's facts."""
    if any(f.faces > 1 for f in frames):
        return BurstVerdict(FaceReason.MULTIPLE_FACES, "refused")
    with_face = [(i, f) for i, f in enumerate(frames) if f.faces == 1]
    # A frame or two may miss the face (motion blur); most must show it.
    if len(with_face) < max(rules.min_frames, (len(frames) * 2 + 2) // 3):
        return BurstVerdict(FaceReason.NO_FACE, "refused")
    first_index, first = with_face[0]
    if first.encoding is None:
        raise ValueError("the first frame with a face must carry its encoding")
    # The frames that carry an encoding (burst_facts: the first and the last) are one person.
    if any(distance(f.encoding, first.encoding) > rules.same_max for _, f in with_face[1:] if f.encoding is not None):
        return BurstVerdict(FaceReason.FACE_CHANGED, "refused")
    baseline = first.yaw
    moves = [f.yaw - baseline for _, f in with_face]
    sign = 1.0 if challenge is Challenge.TURN_LEFT else -1.0
    asked = max(sign * m for m in moves)
    other = max(-sign * m for m in moves)
    if asked < rules.turn_min or other >= rules.turn_min:
        return BurstVerdict(FaceReason.CHALLENGE_FAILED, "refused")
    if card.faces != 1 or card.encoding is None:
        return BurstVerdict(FaceReason.NO_CARD_PHOTO, "refused")
    # The frontal frame (before the turn) is the one compared with the card photo.
    value = distance(first.encoding, card.encoding)
    if value <= rules.accept_max:
        return BurstVerdict(None, "accept", value, first_index)
    if value <= rules.review_max:
        return BurstVerdict(FaceReason.REVIEW, "review", value, first_index)
    return BurstVerdict(FaceReason.NO_MATCH, "reject", value, first_index)
