"""Partner organisations (部委, 省区市, 业务系统), their apps on the partner API, purpose codes (用途),
usage counters, idempotency records and abuse alerts.

No personal data lives here: an alert names an identity only by its blind-index reference.
"""

from __future__ import annotations

import secrets
from typing import Any, ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from tongban.core import clock


class OrganisationKind(models.TextChoices):
    MINISTRY = "ministry", "部委"
    PROVINCE = "province", "省区市"
    SYSTEM = "system", "业务系统"
    OTHER = "other", "其他"


class AppStatus(models.TextChoices):
    ACTIVE = "active", "启用"
    SUSPENDED = "suspended", "暂停"


LEVEL_CODES = ("l1", "l2", "l3")  # l3: the face call (/partner/v1/face/…, docs/partner-api.md)


def new_app_id() -> str:
    """A public, unguessable app identifier: `pa_` + 20 lowercase base32 characters."""
    alphabet = "abcdefghijklmnopqrstuvwxyz234567"
    return "pa_" + "".join(secrets.choice(alphabet) for _i in range(20))


def _validate_public_key(value: bytes) -> None:
    from tongban.crypto.errors import KeyFormatError
    from tongban.crypto.sm2 import SM2PublicKey

    try:
        SM2PublicKey.from_raw(bytes(value))
    except KeyFormatError as exc:
        raise ValidationError(_("不是有效的 SM2 公钥（65 字节 04||X||Y）。")) from exc


class PartnerOrganisation(models.Model):
    name = models.CharField("单位名称", max_length=100, unique=True)
    kind = models.CharField("类别", max_length=16, choices=OrganisationKind.choices)
    region_code = models.CharField("行政区划代码", max_length=6, blank=True,
                                   help_text=_("省区市填写 6 位行政区划代码，如 330000。"))
    created_at = models.DateTimeField("创建时间", default=clock.now)

    class Meta:
        verbose_name = "接入单位"
        verbose_name_plural = "接入单位"
        ordering: ClassVar[list[str]] = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == OrganisationKind.PROVINCE and not (len(self.region_code) == 6 and self.region_code.isdigit()):
            raise ValidationError({"region_code": "省区市须填写 6 位行政区划代码。"})


