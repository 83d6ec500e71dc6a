"""Outgoing text messages, encrypted: the outbox job carries only the row's id (invariant 1)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tongban.crypto.fields import EncryptedModel, EncryptedTextField


class SmsStatus(models.TextChoices):
    QUEUED = "queued", _("待发送")
    SENT = "sent", _("已发送")
    FAILED = "failed", _("发送失败")
    EXPIRED = "expired", _("已过期未发送")  # its useful life (a code's five minutes) passed before it went out


class SmsMessage(EncryptedModel):
    phone = EncryptedTextField("手机号码", max_length=20, mask="phone")
    # Cleared once the gateway has the message: a one-time code has no business staying here.
    text = EncryptedTextField("短信内容", max_length=500, null=True, blank=True)
    purpose = models.CharField("用途", max_length=32)
    status = models.CharField("状态", max_length=16, choices=SmsStatus.choices, default=SmsStatus.QUEUED)
    gateway_message_id = models.CharField("网关消息编号", max_length=100, blank=True, default="")
    created_at = models.DateTimeField("创建时间", default=timezone.now)
    sent_at = models.DateTimeField("发送时间", null=True, blank=True)

    class Meta:
        verbose_name = "短信"
        verbose_name_plural = "短信"
        indexes = [models.Index(fields=["status", "created_at"], name="notif_sms_status_created")]


class AccountMessage(models.Model):
    """A message in the citizen's account (消息中心): the same news as the SMS, kept to read later. The text
    names the case and what happened to it, never a person's data."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="account_messages")
    title = models.CharField("标题", max_length=100)
    body = models.TextField("内容", max_length=1000)
    link = models.CharField("链接", max_length=200, blank=True)
    # What caused it (e.g. "case-event:123"): the outbox may deliver twice, the message is kept once.
    source_key = models.CharField("来源", max_length=100, unique=True)
    created_at = models.DateTimeField("时间", default=timezone.now)
    read_at = models.DateTimeField("阅读时间", null=True, blank=True)

    class Meta:
        verbose_name = "站内消息"
        verbose_name_plural = "站内消息"
        indexes = [models.Index(fields=["user", "-created_at"], name="notif_msg_user_recent")]

    def __str__(self) -> str:
        return self.title
