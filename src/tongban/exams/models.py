"""Driving-test booking (驾驶人考试预约): exam sites, sessions published ahead with a seat capacity, the exam
office's record of each applicant (the accepted licence application and the learner's permit, 学习驾驶证明),
and bookings with their allocation and result.

Seats are a counter on the session (`seats_taken`) that the database keeps between 0 and the capacity
(a check constraint), changed only under the session's row lock or by a conditional UPDATE: no overbooking,
ever. The applicant's ID number and name are SM4-GCM encrypted (invariant 1).
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tongban.crypto.fields import BlindIndexField, EncryptedModel, EncryptedTextField


class Subject(models.TextChoices):
    # 公安部令第162号 第二十八条: 科目一, 科目二, 科目三 (道路驾驶技能 and 安全文明驾驶常识).
    SUBJECT1 = "subject1", _("科目一（道路交通安全法律、法规和相关知识）")
    SUBJECT2 = "subject2", _("科目二（场地驾驶技能）")
    SUBJECT3_ROAD = "subject3_road", _("科目三（道路驾驶技能）")
    SUBJECT3_SAFETY = "subject3_safety", _("科目三（安全文明驾驶常识）")


class LicenceClass(models.TextChoices):
    """准驾车型 (公安部令第162号 附件1)."""

    A1 = "A1", _("A1 大型客车")
    A2 = "A2", _("A2 重型牵引挂车")
    A3 = "A3", _("A3 城市公交车")
    B1 = "B1", _("B1 中型客车")
    B2 = "B2", _("B2 大型货车")
    C1 = "C1", _("C1 小型汽车")
    C2 = "C2", _("C2 小型自动挡汽车")
    C3 = "C3", _("C3 低速载货汽车")
    C5 = "C5", _("C5 残疾人专用小型自动挡载客汽车")
    C6 = "C6", _("C6 轻型牵引挂车")
    D = "D", _("D 普通三轮摩托车")
    E = "E", _("E 普通二轮摩托车")
    F = "F", _("F 轻便摩托车")


class ExamSite(models.Model):
    """考场: where sessions take place; run by a traffic police unit of a region."""

    code = models.CharField(_("考场编号"), max_length=32, unique=True)
    name = models.CharField(_("考场名称"), max_length=100)
    address = models.CharField(_("地址"), max_length=200)
    region_code = models.CharField(_("辖区代码"), max_length=6)
    subjects = models.JSONField(_("可考科目"), default=list)
    active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("考场")
        verbose_name_plural = _("考场")

    def __str__(self) -> str:
        return self.name


class SessionStatus(models.TextChoices):
    DRAFT = "draft", _("未发布")
    PUBLISHED = "published", _("预约中")
    ALLOCATED = "allocated", _("已排定")
    CANCELLED = "cancelled", _("已取消")


class ExamSession(models.Model):
    """考试场次: one subject at one site at one time, for some licence classes, with a seat capacity."""

    site = models.ForeignKey(ExamSite, on_delete=models.PROTECT, related_name="sessions")
    subject = models.CharField(_("考试科目"), max_length=20, choices=Subject.choices)
    licence_classes = models.JSONField(_("准驾车型"), default=list)
    starts_at = models.DateTimeField(_("考试时间"))
    booking_closes_at = models.DateTimeField(_("预约截止时间"))
    capacity = models.PositiveIntegerField(_("考试名额"))
    seats_taken = models.PositiveIntegerField(_("已排定人数"), default=0)
    status = models.CharField(_("状态"), max_length=16, choices=SessionStatus.choices, default=SessionStatus.DRAFT)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    allocated_at = models.DateTimeField(_("排定时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("考试场次")
        verbose_name_plural = _("考试场次")
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["status", "booking_closes_at"])]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # No overbooking, ever: whatever code path changes the counter, the database refuses more.
            models.CheckConstraint(condition=Q(seats_taken__lte=F("capacity")), name="exams_session_no_overbooking",
                                   violation_error_message="考试名额已满"),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="exams_session_capacity_positive"),
            models.CheckConstraint(condition=Q(booking_closes_at__lt=F("starts_at")),
                                   name="exams_session_window_before_exam"),
        ]

    def __str__(self) -> str:
        return f"{self.site} {self.get_subject_display()} {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def exam_date(self) -> dt.date:
        from tongban.core.clock import to_local

        return to_local(self.starts_at).date()

    @property
    def seats_free(self) -> int:
        return self.capacity - self.seats_taken


class LearnerPermit(EncryptedModel):
    """The exam office's record of one accepted licence application (受理) and its learner's permit
    (学习驾驶证明), issued when 科目一 is passed and valid three years. Eligibility and ranking are computed
    from this row and the bookings' results."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="learner_permits")
    id_number = EncryptedTextField(_("身份证明号码"), max_length=32, mask="id_number")
    id_number_bidx = BlindIndexField(source="id_number", normalizer="id_number")
    name = EncryptedTextField(_("姓名"), max_length=100, mask="name")
    licence_class = models.CharField(_("申请准驾车型"), max_length=4, choices=LicenceClass.choices)
    region_code = models.CharField(_("受理地"), max_length=6)
    accepted_at = models.DateTimeField(_("受理时间"))
    issued_on = models.DateField(_("学习驾驶证明签发日期"), null=True, blank=True)
    valid_to = models.DateField(_("学习驾驶证明有效期至"), null=True, blank=True)
    # The time of the applicant's last exam, cancellation or no-show: the ranking key after the first 科目一.
    last_event_at = models.DateTimeField(_("最近一次考试或取消时间"), null=True, blank=True)
    closed = models.BooleanField(_("已结束"), default=False)

    class Meta:
        verbose_name = _("驾驶证申请及学习驾驶证明")
        verbose_name_plural = _("驾驶证申请及学习驾驶证明")
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["id_number_bidx"])]

    def __str__(self) -> str:
        return f"{self.get_licence_class_display()} #{self.pk}"

    @property
    def masked_name(self) -> str:
        return self.masked("name")


