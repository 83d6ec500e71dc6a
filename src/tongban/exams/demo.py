"""Demo data of driving-test booking (called by `tongban demo`): a traffic officer who runs the exam office,
two sites with sessions published ahead, and a learner's permit for the demo citizen (C1, issued 40 days
ago, so 科目二 and 科目三 can both be booked)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import get_user_model
from django.db import transaction

from tongban.core import clock
from tongban.exams import rules
from tongban.exams.models import ExamSession, ExamSite, LearnerPermit, SessionStatus

OFFICER = ("examofficer", "Exam@2026demo")  # 民警（交管，考试科）
REGION = "440100"
SITES = (("GZ-TH-01", "广州市车管所天河考场", "广州市天河区中山大道西 1 号", "440106"),
         ("GZ-BY-01", "广州市车管所白云考场", "广州市白云区机场路 100 号", "440111"))
SCHEDULE = (("subject1", ["C1", "C2", "A1", "B2"], 100), ("subject2", ["C1", "C2"], 40),
            ("subject3_road", ["C1", "C2"], 30), ("subject3_safety", ["C1", "C2", "A1", "B2"], 80))


def demo_exams_ensure(citizen_username: str = "citizen") -> str:
    """Idempotent; returns the officer's username."""
    from tongban.accounts.models import CitizenProfile, StaffTOTPDevice

    User = get_user_model()
    with transaction.atomic():
        officer = User.objects.filter(username=OFFICER[0]).first() or User(username=OFFICER[0])
        officer.kind, officer.role_officer = "staff", True  # type: ignore[attr-defined]
        officer.department, officer.region_code = "traffic", REGION  # type: ignore[attr-defined]
        officer.is_active, officer.must_change_password = True, False  # type: ignore[attr-defined]
        officer.set_password(OFFICER[1])
        officer.save()
        if not StaffTOTPDevice.objects.filter(user=officer, confirmed=True).exists():
            StaffTOTPDevice.objects.create(user=officer, name="演示身份验证器", confirmed=True)
        sites = []
        for code, name, address, region in SITES:
            site, _ = ExamSite.objects.get_or_create(code=code, defaults={
                "name": name, "address": address, "region_code": region,
                "subjects": ["subject1", "subject2", "subject3_road", "subject3_safety"]})
            sites.append(site)
        today = clock.today_local()
        if not ExamSession.objects.filter(starts_at__gt=clock.now()).exists():
            for week in (1, 2, 3):
                for site in sites:
                    for index, (subject, classes, capacity) in enumerate(SCHEDULE):
                        day = today + dt.timedelta(days=7 * week + index)
                        while not rules.is_working_day(day):
                            day += dt.timedelta(days=1)
                        starts = dt.datetime.combine(day, dt.time(9 if index % 2 else 14), tzinfo=clock.SHANGHAI)
                        closes = dt.datetime.combine(rules.window_closes_on(day), dt.time(0), tzinfo=clock.SHANGHAI)
                        ExamSession.objects.create(site=site, subject=subject, licence_classes=classes,
                                                   starts_at=starts, booking_closes_at=closes, capacity=capacity,
                                                   status=SessionStatus.PUBLISHED, published_at=clock.now(),
                                                   created_by=officer)
        citizen = User.objects.filter(username=citizen_username).first()
        profile = CitizenProfile.objects.filter(user=citizen).first() if citizen else None
        if citizen is not None and profile is not None and profile.id_number and profile.name \
                and not LearnerPermit.objects.filter(user=citizen, closed=False).exists():
            issued = today - dt.timedelta(days=40)
            LearnerPermit.objects.create(
                user=citizen, id_number=profile.id_number, name=profile.name, licence_class="C1",
                region_code="440106", accepted_at=clock.now() - dt.timedelta(days=60), issued_on=issued,
                valid_to=rules.permit_valid_to(issued))
    return OFFICER[0]
