"""Data keys (wrapped by the master key, one row per purpose and version) and key rotations.

docs/keys.md describes the hierarchy, the states and the rotation procedure.
"""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.db import models
from django.db.models import Q
from django.db.models.signals import post_migrate
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

MAX_KEY_VERSION = 0xFFFF  # the version travels in two bytes inside every ciphertext and blind index


class KeyPurpose(models.TextChoices):
    FIELD_ENCRYPTION = "field_encryption", _("字段加密（SM4-GCM）")
    BLIND_INDEX = "blind_index", _("盲索引（HMAC-SM3）")
    AUDIT_SIGNING = "audit_signing", _("审计签名（SM2）")
    API_SIGNING = "api_signing", _("接口签名（SM2）")
    DOCUMENT_SIGNING = "document_signing", _("文书签章（SM2）")  # electronic results (tongban.cases.results)


# Purposes whose keys protect rows in the database: rotating them re-encrypts / re-indexes rows.
DATA_PURPOSES = (KeyPurpose.FIELD_ENCRYPTION, KeyPurpose.BLIND_INDEX)
SIGNING_PURPOSES = (KeyPurpose.AUDIT_SIGNING, KeyPurpose.API_SIGNING, KeyPurpose.DOCUMENT_SIGNING)


class KeyState(models.TextChoices):
    # Encrypts / indexes / signs everything new. Exactly one per purpose.
    CURRENT = "current", _("当前")
    # Older, still read and still searched; no rotation job is moving data off it (rotated with
    # --no-reencrypt: rows move to the current version when next saved).
    ACTIVE = "active", _("可用")
    # Older; a rotation job is moving its data to the current version. Read and searched meanwhile.
    RETIRING = "retiring", _("退役中")
    # No data is expected under it any more. Kept so that old backups stay readable; never used
    # to encrypt, and blind-index look-ups no longer search it.
    RETIRED = "retired", _("已退役")


READABLE_STATES = (KeyState.CURRENT, KeyState.ACTIVE, KeyState.RETIRING)


class DataKey(models.Model):
    """A data-encryption key, stored only wrapped (SM4-GCM under the master key)."""

    purpose = models.CharField("用途", max_length=32, choices=KeyPurpose.choices)
    version = models.PositiveIntegerField("版本")
    state = models.CharField("状态", max_length=16, choices=KeyState.choices)
    algorithm = models.CharField("算法", max_length=16)
    wrapped = models.BinaryField("封装后的密钥")
    # Which master key wrapped it (a fingerprint, not the key): re-wrapping after a master-key
    # change can tell the rows still to do.
    master_key_id = models.CharField("主密钥标识", max_length=32)
    # SM2 purposes: the public half in the clear (65 bytes, 04||X||Y), so verifiers need no secret.
    public_key = models.BinaryField("公钥", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", default=timezone.now)
    created_by = models.CharField("创建人", max_length=150, blank=True, default="")
    retired_at = models.DateTimeField("退役时间", null=True, blank=True)

    class Meta:
        verbose_name = "数据密钥"
        verbose_name_plural = "数据密钥"
        ordering = ["purpose", "-version"]
        permissions = [("administer_keys", "管理密钥（密钥管理员，与审计管理员分离）")]
        constraints = [
            models.UniqueConstraint(fields=["purpose", "version"], name="crypto_datakey_purpose_version_uniq"),
            models.UniqueConstraint(
                fields=["purpose"], condition=Q(state="current"), name="crypto_datakey_one_current_per_purpose"
            ),
            models.CheckConstraint(
                condition=Q(version__gte=1) & Q(version__lte=MAX_KEY_VERSION), name="crypto_datakey_version_range"
            ),
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in KeyState]), name="crypto_datakey_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(purpose__in=[p.value for p in KeyPurpose]), name="crypto_datakey_purpose_valid"
            ),
        ]

    def __str__(self) -> str:  # never the key material
        return f"{self.purpose} v{self.version} ({self.state})"


class RotationState(models.TextChoices):
    PENDING = "pending", _("待开始")
    RUNNING = "running", _("进行中")
    DONE = "done", _("已完成")
    FAILED = "failed", _("已失败")


class RotationPhase(models.TextChoices):
    REWRITE = "rewrite", _("重新加密")
    VERIFY = "verify", _("复查")


UNFINISHED_ROTATION_STATES = (RotationState.PENDING, RotationState.RUNNING)


