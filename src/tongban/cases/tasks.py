"""The case engine's background work: the applicant's notices (outbox "case_notice": a message in the
account and an SMS), courier orders (outbox "ems_order"), and issuing electronic results."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from tongban.cases.delivery import (
    EMS_CHANNEL,
    ISSUE_RESULT_TASK,
    CourierRejected,
    CourierUnavailable,
    parcel_place_order,
)
from tongban.cases.models import Case, CaseEvent
from tongban.cases.services import CASE_NOTICE_CHANNEL
from tongban.cases.signals import CLOSING_STATES, case_closing_notice
from tongban.core.logging import get_logger
from tongban.jobs.registry import PermanentJobError, job_task, outbox_channel

log = get_logger("tongban.cases")


def _id(payload: dict[str, Any], key: str) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PermanentJobError(f"payload without {key}")
    return value


def notice_text(case: Case, event: CaseEvent) -> tuple[str, str]:
    """(title, text) of the notice for one timeline event: the case and what happened, no personal data."""
    number = case.display_number
    item = case.item_title
    details = event.details or {}
    to = event.to_state
    if event.kind == "delivery":
        waybill = details.get("waybill", "")
        return event.label, f"您申请的“{item}”（受理编号 {number}）：{event.label}，运单号 {waybill}。"
    if event.kind == "comment":
        return "办件留言", f"您申请的“{item}”（受理编号 {number}）有新的留言。"
    texts = {
        "submitted": (f"您申请的“{item}”已提交，受理编号 {number}，请留意办理进度。"
                      if event.action == "submit" else f"您申请的“{item}”（受理编号 {number}）补正材料已提交。"),
        "review": f"您申请的“{item}”（受理编号 {number}）已受理。",
        "correction": f"您申请的“{item}”（受理编号 {number}）需要补正：{'；'.join(details.get('missing', []))}。"
                      "请登录“我的办件”一次性补正，补正期间暂停计时。",
        "not_accepted": f"您申请的“{item}”（受理编号 {number}）不予受理，理由：{details.get('reason', '')}",
        "decision": f"您申请的“{item}”（受理编号 {number}）已通过审核，进入审批。",
        "delivery": f"您申请的“{item}”（受理编号 {number}）已准予许可，结果即将送达。",
        "denied": f"您申请的“{item}”（受理编号 {number}）不予许可，理由：{details.get('reason', '')}",
        "withdrawn": f"您申请的“{item}”（受理编号 {number}）已撤回。",
        "closed": f"您申请的“{item}”（受理编号 {number}）已办结。",
    }
    return event.label, texts.get(to, f"您申请的“{item}”（受理编号 {number}）：{event.label}。")


@outbox_channel(CASE_NOTICE_CHANNEL, max_attempts=8)
def deliver_case_notice(payload: dict[str, Any], *, idempotency_key: str) -> None:
    from tongban.accounts.models import CitizenProfile
    from tongban.notifications.services import account_message_post, sms_queue

    event = CaseEvent.objects.select_related("case").filter(pk=_id(payload, "event_id")).first()
    if event is None:
        raise PermanentJobError("case event is gone")
    case = event.case
    title, text = notice_text(case, event)
    sms_text = text
    if event.kind == "transition" and event.to_state in CLOSING_STATES:
        for _, extra in case_closing_notice.send(sender=Case, case=case, event=event):
            if isinstance(extra, str) and extra:
                sms_text += extra
    with transaction.atomic():
        # The account message is kept once per notice (its source key); the SMS is queued in the same
        # transaction only when the message is new, so a notice delivered twice texts once.
        _, created = account_message_post(user_id=case.applicant_id, title=title, body=text,
                                          link=f"/me/cases/{case.pk}/", source_key=idempotency_key)
        if not created:
            return
        profile = CitizenProfile.objects.filter(user_id=case.applicant_id, closed_at__isnull=True).first()
        if profile is not None and profile.phone:
            sms_queue(phone=profile.phone, text=f"【一网通办】{sms_text}"[:500], purpose="case_notice")


@outbox_channel(EMS_CHANNEL, max_attempts=10)
def deliver_ems_order(payload: dict[str, Any], *, idempotency_key: str) -> None:
    try:
        parcel_place_order(parcel_id=_id(payload, "parcel_id"), idempotency_key=idempotency_key)
    except CourierRejected as exc:
        raise PermanentJobError(str(exc)) from None
    except CourierUnavailable:
        raise  # retried with back-off


@job_task("cases.record_check", max_attempts=12)
def record_recheck(case_id: int) -> None:
    from tongban.cases.record_check import recheck

    recheck(case_id)


@job_task(ISSUE_RESULT_TASK, max_attempts=5)
def issue_result(case_id: int) -> None:
    from tongban.cases.results import result_issue

    result_issue(case_id=case_id)
