"""The exchange's own tables: the outgoing messages (an outbox with per-entity order), the envelope keys,
the delivery lanes, the message log of both directions, the inbound messages and reconciliation reports.

An outgoing message names its source row (a case event, a rating, …), never a copy of personal data: the
body is built from the source when it is sent (docs/exchange.md, "What is stored").
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tongban.crypto.fields import EncryptedBinaryField, EncryptedModel, EncryptedTextField


class MessageStatus(models.TextChoices):
    PENDING = "pending", _("待发送")
    RETRYING = "retrying", _("被拒待重试")
    SENT = "sent", _("已送达")
    DEAD = "dead", _("死信（不再重试）")
    DISCARDED = "discarded", _("已由运维人员放弃")


class OutMessage(models.Model):
    """One message to the national platform, written in the transaction of the change that causes it."""

    id = models.BigAutoField(primary_key=True)
    type = models.CharField("消息类型", max_length=40)
    schema_version = models.PositiveSmallIntegerField("模式版本", default=1)
    source_id = models.BigIntegerField("来源记录")
    entity = models.CharField("实体", max_length=64)  # "case:123": one entity's messages go in order
    lane = models.PositiveSmallIntegerField("通道")
    day = models.DateField("业务日期")  # the event's date in Asia/Shanghai (reconciliation)
    status = models.CharField("状态", max_length=16, choices=MessageStatus.choices, default=MessageStatus.PENDING)
    attempts = models.PositiveSmallIntegerField("被拒次数", default=0)
    next_attempt_at = models.DateTimeField("下次发送时间", default=timezone.now)
    created_at = models.DateTimeField("创建时间", default=timezone.now)
    sent_at = models.DateTimeField("送达时间", null=True, blank=True)
    batch_id = models.CharField("批次", max_length=40, blank=True)
    last_error = models.CharField("最近错误", max_length=500, blank=True)

    class Meta:
        verbose_name = "出站消息"
        verbose_name_plural = "出站消息"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["type", "source_id"], name="exchange_out_type_source")]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["lane", "id"], name="exchange_out_due",
                         condition=models.Q(status__in=["pending", "retrying"])),
            models.Index(fields=["status", "-id"], name="exchange_out_status"),
            models.Index(fields=["type", "day"], name="exchange_out_type_day"),
        ]

    def __str__(self) -> str:
        return self.idempotency_key

    @property
    def idempotency_key(self) -> str:
        return f"{self.type}:{self.source_id}"


class Lane(models.Model):
    """A delivery lane: every entity hashes to one lane, a lane is leased to one worker at a time, so one
    entity's messages leave in order however many workers run."""

    id = models.PositiveSmallIntegerField(primary_key=True)
    leased_by = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # The counterpart unreachable (not a message's fault): the whole lane waits, without using any
    # message's retry budget — an outage of an hour delays, it does not dead-letter.
    failures = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.CharField(max_length=500, blank=True)

    class Meta:
        verbose_name = "发送通道"
        verbose_name_plural = "发送通道"

    def __str__(self) -> str:
        return f"lane {self.id}"