class PurposeCode(models.Model):
    """用途: why a partner asks. Every call names one, and an app may use only its own list."""

    code = models.CharField("用途代码", max_length=32, unique=True)
    name = models.CharField("用途名称", max_length=64)
    active = models.BooleanField("启用", default=True)
    # The levels a call under this purpose may ask, whatever the app may: a courier or an internet café
    # needs real-name (l1) only, a bank real-credential (l2). Empty: any level the app may ask.
    allowed_levels = models.JSONField("该用途可请求的认证等级", default=list, blank=True,
                                      help_text=_('如 ["l1"]；留空表示不限（以应用允许的等级为准）'))

    class Meta:
        verbose_name = "用途代码"
        verbose_name_plural = "用途代码"
        ordering: ClassVar[list[str]] = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class PartnerApp(models.Model):
    app_id = models.CharField("应用标识", max_length=32, unique=True, default=new_app_id, editable=False)
    organisation = models.ForeignKey(PartnerOrganisation, on_delete=models.PROTECT, related_name="apps",
                                     verbose_name="接入单位")
    name = models.CharField("应用名称", max_length=100)
    public_key = models.BinaryField("SM2 公钥", max_length=65, validators=[_validate_public_key], editable=True,
                                    help_text=_("应用的 SM2 公钥，65 字节 04||X||Y（管理端可粘贴 PEM）。"))
    allowed_levels = models.JSONField("允许的认证等级", default=list, help_text=_('如 ["l1", "l2"]'))
    purposes = models.JSONField("允许的用途代码", default=list, help_text=_('如 ["gov_service"]'))
    daily_quota = models.PositiveIntegerField("每日配额（次）", default=100_000)
    rate_per_second = models.PositiveIntegerField("每秒限流（次）", default=50)
    rate_per_minute = models.PositiveIntegerField("每分钟限流（次）", default=1_500)
    status = models.CharField("状态", max_length=16, choices=AppStatus.choices, default=AppStatus.ACTIVE)
    contacts = models.TextField("联系人", blank=True, help_text=_("联系人姓名与办公电话（工作联系方式）。"))
    created_at = models.DateTimeField("创建时间", default=clock.now)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "接入应用"
        verbose_name_plural = "接入应用"
        ordering: ClassVar[list[str]] = ["organisation__name", "name"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["organisation", "name"], name="partners_app_org_name_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.app_id}）"

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if not isinstance(self.allowed_levels, list) or not set(self.allowed_levels) <= set(LEVEL_CODES):
            errors["allowed_levels"] = f"认证等级只能是 {', '.join(LEVEL_CODES)}。"
        if not isinstance(self.purposes, list) or not all(isinstance(p, str) for p in self.purposes):
            errors["purposes"] = "用途代码须为字符串列表。"
        else:
            known = set(PurposeCode.objects.filter(code__in=self.purposes).values_list("code", flat=True))
            unknown = [p for p in self.purposes if p not in known]
            if unknown:
                errors["purposes"] = f"未知的用途代码：{', '.join(unknown)}"
        if errors:
            raise ValidationError(errors)


class UsageCounter(models.Model):
    """Calls per app, day (Asia/Shanghai), level and outcome; added to with an UPSERT (metering.py)."""

    day = models.DateField("日期")
    app_key = models.CharField("应用标识", max_length=32, help_text=_("接入应用的 app_id；平台自身渠道为 channel:<名称>"))
    organisation = models.ForeignKey(PartnerOrganisation, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name="接入单位", db_constraint=False)
    level = models.CharField("认证等级", max_length=8)
    outcome = models.CharField("结果", max_length=32)
    count = models.BigIntegerField("次数", default=0)

    class Meta:
        verbose_name = "调用计量"
        verbose_name_plural = "调用计量"
        ordering: ClassVar[list[str]] = ["-day", "app_key"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["day", "app_key", "level", "outcome"], name="partners_usage_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.app_key} {self.level} {self.outcome}: {self.count}"


class IdempotencyRecord(models.Model):
    """The signed answer given to (app, Idempotency-Key), replayed for 24 hours to the same request."""

    app = models.ForeignKey(PartnerApp, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.BinaryField()
    signature = models.CharField(max_length=128, blank=True, help_text=_("首次应答的平台签名（base64）"))
    key_id = models.CharField(max_length=32, blank=True)
    nonce = models.CharField(max_length=64, blank=True, help_text=_("首次请求的随机数（首次签名所绑定的）"))
    created_at = models.DateTimeField(default=clock.now, db_index=True)

    class Meta:
        verbose_name = "幂等记录"
        verbose_name_plural = "幂等记录"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["app", "key"], name="partners_idempotency_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.app_id}:{self.key}"


class AlertKind(models.TextChoices):
    IDENTITY_VELOCITY = "identity_velocity", "同一身份核验过于频繁"
    INCONSISTENT_RATIO = "inconsistent_ratio", "应用不一致比例过高（疑似遍历）"
    SMS_CEILING = "sms_ceiling", "短信验证码发送量达到全局上限"


class AbuseAlert(models.Model):
    kind = models.CharField("类型", max_length=32, choices=AlertKind.choices)
    app_key = models.CharField("应用标识", max_length=32, blank=True)
    subject_ref = models.CharField("身份引用（盲索引）", max_length=128, blank=True)
    window_seconds = models.PositiveIntegerField("统计窗口（秒）")
    count = models.PositiveIntegerField("次数")
    ratio = models.FloatField("比例", null=True, blank=True)
    created_at = models.DateTimeField("时间", default=clock.now, db_index=True)
    acknowledged = models.BooleanField("已处理", default=False)
    acknowledged_by = models.CharField("处理人", max_length=150, blank=True)
    acknowledged_at = models.DateTimeField("处理时间", null=True, blank=True)

    class Meta:
        verbose_name = "滥用告警"
        verbose_name_plural = "滥用告警"
        ordering: ClassVar[list[str]] = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"
