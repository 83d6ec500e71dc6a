"""一键挪车: a request to move a blocking car, its photos, and the bans of those who abused the service.

The owner's phone is never stored here: it is asked of the traffic source each time a message goes out
(each ask audited). Plate, place, message and photos are SM4-GCM encrypted; the plate has a blind index
for the per-plate limit.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tongban.crypto.fields import BlindIndexField, EncryptedBinaryField, EncryptedModel, EncryptedTextField


class PlateType(models.TextChoices):
    """GA 36 号牌种类 offered to the requester."""

    SMALL = "02", _("小型汽车")
    LARGE = "01", _("大型汽车")
    SMALL_NEV = "52", _("小型新能源汽车")
    LARGE_NEV = "51", _("大型新能源汽车")


class MoveStatus(models.TextChoices):
    NOTIFIED = "notified", _("已通知车主")
    MOVING = "moving", _("车主正在挪车")
    MOVED = "moved", _("已挪车")
    CONTESTED = "contested", _("车主有异议，待民警复核")
    REVIEWED = "reviewed", _("已复核")
    CANCELLED = "cancelled", _("已取消")


class ReviewOutcome(models.TextChoices):
    GENUINE = "genuine", _("确有挡车，请求属实")
    MALICIOUS = "malicious", _("恶意请求")


class MoveRequest(EncryptedModel):
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    plate_type = models.CharField(_("号牌种类"), max_length=2, choices=PlateType.choices)
    plate = EncryptedTextField(_("号牌号码"), max_length=10)
    plate_bidx = BlindIndexField(source="plate", normalizer="plate")
    location = EncryptedTextField(_("挡车位置"), max_length=200)
    message = EncryptedTextField(_("留言"), max_length=200, blank=True, default="")
    region_code = models.CharField(_("所在地区"), max_length=6)
    # The owner's account on the platform, if they have one (their message centre); never shown to the requester.
    owner_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    reply_token_sm3 = models.CharField(max_length=64, unique=True)  # the SMS link's token, hashed
    status = models.CharField(_("状态"), max_length=16, choices=MoveStatus.choices, default=MoveStatus.NOTIFIED)
    created_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(default=timezone.now)  # the last message to the owner
    nudges = models.PositiveSmallIntegerField(default=0)  # 催单
    escalated_at = models.DateTimeField(null=True, blank=True)  # in the traffic police's queue
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    handling_note = EncryptedTextField(_("处置情况"), max_length=500, blank=True, default="")
    replied_at = models.DateTimeField(null=True, blank=True)
    contest_reason = EncryptedTextField(_("异议理由"), max_length=500, blank=True, default="")
    review_outcome = models.CharField(max_length=16, choices=ReviewOutcome.choices, blank=True, default="")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("挪车请求")
        verbose_name_plural = _("挪车请求")
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["requester", "created_at"], name="carmove_req_requester"),
            models.Index(fields=["plate_bidx", "created_at"], name="carmove_req_plate"),
            models.Index(fields=["region_code", "escalated_at"], name="carmove_req_queue"),
            models.Index(fields=["status", "region_code"], name="carmove_req_status"),
        ]

    def __str__(self) -> str:
        return f"挪车请求 #{self.pk}"


class MovePhoto(EncryptedModel):
    request = models.ForeignKey(MoveRequest, on_delete=models.CASCADE, related_name="photos")
    content_type = models.CharField(max_length=32)
    size = models.PositiveIntegerField()
    sm3 = models.CharField(max_length=64)
    content = EncryptedBinaryField(_("照片"))
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"照片 #{self.pk}"


class Ban(models.Model):
    """A requester banned from the service (3 confirmed malicious requests within a year)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        verbose_name = _("挪车服务限制")
        verbose_name_plural = _("挪车服务限制")
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["user", "ends_at"], name="carmove_ban_user")]

    def __str__(self) -> str:
        return f"限制 #{self.pk}"