class BookingStatus(models.TextChoices):
    APPLIED = "applied", _("待排定")
    ALLOCATED = "allocated", _("预约成功")
    UNALLOCATED = "unallocated", _("未排上")
    CANCELLED = "cancelled", _("已取消")
    PASSED = "passed", _("考试合格")
    FAILED = "failed", _("考试不合格")
    NO_SHOW = "no_show", _("缺考（按不合格）")


OPEN_STATUSES = (BookingStatus.APPLIED, BookingStatus.ALLOCATED)
SEATED_STATUSES = (BookingStatus.ALLOCATED, BookingStatus.PASSED, BookingStatus.FAILED, BookingStatus.NO_SHOW)


class Booking(models.Model):
    """One booking request for one session: applied in the window, then given a seat (or not) by the ranking,
    then passed / failed / no-show, or cancelled by the applicant until the day before."""

    permit = models.ForeignKey(LearnerPermit, on_delete=models.PROTECT, related_name="bookings")
    session = models.ForeignKey(ExamSession, on_delete=models.PROTECT, related_name="bookings")
    subject = models.CharField(_("考试科目"), max_length=20, choices=Subject.choices)
    status = models.CharField(_("状态"), max_length=16, choices=BookingStatus.choices, default=BookingStatus.APPLIED)
    applied_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    priority = models.BooleanField(_("学习驾驶证明临近到期优先"), default=False)
    rank_time = models.DateTimeField(_("排序时间"), null=True, blank=True)
    rank = models.PositiveIntegerField(_("排序名次"), null=True, blank=True)
    decided_at = models.DateTimeField(_("排定/取消/成绩时间"), null=True, blank=True)
    fee_number = models.CharField(_("考试费缴款码"), max_length=32, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")

    class Meta:
        verbose_name = _("考试预约")
        verbose_name_plural = _("考试预约")
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["session", "status"])]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            # One open booking per applicant and subject: two clicks, two tabs, two threads make one.
            models.UniqueConstraint(fields=["permit", "subject"], condition=Q(status__in=["applied", "allocated"]),
                                    name="exams_one_open_booking_per_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.get_subject_display()} #{self.pk}"