class BackfillRun(models.Model):
    """One `tongban exchange backfill`: while it is unfinished, the live flow sends, ahead of an entity's
    live message, that entity's history the backfill has not yet had acknowledged (`done_below`: every case
    with a smaller id is acknowledged), so the national side gets each case's events in order."""

    since = models.DateField()
    until = models.DateField(null=True, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    heartbeat_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    done_below = models.BigIntegerField(default=0)  # case id: all cases below it acknowledged
    messages = models.BigIntegerField(default=0)
    outcome = models.CharField(max_length=16, default="running")  # running / done / failed / superseded

    class Meta:
        verbose_name = "补发任务"
        verbose_name_plural = "补发任务"

    def __str__(self) -> str:
        return f"backfill {self.pk} since {self.since} ({self.outcome})"


class EnvelopeKey(EncryptedModel):
    """An SM4 key agreed with the counterpart: sent SM2-encrypted to its public key (`wrapped`), kept here
    field-encrypted. Rotated (docs/exchange.md); older keys stay for reading the log."""

    key_id = models.CharField(max_length=40, unique=True)
    key = EncryptedBinaryField("密钥")
    wrapped = models.BinaryField()  # SM2(peer public key), C1C3C2
    direction = models.CharField(max_length=3, default="out")  # out: ours to them; in: theirs to us
    # Whose public key wrapped it (SM3 of the 65-byte key, first 16 bytes in hex): a new counterpart key
    # makes a new envelope key rather than sending one it cannot open.
    peer = models.CharField(max_length=32, default="")
    created_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "交换信封密钥"
        verbose_name_plural = "交换信封密钥"

    def __str__(self) -> str:
        return self.key_id


class LogDirection(models.TextChoices):
    OUT = "out", _("发出")
    IN = "in", _("收到")


class MessageLog(models.Model):
    """One batch sent or received (X-Road's message log): the body's SM3, the sender's signature, the
    receiver's signed receipt, chained by SM3 so an auditor can check nothing was removed or altered."""

    id = models.BigAutoField(primary_key=True)
    direction = models.CharField(max_length=3, choices=LogDirection.choices)
    batch_id = models.CharField(max_length=40)
    at = models.DateTimeField(default=timezone.now)
    count = models.PositiveIntegerField()
    keys_sm3 = models.CharField(max_length=64)  # SM3 over the batch's idempotency keys, one a line
    body_sm3 = models.CharField(max_length=64)
    signature = models.TextField()  # the sender's SM2 signature over the body (base64 DER)
    signer_key = models.CharField(max_length=40)  # which key: "tongban:api_signing:v1" / "national"
    receipt = models.TextField(blank=True)  # the receiver's SM2 signature over batch_id|body_sm3 (base64)
    outcome = models.CharField(max_length=16)  # accepted / partial / refused / failed
    prev_hash = models.CharField(max_length=64)
    entry_hash = models.CharField(max_length=64)

    class Meta:
        verbose_name = "交换报文日志"
        verbose_name_plural = "交换报文日志"
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["direction", "id"], name="exchange_log_dir")]

    def __str__(self) -> str:
        return f"{self.direction} {self.batch_id}"


class LogHead(models.Model):
    """The chain's head per direction, locked while an entry is appended (a batch, not a message: cheap)."""

    direction = models.CharField(max_length=3, primary_key=True)
    last_hash = models.CharField(max_length=64)
    count = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.direction}: {self.count}"


class InStatus(models.TextChoices):
    APPLIED = "applied", _("已处理")
    REJECTED = "rejected", _("已拒绝")


class InMessage(EncryptedModel):
    """A message received from the national platform, stored once per idempotency key with its outcome."""

    key = models.CharField(max_length=100, unique=True)
    type = models.CharField(max_length=40)
    batch_id = models.CharField(max_length=40)
    status = models.CharField(max_length=16, choices=InStatus.choices)
    code = models.CharField(max_length=64, blank=True)
    message = models.CharField(max_length=300, blank=True)
    result = models.JSONField(default=dict, blank=True)  # ids of what it made here (case number, rating id)
    body = EncryptedTextField("内容", null=True, blank=True)  # may carry a person's identity
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "入站消息"
        verbose_name_plural = "入站消息"

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"


class ReconciliationReport(models.Model):
    day = models.DateField()
    ran_at = models.DateTimeField(default=timezone.now)
    ok = models.BooleanField()
    lines = models.JSONField(default=list)  # per type: ours, theirs, digests, missing/extra keys (a sample)

    class Meta:
        verbose_name = "对账报告"
        verbose_name_plural = "对账报告"
        ordering = ("-ran_at",)

    def __str__(self) -> str:
        return f"{self.day} {'ok' if self.ok else 'differences'}"