class KeyRotation(models.Model):
    """One `tongban keys rotate` of a data purpose: progress of the re-encryption walk.

    The walk goes model by model in primary-key order; `cursor_model` and `cursor_pk` say where
    the last committed batch ended, so a crashed worker's successor resumes there.
    """

    purpose = models.CharField("用途", max_length=32, choices=KeyPurpose.choices)
    to_version = models.PositiveIntegerField("新版本")
    from_versions = models.JSONField("旧版本", default=list)
    state = models.CharField("状态", max_length=16, choices=RotationState.choices, default=RotationState.PENDING)
    operator = models.CharField("操作人", max_length=150, blank=True, default="")
    total_rows = models.BigIntegerField("总行数", default=0)
    done_rows = models.BigIntegerField("已处理行数", default=0)
    rewritten_rows = models.BigIntegerField("已重写行数", default=0)
    failed_rows = models.BigIntegerField("无法解密的行数", default=0)
    # rewrite: the walk that moves every row; verify: a second walk, started after every process
    # has surely seen the new version, that catches rows a process with a stale keyring wrote.
    phase = models.CharField("阶段", max_length=16, choices=RotationPhase.choices, default=RotationPhase.REWRITE)
    cursor_model = models.CharField("当前模型", max_length=200, blank=True, default="")
    cursor_pk = models.CharField("当前主键", max_length=64, blank=True, default="")
    models_done = models.JSONField("已完成模型", default=list)
    steps = models.PositiveIntegerField("任务段数", default=0)
    last_job_id = models.BigIntegerField("最近任务", null=True, blank=True)
    last_error = models.TextField("最近错误", blank=True, default="")
    created_at = models.DateTimeField("创建时间", default=timezone.now)
    started_at = models.DateTimeField("开始时间", null=True, blank=True)
    updated_at = models.DateTimeField("更新时间", default=timezone.now)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)

    class Meta:
        verbose_name = "密钥轮换"
        verbose_name_plural = "密钥轮换"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["purpose"],
                condition=Q(state__in=["pending", "running"]),
                name="crypto_keyrotation_one_unfinished_per_purpose",
            ),
            models.CheckConstraint(
                condition=Q(state__in=[s.value for s in RotationState]), name="crypto_keyrotation_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.purpose} -> v{self.to_version} ({self.state})"

    @property
    def fraction(self) -> float:
        if self.state == RotationState.DONE:
            return 1.0
        if self.total_rows <= 0:
            return 0.0
        return min(1.0, self.done_rows / self.total_rows)


def _create_missing_keys(sender: object, *, using: str = "default", **kwargs: object) -> None:
    # Every purpose gets version 1 when the platform database is migrated (and again after a test
    # flush), outside any request's transaction, so no key is ever born in one that rolls back.
    if getattr(sender, "label", None) != "crypto" or using != "default":
        return
    from tongban.crypto.keys import ensure_keys

    ensure_keys(using=using)


post_migrate.connect(_create_missing_keys, dispatch_uid="tongban.crypto.create_missing_keys")


@checks.register(checks.Tags.security)
def check_master_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """In production the master key must load (a missing key file is never created there)."""
    from django.conf import settings

    if not getattr(getattr(settings, "ENV", None), "is_production", False):
        return []
    from tongban.crypto.keys import master_key_provider

    try:
        master_key_provider()
    except Exception as exc:
        return [checks.Error(f"主密钥不可用：{exc}", hint="见 docs/keys.md：TONGBAN_MASTER_KEY_FILE 或 TONGBAN_MASTER_KEY。",
                             id="tongban.crypto.E010")]
    return []


def admin_plaintext_errors(site: Any) -> list[checks.CheckMessage]:
    """Encrypted fields named in an admin's list columns, filters or search (they would show or
    query plaintext): list screens show masked values through a method instead."""
    from django.core.exceptions import FieldDoesNotExist

    from tongban.crypto.fields import EncryptedField

    errors: list[checks.CheckMessage] = []
    for model, model_admin in site._registry.items():
        for option in ("list_display", "list_display_links", "list_filter", "search_fields", "ordering"):
            for entry in getattr(model_admin, option, None) or ():
                if not isinstance(entry, str):
                    continue
                name = entry.lstrip("-^=@").split("__")[0]
                try:
                    field = model._meta.get_field(name)
                except FieldDoesNotExist:
                    continue
                if isinstance(field, EncryptedField):
                    errors.append(checks.Error(
                        f"{model._meta.label} 的管理界面在 {option} 中使用了加密字段 {name}（会显示或检索明文）。",
                        hint="列表页请显示 masked() 的掩码值；检索请用盲索引。", obj=model_admin,
                        id="tongban.crypto.E003"))
    return errors


@checks.register(checks.Tags.admin)
def check_admin_shows_no_plaintext(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.contrib import admin

    return admin_plaintext_errors(admin.site)
