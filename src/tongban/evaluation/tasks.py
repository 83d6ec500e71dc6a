"""The evaluation's background work: the rater's notices (outbox "evaluation_notice": a message in the account
and an SMS), the hourly flag of overdue rectifications, and the rating link appended to a case's closing SMS."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import receiver

from tongban.cases.signals import case_closing_notice
from tongban.evaluation import tokens
from tongban.evaluation.models import BadReview
from tongban.evaluation.services import NOTICE_CHANNEL, reviews_flag_overdue
from tongban.jobs.registry import PermanentJobError, job_task, outbox_channel


def notice_text(review: BadReview, kind: str) -> tuple[str, str, bool]:
    """(title, text, with the rating link) of a notice to the rater: the item and the case number only."""
    case = review.rating.case
    about = f"您对“{review.rating.item_title}”（受理编号 {case.display_number}）的评价"
    if kind == "accepted":
        return "差评已受理", f"{about}已受理，监督员将回访核实并督促整改，整改结果将反馈给您。", False
    if kind == "feedback":
        return "差评整改结果反馈", f"{about}已整改：{review.feedback or ''} 请对整改结果作出评价。", True
    if kind == "removed":
        return "评价经申诉复核撤销", f"{about}经申诉复核，已按规定撤销，理由：{review.appeal_decision_note or ''}", False
    raise PermanentJobError(f"unknown notice kind {kind!r}")


@outbox_channel(NOTICE_CHANNEL, max_attempts=8)
def deliver_evaluation_notice(payload: dict[str, Any], *, idempotency_key: str) -> None:
    from tongban.accounts.models import CitizenProfile
    from tongban.notifications.services import account_message_post, sms_queue

    review_id, kind = payload.get("review_id"), payload.get("kind")
    if isinstance(review_id, bool) or not isinstance(review_id, int) or not isinstance(kind, str):
        raise PermanentJobError("payload without review_id or kind")
    review = BadReview.objects.select_related("rating", "rating__case").filter(pk=review_id).first()
    if review is None or review.rating.rater_id is None:
        raise PermanentJobError("review or rater is gone")
    title, text, with_link = notice_text(review, kind)
    case = review.rating.case
    with transaction.atomic():
        _, created = account_message_post(user_id=review.rating.rater_id, title=title, body=text,
                                          link=f"/me/cases/{case.pk}/rate/", source_key=idempotency_key)
        if not created:
            return
        profile = CitizenProfile.objects.filter(user_id=review.rating.rater_id, closed_at__isnull=True).first()
        if profile is not None and profile.phone:
            sms = f"【一网通办】{text}"
            if with_link:
                sms += f" 评价：{tokens.link_url(case.pk)}"
            sms_queue(phone=profile.phone, text=sms[:500], purpose="evaluation_notice")


@job_task("evaluation.flag_overdue", every=3600)
def flag_overdue() -> None:
    reviews_flag_overdue()


@receiver(case_closing_notice, dispatch_uid="evaluation.rating_link")
def rating_link_in_closing_sms(sender: Any, case: Any, event: Any, **kwargs: Any) -> str:
    """The case's closing SMS carries the link that opens the rating of that case only."""
    return f" 欢迎评价本次服务：{tokens.link_url(case.pk)}"
