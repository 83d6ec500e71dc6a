"""Background work of driving-test booking: the allocation sweep (every minute) and the messages to
applicants (outbox channel "exams_message": the account's message centre and an SMS)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from tongban.exams.services import MESSAGE_CHANNEL
from tongban.jobs.registry import PermanentJobError, job_task, outbox_channel


def _id(payload: dict[str, Any], key: str) -> int:
    value = payload.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise PermanentJobError(f"payload without {key}")
    return value


def _text(booking: Any) -> tuple[str, str]:
    session = booking.session
    when = f"{session.starts_at.astimezone(_tz()):%Y-%m-%d %H:%M}"
    subject = booking.get_subject_display()
    status = booking.status
    if status == "allocated":
        return _("考试预约成功"), _("您预约的%(subject)s考试已排定：%(when)s，%(site)s（%(address)s）。请按时参加并缴纳考试费；"
                                   "如不能参加，请在考试前一日前取消预约，缺考按不合格处理。") % {
            "subject": subject, "when": when, "site": session.site.name, "address": session.site.address}
    if status == "unallocated":
        return _("考试预约未排上"), _("您申请的%(subject)s考试（%(when)s）因名额不足未排上，请另行选择场次预约。") % {
            "subject": subject, "when": when}
    if status == "cancelled":
        return _("考试预约已取消"), _("您已取消%(subject)s考试（%(when)s）的预约。") % {"subject": subject, "when": when}
    return _("考试成绩"), _("您参加的%(subject)s考试（%(when)s）结果：%(result)s。") % {
        "subject": subject, "when": when, "result": booking.get_status_display()}


def _tz() -> Any:
    from tongban.core.clock import SHANGHAI

    return SHANGHAI


def _send(booking: Any, key: str) -> None:
    from tongban.accounts.models import CitizenProfile
    from tongban.notifications.services import account_message_post, sms_queue

    user_id = booking.permit.user_id
    if user_id is None:
        return
    title, body = _text(booking)
    _, created = account_message_post(user_id=user_id, title=title, body=body, link="/exams/",
                                      source_key=f"{key}:{booking.pk}")
    profile = CitizenProfile.objects.filter(user_id=user_id).first()
    if created and profile is not None and profile.phone:
        sms_queue(phone=profile.phone, text=f"【一网通办】{body}"[:500], purpose="exams")


@outbox_channel(MESSAGE_CHANNEL, max_attempts=8)
def deliver_message(payload: dict[str, Any], *, idempotency_key: str) -> None:
    from tongban.exams.models import Booking

    rows = Booking.objects.select_related("permit", "session__site")
    if "session_id" in payload:
        rows = rows.filter(session_id=_id(payload, "session_id"), status__in=("allocated", "unallocated"),
                           rank__isnull=False)
    else:
        rows = rows.filter(pk=_id(payload, "booking_id"))
    with transaction.atomic():
        for booking in rows:
            _send(booking, idempotency_key)


@job_task("exams.allocate_due", every=60, max_attempts=1, lease_seconds=600)
def allocate_due() -> None:
    from tongban.exams.services import sessions_allocate_due

    sessions_allocate_due()
