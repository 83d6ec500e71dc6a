"""The audit log's tables. All four are append-only: the database refuses UPDATE and DELETE
(see guard.py and migration 0002), except the retention purge of rows older than 180 days.

How the rows prove their integrity is in docs/audit.md; in short:

* every writer (one per thread of each process) appends to its own `AuditChain`;
* each `AuditEntry` carries hash = SM3(prev_hash ‖ canonical(entry)), seq counting 1, 2, 3 … per chain;
* each `AuditCheckpoint` lists the head (seq, hash) of every open chain, is signed with SM2, and links
  to the previous checkpoint, so checkpoints chain too.
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _

from tongban.audit.actions import ActorType, Outcome, action_label


class AuditChain(models.Model):
    """One writer's chain. Its genesis hash is the prev_hash of its entry 1; its SM2 signature shows
    that the platform (which holds the audit signing key), not someone with only database access,
    opened it. `anchor_*` links it to the global checkpoint that was latest when it opened."""

    id = models.CharField("链标识", max_length=32, primary_key=True)
    opened_at = models.DateTimeField("开启时间")
    label = models.CharField("写入者", max_length=200, help_text=_("主机:进程:线程，不含个人信息"))
    anchor_seq = models.BigIntegerField("锚定检查点序号")
    anchor_hash = models.CharField("锚定检查点摘要", max_length=64)
    genesis_hash = models.CharField("起始摘要", max_length=64)
    key_id = models.CharField("签名密钥标识", max_length=64)
    signature = models.TextField("SM2 签名")

    class Meta:
        verbose_name = "审计链"
        verbose_name_plural = "审计链"
        ordering: ClassVar[list[str]] = ["opened_at"]

    def __str__(self) -> str:
        return self.id


class AuditChainClosure(models.Model):
    """Which checkpoint closed a chain, so the next checkpoint need not list it. Only an index for
    the checkpointer: verification trusts the signed checkpoint bodies, not this table."""

    chain_id = models.CharField("链标识", max_length=32, unique=True)
    checkpoint_seq = models.BigIntegerField("关闭于检查点")
    closed_at = models.DateTimeField("关闭时间")
    reason = models.CharField("原因", max_length=32)

    class Meta:
        verbose_name = "审计链关闭记录"
        verbose_name_plural = "审计链关闭记录"

    def __str__(self) -> str:
        return f"{self.chain_id} @ {self.checkpoint_seq}"


class AuditEntry(models.Model):
    id = models.BigAutoField(primary_key=True)
    occurred_at = models.DateTimeField("时间")
    actor_type = models.CharField("操作者类型", max_length=16, choices=ActorType.choices)
    actor_id = models.CharField("操作者", max_length=128, blank=True)
    # No database-level choices: apps add actions in actions.py without a migration.
    action = models.CharField("事件", max_length=64)
    subject_type = models.CharField("对象类型", max_length=64, blank=True)
    subject_id = models.CharField("对象", max_length=128, blank=True)
    outcome = models.CharField("结果", max_length=16, choices=Outcome.choices)
    client_ip = models.CharField("来源地址", max_length=45, blank=True)
    request_id = models.CharField("请求标识", max_length=64, blank=True)
    details = models.JSONField("详情（已脱敏）", default=dict, blank=True)
    chain_id = models.CharField("链标识", max_length=32)
    seq = models.BigIntegerField("链内序号")
    prev_hash = models.CharField("前一摘要", max_length=64)
    hash = models.CharField("摘要 SM3", max_length=64)

    class Meta:
        verbose_name = "审计记录"
        verbose_name_plural = "审计记录"
        ordering: ClassVar[list[str]] = ["-occurred_at", "-id"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["chain_id", "seq"], name="audit_entry_chain_seq_uniq"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["occurred_at"], name="audit_entry_occurred"),
            models.Index(fields=["subject_type", "subject_id"], name="audit_entry_subject"),
            models.Index(fields=["actor_type", "actor_id"], name="audit_entry_actor"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.action} {self.outcome}"

    @property
    def action_label(self) -> str:
        return action_label(self.action)


class CheckpointKind(models.TextChoices):
    SEAL = "seal", "定期封存"
    PURGE = "purge", "保留期清理"


class AuditCheckpoint(models.Model):
    """A signed statement of every open chain's head. `body` is the exact canonical JSON that was
    signed (the columns beside it are copies for querying); hash = SM3(body ‖ signature) and the next
    checkpoint's prev_hash is this hash."""

    id = models.BigAutoField(primary_key=True)
    seq = models.BigIntegerField("序号", unique=True)
    kind = models.CharField("类型", max_length=16, choices=CheckpointKind.choices)
    created_at = models.DateTimeField("时间")
    body = models.TextField("签名内容")
    prev_hash = models.CharField("前一检查点摘要", max_length=64)
    hash = models.CharField("摘要", max_length=64)
    key_id = models.CharField("签名密钥标识", max_length=64)
    signature = models.TextField("SM2 签名")

    class Meta:
        verbose_name = "审计检查点"
        verbose_name_plural = "审计检查点"
        ordering: ClassVar[list[str]] = ["-seq"]
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["created_at"], name="audit_ckpt_created")]

    def __str__(self) -> str:
        return f"检查点 #{self.seq}"
