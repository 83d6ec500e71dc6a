"""Reads of face checks, with the reader's permissions.

Reviewers are officers (业务民警) of 户政 (household administration): the department that issues the
resident ID card and compares faces with card photos at the counter every day. Two different ones decide
each check (services.face_review_decide).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tongban.accounts.roles import Department, StaffRole
from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core.errors import TongbanError
from tongban.face.models import CheckStatus, FaceCheck

REVIEW_ROLE = StaffRole.OFFICER
REVIEW_DEPARTMENT = Department.HUKOU


def can_review(actor: Any) -> bool:
    return bool(getattr(actor, "is_authenticated", False) and getattr(actor, "is_active", False)
                and hasattr(actor, "has_role") and actor.has_role(REVIEW_ROLE)
                and getattr(actor, "department", "") == REVIEW_DEPARTMENT)


def review_queue(actor: Any) -> QuerySet[FaceCheck]:
    """Checks under review, oldest first (nothing for anyone who may not review)."""
    if not can_review(actor):
        return FaceCheck.objects.none()
    return FaceCheck.objects.filter(status=CheckStatus.REVIEW).order_by("created_at")


def review_images(actor: Any, check_id: int, *, request: Any = None) -> tuple[FaceCheck, bytes, bytes]:
    """A reviewer opens a check's two images (the frame and the card photo); audited."""
    check = review_queue(actor).filter(pk=check_id).first()
    if check is None or check.selfie is None or check.card_photo is None:
        raise TongbanError("not_found")
    audit_record(action=Action.FACE_IMAGE_OPEN, actor=Actor.user(actor), subject=Subject("face.check", check.pk),
                 request=request, details={"identity": check.subject_ref})
    return check, bytes(check.selfie), bytes(check.card_photo)
