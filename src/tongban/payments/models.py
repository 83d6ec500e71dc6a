"""Payable documents (缴款通知书, 处罚决定书), payment attempts, gateway notifications, receipts, refunds and
the daily reconciliation. Money is an integer number of fen everywhere (invariant 5); the payer's name and
ID number are SM4-GCM encrypted (invariant 1).
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tongban.crypto.fields import EncryptedBinaryField, EncryptedModel, EncryptedTextField


class DocumentKind(models.TextChoices):
    NOTICE = "notice", _("缴款通知书")
    DECISION = "decision", _("处罚决定书")


class DocumentStatus(models.TextChoices):
    UNPAID = "unpaid", _("待缴款")
    PAID = "paid", _("已缴款")
    CANCELLED = "cancelled", _("已作废")


class PayerKind(models.TextChoices):
    PERSON = "person", _("个人")
    ENTERPRISE = "enterprise", _("单位")


class PayableDocument(EncryptedModel):
    """A notice or decision someone must pay: who, for what, how much (fen), by when."""

    kind = models.CharField("文书类型", max_length=16, choices=DocumentKind.choices)
    number = models.CharField("缴款码/决定书编号", max_length=32, unique=True)
    category = models.CharField("缴款类别", max_length=32)
    payee_unit = models.CharField("执收单位", max_length=100)
    payee_unit_code = models.CharField("执收单位编码", max_length=32, blank=True)
    region_code = models.CharField("辖区", max_length=6)
    payer_kind = models.CharField("缴款人类型", max_length=16, choices=PayerKind.choices, default=PayerKind.PERSON)
    payer_name = EncryptedTextField("缴款人", max_length=100, mask="name", null=True, blank=True)
    payer_id_number = EncryptedTextField("缴款人证件号码", max_length=32, mask="id_number", null=True, blank=True)
    payer_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="payable_documents")
    # [{"code", "name", "fen", "quantity"}]: the amount due is their sum (a fine: one item, the fine).
    items = models.JSONField("缴款项目", default=list)
    amount_fen = models.PositiveBigIntegerField("应缴金额（分）")
    due_on = models.DateField("缴款期限", null=True, blank=True)  # a notice
    served_on = models.DateField("送达日期", null=True, blank=True)  # a decision: the late fee counts from here
    case_id = models.BigIntegerField("关联办件", null=True, blank=True, db_index=True)
    status = models.CharField("状态", max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.UNPAID)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    issued_by_system = models.CharField("签发系统", max_length=64, blank=True)
    created_at = models.DateTimeField("签发时间", default=timezone.now)
    paid_at = models.DateTimeField("缴款时间", null=True, blank=True)

    class Meta:
        verbose_name = "缴款文书"
        verbose_name_plural = "缴款文书"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payments_document_amount_positive"),
        ]


class PaymentStatus(models.TextChoices):
    CREATED = "created", _("已创建")
    STARTED = "started", _("支付中")
    SUCCESS = "success", _("支付成功")
    FAILED = "failed", _("支付失败")
    CANCELLED = "cancelled", _("已取消")
    EXPIRED = "expired", _("已过期")


FINAL_STATUSES = frozenset({PaymentStatus.SUCCESS, PaymentStatus.FAILED, PaymentStatus.CANCELLED,
                            PaymentStatus.EXPIRED})


class Payment(models.Model):
    """One attempt to pay a document. Many attempts may exist; at most one succeeds (a partial unique
    index: the database, not only the code, refuses a second success)."""

    id = models.BigAutoField(primary_key=True)
    document = models.ForeignKey(PayableDocument, on_delete=models.PROTECT, related_name="payments")
    status = models.CharField("状态", max_length=16, choices=PaymentStatus.choices, default=PaymentStatus.CREATED)
    principal_fen = models.PositiveBigIntegerField("应缴金额（分）")
    surcharge_fen = models.PositiveBigIntegerField("加处罚款（分）", default=0)
    total_fen = models.PositiveBigIntegerField("合计（分）")
    order_id = models.CharField("商户订单号", max_length=32, unique=True)
    gateway_ref = models.CharField("支付平台流水号", max_length=64, blank=True, db_index=True)
    channel = models.CharField("方式", max_length=16, default="redirect")  # redirect | qr
    pay_url = models.CharField("收银台地址", max_length=300, blank=True)
    idempotency_key = models.CharField("幂等键", max_length=128, null=True, blank=True)
    request_hash = models.CharField("请求摘要", max_length=64, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="+")
    failure = models.CharField("失败原因", max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField("支付平台记录的支付时间", null=True, blank=True)

    class Meta:
        verbose_name = "缴款记录"
        verbose_name_plural = "缴款记录"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["document"], condition=Q(status="success"),
                                    name="payments_one_success_per_document"),
            models.UniqueConstraint(fields=["idempotency_key"], condition=Q(idempotency_key__isnull=False),
                                    name="payments_idempotency_key_unique"),
            models.CheckConstraint(condition=Q(total_fen=models.F("principal_fen") + models.F("surcharge_fen")),
                                   name="payments_total_is_sum"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["status", "expires_at"], name="payments_open_expiry"),
            models.Index(fields=["status", "paid_at"], name="payments_paid_day"),
        ]

    def __str__(self) -> str:
        return f"缴款 {self.order_id}"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class GatewayNotification(models.Model):
    """Each asynchronous notification the gateway sent, once (its id is unique): the record that makes a
    notification sent twice, late or out of order harmless."""

    id = models.BigAutoField(primary_key=True)
    notify_id = models.CharField(max_length=64, unique=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="notifications")
    order_id = models.CharField(max_length=32)
    status = models.CharField(max_length=16)
    amount_fen = models.BigIntegerField()
    outcome = models.CharField(max_length=32)  # applied | ignored_final | unknown_order | amount_mismatch | ...
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "支付结果通知"
        verbose_name_plural = "支付结果通知"

    def __str__(self) -> str:
        return f"通知 {self.notify_id}"


class Receipt(EncryptedModel):
    """The electronic non-tax receipt (财政电子票据): a PDF signed with SM2 over its SM3."""

    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="receipt")
    code = models.CharField("票据代码", max_length=16)
    number = models.CharField("票号", max_length=16)
    check_code = models.CharField("校验码", max_length=8)
    total_fen = models.PositiveBigIntegerField("合计（分）")
    pdf = EncryptedBinaryField("文件")  # carries the payer's name
    sm3 = models.CharField(max_length=64)
    signature = models.BinaryField()
    key_version = models.PositiveIntegerField()
    font_embedded = models.BooleanField(default=True)
    issued_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "非税收入电子票据"
        verbose_name_plural = "非税收入电子票据"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["code", "number"], name="payments_receipt_number_unique"),
        ]


class RefundStatus(models.TextChoices):
    REQUESTED = "requested", _("待审批")
    APPROVED = "approved", _("已批准，退款中")
    REJECTED = "rejected", _("已驳回")
    SUCCEEDED = "succeeded", _("退款成功")
    FAILED = "failed", _("退款失败")


class Refund(models.Model):
    id = models.BigAutoField(primary_key=True)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    refund_id = models.CharField("退款单号", max_length=32, unique=True)
    amount_fen = models.PositiveBigIntegerField("退款金额（分）")
    reason = models.CharField("退款原因", max_length=200)
    status = models.CharField("状态", max_length=16, choices=RefundStatus.choices, default=RefundStatus.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    requested_by_system = models.CharField(max_length=64, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    gateway_ref = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "退款"
        verbose_name_plural = "退款"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="payments_refund_amount_positive"),
            models.CheckConstraint(condition=Q(decided_by__isnull=True) | ~Q(decided_by=models.F("requested_by")),
                                   name="payments_refund_four_eyes"),
        ]

    def __str__(self) -> str:
        return f"退款 {self.refund_id}"


class Reconciliation(models.Model):
    """One day's comparison of our successful payments with the gateway's settlement file."""

    id = models.BigAutoField(primary_key=True)
    day = models.DateField("对账日期", unique=True)
    file_sm3 = models.CharField(max_length=64)
    ours = models.PositiveIntegerField("本平台笔数")
    theirs = models.PositiveIntegerField("对账文件笔数")
    ours_fen = models.PositiveBigIntegerField("本平台金额（分）")
    theirs_fen = models.PositiveBigIntegerField("对账文件金额（分）")
    differences = models.PositiveIntegerField("差异笔数")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "对账"
        verbose_name_plural = "对账"

    def __str__(self) -> str:
        return f"对账 {self.day}"


class DifferenceKind(models.TextChoices):
    MISSING = "missing", _("平台有、对账文件无（长款待查）")
    EXTRA = "extra", _("对账文件有、平台无（短款待查）")
    AMOUNT = "amount", _("金额不符")


class ReconciliationDifference(models.Model):
    id = models.BigAutoField(primary_key=True)
    reconciliation = models.ForeignKey(Reconciliation, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=16, choices=DifferenceKind.choices)
    order_id = models.CharField(max_length=32)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    ours_fen = models.BigIntegerField(null=True, blank=True)
    theirs_fen = models.BigIntegerField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        verbose_name = "对账差异"
        verbose_name_plural = "对账差异"

    def __str__(self) -> str:
        return f"差异 {self.kind} {self.order_id}"


class NumberCounter(models.Model):
    """The last sequence used for one kind of number in one scope (region and day), locked to increment."""

    kind = models.CharField(max_length=16)
    scope = models.CharField(max_length=32)
    last = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["kind", "scope"], name="payments_counter_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.scope}"

