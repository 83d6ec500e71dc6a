"""The citizen's pages of driving-test booking (/exams/, entered from the catalog item 驾驶人考试预约): the
application and learner's permit, bookings with cancel and pay, and the sessions open for a subject."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tongban.audit.actions import Action
from tongban.audit.services import Subject, audit_record
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.exams import selectors, services
from tongban.exams.models import BookingStatus
from tongban.exams.models import Subject as ExamSubject
from tongban.portal.account_views import citizen_required


def _language(request: HttpRequest) -> str:
    return getattr(request, "LANGUAGE_CODE", "zh-hans")


@require_GET
@citizen_required
def index(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    permit = selectors.open_permit_of(user)
    if permit is None and services.permits_link(user=user):
        permit = selectors.open_permit_of(user)
    bookings = list(selectors.bookings_of(permit)) if permit is not None else []
    if permit is not None:
        audit_record(action=Action.PERSONAL_DATA_READ, request=request, subject=Subject.of(permit),
                     details={"page": "exams:index"})
    today = clock.today_local()
    from tongban.payments import selectors as payments

    for booking in bookings:
        document = payments.document_by_number(booking.fee_number) if booking.fee_number else None
        booking.fee_paid = document is not None and document.status == "paid"  # type: ignore[attr-defined]
        booking.cancellable = (booking.status in (BookingStatus.APPLIED, BookingStatus.ALLOCATED)  # type: ignore[attr-defined]
                               and today < booking.session.exam_date)
    return render(request, "exams/index.html", {
        "permit": permit, "bookings": bookings, "subjects": ExamSubject.choices,
    })


@require_http_methods(["GET", "POST"])
@citizen_required
def book(request: HttpRequest, subject: str) -> HttpResponse:
    user: Any = request.user
    if subject not in ExamSubject.values:
        raise Http404
    permit = selectors.open_permit_of(user)
    if permit is None:
        return redirect("exams:index")
    error, status = "", 200
    if request.method == "POST":
        try:
            session_id = int(request.POST.get("session", ""))
        except ValueError:
            error, status = _("请选择考试场次。"), 422
        else:
            try:
                booking = services.booking_apply(user=user, permit_id=permit.pk, session_id=session_id)
            except TongbanError as exc:
                error, status = exc.message(_language(request)), exc.http_status()
            else:
                if booking.status == BookingStatus.ALLOCATED:
                    messages.success(request, _("预约成功，已为您保留考试名额。请缴纳考试费。"))
                else:
                    messages.success(request, _("预约申请已提交。预约截止后按规则排序安排，结果以短信和消息告知。"))
                return redirect("exams:index")
    sessions = selectors.bookable_sessions(permit, subject)
    return render(request, "exams/book.html", {
        "permit": permit, "subject": subject, "subject_label": ExamSubject(subject).label,
        "sessions": sessions, "error": error, "now": clock.now(),
    }, status=status)


@require_POST
@citizen_required
def cancel(request: HttpRequest, booking_id: int) -> HttpResponse:
    try:
        services.booking_cancel(user=request.user, booking_id=booking_id)
    except TongbanError as exc:
        if exc.http_status() == 404:
            raise Http404 from exc
        messages.error(request, exc.message(_language(request)))
    else:
        messages.success(request, _("已取消预约。"))
    return redirect("exams:index")


@require_POST
@citizen_required
def pay(request: HttpRequest, booking_id: int) -> HttpResponse:
    try:
        document = services.booking_fee_notice(user=request.user, booking_id=booking_id)
    except TongbanError as exc:
        if exc.http_status() == 404:
            raise Http404 from exc
        messages.error(request, exc.message(_language(request)))
        return redirect("exams:index")
    return redirect("payments:document", number=document.number)
