"""Risk rules (configuration), the alerts they raise, the automatic responses (blocks) and incidents."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from tongban.core import clock


class Severity(models.TextChoices):
    LOW = "low", _("低")
    MEDIUM = "medium", _("中")
    HIGH = "high", _("高")
    CRITICAL = "critical", _("严重")


class RuleKey(models.TextChoices):
    ACCOUNT = "account", _("按账号")
    ADDRESS = "address", _("按来源地址")
    APP = "app", _("按接入应用")
    ID_NUMBER = "id_number", _("按身份号码")
    OFFICER = "officer", _("按工作人员")
    PLATFORM = "platform", _("全平台")


class ResponseKind(models.TextChoices):
    NONE = "none", _("仅告警")
    THROTTLE = "throttle", _("限流")
    SECOND_FACTOR = "second_factor", _("要求第二因素")
    SUSPEND_APP = "suspend_app", _("暂停应用密钥")
    LOCK_ACCOUNT = "lock_account", _("锁定账号")
    HOLD_EXPORT = "hold_export", _("导出待审批")


class Rule(models.Model):
    """One rule as configuration: what it counts, over which window, keyed by what, and what it does."""

    code = models.SlugField(_("规则代码"), max_length=48, unique=True)
    name = models.CharField(_("名称"), max_length=100)
    enabled = models.BooleanField(_("启用"), default=True)
    key = models.CharField(_("计数维度"), max_length=16, choices=RuleKey.choices)
    threshold = models.FloatField(_("阈值"))
    window_seconds = models.PositiveIntegerField(_("时间窗（秒）"))
    severity = models.CharField(_("级别"), max_length=16, choices=Severity.choices)
    response = models.CharField(_("自动响应"), max_length=16, choices=ResponseKind.choices,
                                default=ResponseKind.NONE)
    response_seconds = models.PositiveIntegerField(_("响应时长（秒，0 为直至解除）"), default=0)
    params = models.JSONField(_("参数"), default=dict, blank=True)

    class Meta:
        verbose_name = _("风险规则")
        verbose_name_plural = _("风险规则")
        ordering: ClassVar[list[str]] = ["code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


class AlertStatus(models.TextChoices):
    OPEN = "open", _("待处理")
    ACKNOWLEDGED = "acknowledged", _("已处理")


class Alert(models.Model):
    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="alerts", verbose_name=_("规则"))
    key = models.CharField(_("对象"), max_length=128)  # never personal data: ids, addresses, blind references
    severity = models.CharField(_("级别"), max_length=16, choices=Severity.choices)
    evidence = models.JSONField(_("证据"), default=dict)
    status = models.CharField(_("状态"), max_length=16, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    drill = models.BooleanField(_("演练"), default=False)
    created_at = models.DateTimeField(_("时间"), default=clock.now, db_index=True)

    class Meta:
        verbose_name = _("风险告警")
        verbose_name_plural = _("风险告警")
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.rule_id}:{self.key}"


class BlockStatus(models.TextChoices):
    ACTIVE = "active", _("生效中")
    LIFTED = "lifted", _("已解除")
    EXPIRED = "expired", _("已到期")


class Block(models.Model):
    """An automatic response in force against one target (an address, an account, an app, an export)."""

    kind = models.CharField(_("响应"), max_length=16, choices=ResponseKind.choices)
    target = models.CharField(_("对象"), max_length=128, db_index=True)
    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, null=True, blank=True, related_name="blocks")
    status = models.CharField(_("状态"), max_length=16, choices=BlockStatus.choices, default=BlockStatus.ACTIVE)
    created_at = models.DateTimeField(_("时间"), default=clock.now)
    expires_at = models.DateTimeField(_("到期"), null=True, blank=True)
    lifted_at = models.DateTimeField(_("解除时间"), null=True, blank=True)
    lifted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    lift_reason = models.CharField(_("解除理由"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("自动响应")
        verbose_name_plural = _("自动响应")
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["kind", "target", "status"],
                                                              name="risk_block_lookup")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.target}"


class ExportTicketStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("已拒绝")
    USED = "used", _("已使用")


class ExportTicket(models.Model):
    """A bulk read or export above the size the rule allows: held until a security admin approves it."""

    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    export = models.CharField(_("导出内容"), max_length=64)
    rows = models.PositiveIntegerField(_("行数"))
    status = models.CharField(_("状态"), max_length=16, choices=ExportTicketStatus.choices,
                              default=ExportTicketStatus.PENDING)
    block = models.OneToOneField(Block, on_delete=models.PROTECT, null=True, blank=True, related_name="ticket")
    created_at = models.DateTimeField(_("申请时间"), default=clock.now)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    reason = models.CharField(_("审批意见"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("导出工单")
        verbose_name_plural = _("导出工单")

    def __str__(self) -> str:
        return f"{self.export}#{self.pk}"


class IncidentStatus(models.TextChoices):
    OPEN = "open", _("已发现")
    CONTAINED = "contained", _("已控制")
    RESOLVED = "resolved", _("已修复")
    REVIEWED = "reviewed", _("已复盘")


INCIDENT_FLOW = {IncidentStatus.OPEN: IncidentStatus.CONTAINED, IncidentStatus.CONTAINED: IncidentStatus.RESOLVED,
                 IncidentStatus.RESOLVED: IncidentStatus.REVIEWED}


class Incident(models.Model):
    """A security incident under the response plan (预案): open → contained → resolved → reviewed."""

    title = models.CharField(_("事件"), max_length=200)
    severity = models.CharField(_("级别"), max_length=16, choices=Severity.choices)
    status = models.CharField(_("状态"), max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.OPEN)
    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, null=True, blank=True, related_name="incidents")
    created_at = models.DateTimeField(_("发现时间"), default=clock.now)

    class Meta:
        verbose_name = _("安全事件")
        verbose_name_plural = _("安全事件")
        ordering: ClassVar[list[str]] = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class IncidentEvent(models.Model):
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="timeline")
    status = models.CharField(_("阶段"), max_length=16, choices=IncidentStatus.choices)
    note = models.CharField(_("说明"), max_length=500)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+")
    at = models.DateTimeField(_("时间"), default=clock.now)

    class Meta:
        ordering: ClassVar[list[str]] = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.incident_id}:{self.status}"


class KnownNetwork(models.Model):
    """The networks (/24, /64) a staff account has signed in from: a new one raises an alert."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    network = models.CharField(max_length=64)
    first_seen = models.DateTimeField(default=clock.now)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["user", "network"], name="risk_known_network_uniq")]

    def __str__(self) -> str:
        return self.network
