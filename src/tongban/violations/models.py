"""The traffic-violation handling system's records: violations recorded against a plate, the decisions that
handle them, the points they put on a licence, full-score holds, study reductions, and the other cars a
citizen drives with their owners' consent. Licence numbers (= ID numbers) are SM4-GCM encrypted with a blind
index (invariant 1); money is integer fen (invariant 5)."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tongban.crypto.fields import BlindIndexField, EncryptedModel, EncryptedTextField


class ViolationStatus(models.TextChoices):
    UNHANDLED = "unhandled", _("未处理")
    HANDLED = "handled", _("已处理")


class Violation(EncryptedModel):
    """One violation recorded against a plate (非现场: by a camera; or by an officer, who may name the driver)."""

    number = models.CharField(_("违法记录编号"), max_length=24, unique=True)
    plate = models.CharField(_("号牌号码"), max_length=8, db_index=True)
    plate_type = models.CharField(_("号牌种类"), max_length=2, default="02")
    occurred_at = models.DateTimeField(_("违法时间"))
    place = models.CharField(_("违法地点"), max_length=100)
    province = models.CharField(_("违法发生地省份"), max_length=2)  # whose standard applies (异地处理)
    region_code = models.CharField(_("采集机关辖区"), max_length=6)
    authority = models.CharField(_("采集机关"), max_length=100)
    code = models.CharField(_("违法代码"), max_length=5)
    description = models.CharField(_("违法行为"), max_length=200)
    fine_fen = models.PositiveIntegerField(_("罚款（分）"))
    points = models.PositiveSmallIntegerField(_("记分"))
    recorded_at = models.DateTimeField(_("录入时间"), default=timezone.now)
    # The driver, when the recorder knew them (an officer on the road): their licence sees it at once.
    driver_licence = EncryptedTextField(_("驾驶人驾驶证号"), max_length=18, mask="id_number", null=True, blank=True)
    driver_licence_bidx = BlindIndexField(source="driver_licence", normalizer="id_number", null=True)
    status = models.CharField(_("状态"), max_length=12, choices=ViolationStatus.choices,
                              default=ViolationStatus.UNHANDLED)

    class Meta:
        verbose_name = _("交通违法记录")
        verbose_name_plural = _("交通违法记录")
        indexes = [models.Index(fields=["plate", "-occurred_at"], name="viol_plate_recent")]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(points__lte=12), name="viol_points_at_most_12"),
        ]

    def __str__(self) -> str:
        return self.number


class Decision(EncryptedModel):
    """处罚决定书 (简易程序) that handled one violation. Its fine is a payments document (same number)."""

    violation = models.OneToOneField(Violation, on_delete=models.PROTECT, related_name="decision")
    number = models.CharField(_("决定书编号"), max_length=32, unique=True)
    document = models.OneToOneField("payments.PayableDocument", on_delete=models.PROTECT, related_name="+")
    licence_number = EncryptedTextField(_("被处罚人驾驶证号"), max_length=18, mask="id_number")
    licence_bidx = BlindIndexField(source="licence_number", normalizer="id_number")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                             related_name="+")
    channel = models.CharField(_("处理方式"), max_length=12, default="online")  # online | counter
    handled_region = models.CharField(_("处理地辖区"), max_length=6)
    served_on = models.DateField(_("送达日期"))
    fine_fen = models.PositiveIntegerField(_("罚款（分）"))
    points = models.PositiveSmallIntegerField(_("记分"))
    # The decision's text fields (处理程序规定 第四十二条), masked where personal: what the page and PDF show.
    content = models.JSONField(_("决定书内容"), default=dict)
    created_at = models.DateTimeField(_("作出时间"), default=timezone.now)

    class Meta:
        verbose_name = _("处罚决定书")
        verbose_name_plural = _("处罚决定书")

    def __str__(self) -> str:
        return self.number


class StudyReduction(EncryptedModel):
    """学法减分: one completed study that took points off a licence in a cycle."""

    licence_number = EncryptedTextField(_("驾驶证号"), max_length=18, mask="id_number")
    licence_bidx = BlindIndexField(source="licence_number", normalizer="id_number")
    kind = models.CharField(_("学习方式"), max_length=12)  # online | onsite
    on = models.DateField(_("日期"))
    points = models.PositiveSmallIntegerField(_("减分"))
    cycle_start = models.DateField(_("记分周期起始"))
    created_at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        verbose_name = _("学法减分")
        verbose_name_plural = _("学法减分")


class HoldStatus(models.TextChoices):
    HELD = "held", _("扣押中，须满分学习")
    RELEASED = "released", _("已考试合格，记分已清除")


class FullScoreHold(EncryptedModel):
    """满分: the licence held, with the days of study it needs and its progress."""

    licence_number = EncryptedTextField(_("驾驶证号"), max_length=18, mask="id_number")
    licence_bidx = BlindIndexField(source="licence_number", normalizer="id_number")
    reached_on = models.DateField(_("满分日期"))
    cycle_start = models.DateField(_("记分周期起始"))
    times_in_cycle = models.PositiveSmallIntegerField(_("本周期第几次满分"))
    total_points = models.PositiveSmallIntegerField(_("累积记分"))
    study_days = models.PositiveSmallIntegerField(_("应学习天数"))
    studied_days = models.JSONField(_("已学习日期"), default=list)
    status = models.CharField(_("状态"), max_length=12, choices=HoldStatus.choices, default=HoldStatus.HELD)
    released_on = models.DateField(_("清分日期"), null=True, blank=True)
    released_at = models.DateTimeField(_("清分时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("满分扣证")
        verbose_name_plural = _("满分扣证")


class ConsentStatus(models.TextChoices):
    PENDING = "pending", _("待车主同意")
    APPROVED = "approved", _("车主已同意")
    REFUSED = "refused", _("车主已拒绝")
    REMOVED = "removed", _("已解除")


class DrivenVehicle(models.Model):
    """Another person's car a citizen drives, registered with its owner's consent so the driver may see and
    handle its violations (at most 3 at a time)."""

    driver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="driven_vehicles")
    plate = models.CharField(_("号牌号码"), max_length=8)
    status = models.CharField(_("状态"), max_length=12, choices=ConsentStatus.choices, default=ConsentStatus.PENDING)
    requested_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    decided_at = models.DateTimeField(_("车主决定时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("驾驶他人机动车备案")
        verbose_name_plural = _("驾驶他人机动车备案")
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["driver", "plate"], condition=Q(status__in=["pending", "approved"]),
                                    name="viol_one_live_registration_per_plate"),
        ]

    def __str__(self) -> str:
        return self.plate
