"""The exam office's pages (/backoffice/exams/): an officer of 交管 adds sites, creates and publishes sessions
ahead, sees a session's ranking, allocates a closed window at once and records results."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from tongban.audit.actions import Action
from tongban.audit.services import Subject, audit_record
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.exams import selectors, services
from tongban.exams.models import BookingStatus, LicenceClass
from tongban.exams.models import Subject as ExamSubject
from tongban.portal.account_views import form_error


def _officer(request: HttpRequest) -> Any:
    if not selectors.is_exam_officer(request.user):
        raise Http404
    return request.user


class SiteForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("考场编号"), max_length=32)
    name = forms.CharField(label=gettext_lazy("考场名称"), max_length=100)
    address = forms.CharField(label=gettext_lazy("地址"), max_length=200)
    region_code = forms.CharField(label=gettext_lazy("辖区代码"), max_length=6, min_length=6)
    subjects = forms.MultipleChoiceField(label=gettext_lazy("可考科目"), choices=ExamSubject.choices,
                                         widget=forms.CheckboxSelectMultiple)


class SessionForm(forms.Form):
    site = forms.ChoiceField(label=gettext_lazy("考场"), choices=())
    subject = forms.ChoiceField(label=gettext_lazy("考试科目"), choices=ExamSubject.choices)
    licence_classes = forms.MultipleChoiceField(label=gettext_lazy("准驾车型"), choices=LicenceClass.choices,
                                                widget=forms.CheckboxSelectMultiple)
    day = forms.DateField(label=gettext_lazy("考试日期"), widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(label=gettext_lazy("开考时间"), widget=forms.TimeInput(attrs={"type": "time"}))
    capacity = forms.IntegerField(label=gettext_lazy("考试名额"), min_value=1, max_value=10_000)

    def __init__(self, *args: Any, sites: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["site"].choices = [(str(pk), name) for pk, name in sites]  # type: ignore[attr-defined]


@require_http_methods(["GET", "POST"])
def home(request: HttpRequest) -> HttpResponse:
    user = _officer(request)
    sites = list(selectors.sites_for_staff(user))
    site_form = SiteForm(prefix="site")
    session_form = SessionForm(prefix="session", sites=[(s.pk, s.name) for s in sites])
    status = 200
    if request.method == "POST" and request.POST.get("form") == "site":
        site_form = SiteForm(request.POST, prefix="site")
        if site_form.is_valid():
            try:
                services.site_create(actor=user, **site_form.cleaned_data)
            except TongbanError as exc:
                form_error(request, site_form, exc)
            else:
                messages.success(request, _("已添加考场。"))
                return redirect("exams_bo:home")
        status = 422
    elif request.method == "POST" and request.POST.get("form") == "session":
        session_form = SessionForm(request.POST, prefix="session", sites=[(s.pk, s.name) for s in sites])
        if session_form.is_valid():
            data = session_form.cleaned_data
            starts_at = dt.datetime.combine(data["day"], data["time"], tzinfo=clock.SHANGHAI)
            try:
                session = services.session_create(actor=user, site_id=int(data["site"]), subject=data["subject"],
                                                  licence_classes=data["licence_classes"], starts_at=starts_at,
                                                  capacity=data["capacity"])
            except TongbanError as exc:
                form_error(request, session_form, exc, default="day")
            else:
                messages.success(request, _("已新建考试场次（未发布）。"))
                return redirect("exams_bo:session", session_id=session.pk)
        status = 422
    return render(request, "exams/bo_home.html", {
        "sites": sites, "sessions": selectors.sessions_for_staff(user)[:100], "site_form": site_form,
        "session_form": session_form,
    }, status=status)


@require_http_methods(["GET"])
def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    user = _officer(request)
    session = selectors.sessions_for_staff(user).filter(pk=session_id).first()
    if session is None:
        raise Http404
    bookings = list(selectors.session_bookings(session))
    audit_record(action=Action.PERSONAL_DATA_READ, request=request, subject=Subject.of(session),
                 details={"page": "exams:session", "bookings": len(bookings)})
    return render(request, "exams/bo_session.html", {
        "session": session, "bookings": bookings, "results": services.RESULTS,
        "window_closed": clock.now() >= session.booking_closes_at,
        "exam_started": clock.today_local() >= session.exam_date,
    })


@require_POST
def session_publish(request: HttpRequest, session_id: int) -> HttpResponse:
    user = _officer(request)
    try:
        services.session_publish(actor=user, session_id=session_id)
    except TongbanError as exc:
        messages.error(request, exc.message(getattr(request, "LANGUAGE_CODE", "zh-hans")))
    else:
        messages.success(request, _("场次已发布，开放预约。"))
    return redirect("exams_bo:session", session_id=session_id)


@require_POST
def session_allocate(request: HttpRequest, session_id: int) -> HttpResponse:
    user = _officer(request)
    if not selectors.sessions_for_staff(user).filter(pk=session_id).exists():
        raise Http404
    seated = services.session_allocate(session_id=session_id, actor=user)
    messages.success(request, _("已排定 %(n)d 人。") % {"n": seated})
    return redirect("exams_bo:session", session_id=session_id)


@require_POST
def result(request: HttpRequest, booking_id: int) -> HttpResponse:
    user = _officer(request)
    outcome = str(request.POST.get("result", ""))
    session_id = request.POST.get("session", "")
    try:
        booking = services.booking_result_record(actor=user, booking_id=booking_id, result=outcome)
    except TongbanError as exc:
        if exc.http_status() in (403, 404):
            raise Http404 from exc
        messages.error(request, exc.message(getattr(request, "LANGUAGE_CODE", "zh-hans")))
        return redirect("exams_bo:session", session_id=int(session_id)) if session_id.isdigit() else \
            redirect("exams_bo:home")
    messages.success(request, _("已登记：%(r)s。") % {"r": BookingStatus(booking.status).label})
    return redirect("exams_bo:session", session_id=booking.session_id)


app_name = "exams_bo"
urlpatterns = [
    path("", home, name="home"),
    path("sessions/<int:session_id>/", session_detail, name="session"),
    path("sessions/<int:session_id>/publish/", session_publish, name="publish"),
    path("sessions/<int:session_id>/allocate/", session_allocate, name="allocate"),
    path("bookings/<int:booking_id>/result/", result, name="result"),
]
