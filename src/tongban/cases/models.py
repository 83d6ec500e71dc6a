"""Cases (办件): an application made under one published version of a catalog item, carried through its
workflow to a result in the applicant's hands. Personal data — the form's answers, the delivery
address, attachments, the electronic result — is SM4-GCM encrypted per field (invariant 1).
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tongban.crypto.fields import EncryptedBinaryField, EncryptedModel, EncryptedTextField


class ApplicantKind(models.TextChoices):
    CITIZEN = "citizen", _("个人")
    ENTERPRISE = "enterprise", _("企业")


class DeliveryMethod(models.TextChoices):
    PICKUP = "pickup", _("窗口领取")
    POST = "post", _("邮政寄递（EMS）")
    ELECTRONIC = "electronic", _("电子证照/电子结果")


class ActorKind(models.TextChoices):
    APPLICANT = "applicant", _("申请人")
    OFFICER = "officer", _("民警")
    SYSTEM = "system", _("系统")


class Case(EncryptedModel):
    # Assigned when the application is submitted (a draft has none): see tongban.cases.numbers.
    number = models.CharField("受理编号", max_length=18, unique=True, null=True, blank=True)
    # The catalog item and the version it was made under; the snapshot keeps what the case needs of that
    # version (title, limits, workflow, materials, form) even after the item changes.
    item_code = models.CharField("事项编码", max_length=64)
    item_version_id = models.BigIntegerField("事项版本", null=True, blank=True)
    item_title = models.CharField("事项名称", max_length=200)
    item_snapshot = models.JSONField("事项版本快照", default=dict)
    department = models.CharField("主管警种", max_length=32)
    region_code = models.CharField("受理地区", max_length=6)
    workflow = models.CharField("流程", max_length=32, default="two_review")
    state = models.CharField("状态", max_length=32, default="draft")
    # Bumped by every change: an officer's action names the version they saw, so of two officers acting
    # at once one wins and the other is told the case changed (with the row lock, see services).
    version = models.PositiveIntegerField("版本", default=0)

    applicant_kind = models.CharField("申请人类型", max_length=16, choices=ApplicantKind.choices,
                                      default=ApplicantKind.CITIZEN)
    # The citizen who applies (for an enterprise: the agent or representative who made the application).
    applicant = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="cases")
    enterprise = models.ForeignKey("accounts.Enterprise", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="cases")
    form_data = EncryptedTextField("申请表内容", null=True, blank=True)  # JSON of the answers
    prefilled = models.JSONField("平台已获取的字段", default=list, blank=True)  # names only, no values
    delivery_method = models.CharField("送达方式", max_length=16, choices=DeliveryMethod.choices, blank=True)
    pickup_station = models.CharField("领取地点", max_length=100, blank=True)
    delivery_recipient = EncryptedTextField("收件人", max_length=100, mask="name", null=True, blank=True)
    delivery_phone = EncryptedTextField("收件人电话", max_length=20, mask="phone", null=True, blank=True)
    delivery_address = EncryptedTextField("收件地址", max_length=300, mask="address", null=True, blank=True)

    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="assigned_cases")
    corrections_used = models.PositiveSmallIntegerField("补正次数", default=0)
    correction_items = models.JSONField("补正内容", default=list, blank=True)  # exactly what is missing
    decision_reason = models.TextField("决定理由（法律依据）", blank=True)

    # The promised deadline (tongban.cases.deadlines): limit, start, suspensions, end.
    limit_days = models.PositiveSmallIntegerField("承诺时限（工作日）", default=0)
    clock_started_on = models.DateField("计时起始日", null=True, blank=True)
    suspended_days = models.PositiveSmallIntegerField("已暂停工作日", default=0)
    suspended_since = models.DateField("暂停起始日", null=True, blank=True)
    due_on = models.DateField("承诺办结日", null=True, blank=True)  # kept current for the inbox's filters
    finished_on = models.DateField("办结日", null=True, blank=True)
    state_entered_at = models.DateTimeField("进入当前状态时间", default=timezone.now)
    state_due_on = models.DateField("当前环节时限", null=True, blank=True)

    created_at = models.DateTimeField("创建时间", default=timezone.now)
    updated_at = models.DateTimeField("更新时间", default=timezone.now)
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    accepted_at = models.DateTimeField("受理时间", null=True, blank=True)
    decided_at = models.DateTimeField("决定时间", null=True, blank=True)
    closed_at = models.DateTimeField("结束时间", null=True, blank=True)

    class Meta:
        verbose_name = "办件"
        verbose_name_plural = "办件"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["department", "region_code", "state", "-submitted_at"], name="cases_inbox"),
            # The inbox's newest-first page without a state filter: walked in order, the region checked on the
            # way (bench/cases.py: 280 ms of heap reads to 0.1 ms on a million cases).
            models.Index(fields=["department", "-submitted_at", "-id"], name="cases_department_recent"),
            # The same page filtered by state (待受理, 审核…): 128 ms to 18 ms, cold, on a loaded machine.
            models.Index(fields=["department", "state", "-submitted_at", "-id"], name="cases_department_state_recent"),
            models.Index(fields=["applicant", "-created_at"], name="cases_applicant_recent"),
            models.Index(fields=["enterprise", "-created_at"], name="cases_enterprise_recent"),
            models.Index(fields=["item_code", "state"], name="cases_item_state"),
            models.Index(fields=["state", "due_on"], name="cases_state_due"),
        ]

    @property
    def data(self) -> dict[str, Any]:
        """The form's answers (decrypted)."""
        if not self.form_data:
            return {}
        value = json.loads(self.form_data)
        return value if isinstance(value, dict) else {}

    @data.setter
    def data(self, value: dict[str, Any]) -> None:
        self.form_data = json.dumps(value, ensure_ascii=False, sort_keys=True)

    @property
    def display_number(self) -> str:
        from tongban.cases.numbers import display

        return display(self.number) if self.number else "（未提交）"


class CaseNumberCounter(models.Model):
    """The last sequence used for one region and day (locked for each increment)."""

    region_code = models.CharField(max_length=6)
    day = models.DateField()
    last = models.PositiveIntegerField(default=0)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["region_code", "day"], name="cases_counter_region_day")]

    def __str__(self) -> str:
        return f"{self.region_code} {self.day}: {self.last}"


class CaseEvent(EncryptedModel):
    """One line of the case's timeline: a transition, a comment, an assignment, a delivery event."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=16, default="transition")  # transition | comment | assign | delivery
    action = models.CharField(max_length=40, blank=True)
    label = models.CharField(max_length=100)
    from_state = models.CharField(max_length=32, blank=True)
    to_state = models.CharField(max_length=32, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    note = EncryptedTextField("说明", max_length=2000, null=True, blank=True)  # may name people: encrypted
    details = models.JSONField(default=dict, blank=True)  # non-personal: missing items, reason codes, waybill
    visible_to_applicant = models.BooleanField(default=True)

    class Meta:
        ordering = ("created_at", "id")
        indexes: ClassVar[list[models.Index]] = [models.Index(fields=["case", "created_at"], name="cases_event_case")]


class AttachmentSource(models.TextChoices):
    UPLOADED = "uploaded", _("申请人上传")
    PLATFORM = "platform", _("平台获取（免提交）")
    RESULT = "result", _("办理结果")


class CaseAttachment(EncryptedModel):
    """A material: its bytes SM4-GCM encrypted, its type judged from the content, its SM3 kept."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    material_code = models.CharField(max_length=64)
    material_name = models.CharField(max_length=200)
    source = models.CharField(max_length=16, choices=AttachmentSource.choices, default=AttachmentSource.UPLOADED)
    content_type = models.CharField(max_length=64)
    size = models.PositiveIntegerField()
    sm3 = models.CharField(max_length=64)
    content = EncryptedBinaryField("内容")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    superseded_at = models.DateTimeField(null=True, blank=True)  # replaced by a newer upload (补正)

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["case", "material_code"], name="cases_attachment_material")]


class ParcelStatus(models.TextChoices):
    PENDING = "pending", _("待下单")
    ORDERED = "ordered", _("已下单")
    COLLECTED = "collected", _("已揽收")
    IN_TRANSIT = "in_transit", _("运输中")
    OUT_FOR_DELIVERY = "out_for_delivery", _("派送中")
    SIGNED = "signed", _("已签收")
    DELAYED = "delayed", _("延误")
    LOST = "lost", _("丢失")


class ParcelDirection(models.TextChoices):
    OUTBOUND = "outbound", _("寄给申请人")  # the result (and originals) back to the applicant
    INBOUND = "inbound", _("申请人寄来原件")  # two-way post: the applicant's originals to the office


class Parcel(models.Model):
    """A postal delivery through the courier (EMS): the result to the applicant, and with two-way post
    (邮政双向速递) the applicant's originals to the office first — at most one of each per case."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="parcels")
    direction = models.CharField(max_length=8, choices=ParcelDirection.choices, default=ParcelDirection.OUTBOUND)
    order_id = models.CharField(max_length=64, unique=True)  # ours, the courier's idempotency key
    waybill = models.CharField(max_length=32, unique=True, null=True, blank=True)
    status = models.CharField(max_length=20, choices=ParcelStatus.choices, default=ParcelStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    signed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["case", "direction"], name="cases_parcel_one_per_direction")]

    def __str__(self) -> str:
        return f"{self.waybill or self.order_id} ({self.status})"


class TrackingEvent(models.Model):
    parcel = models.ForeignKey(Parcel, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=64, unique=True)  # the courier's: a repeated push is stored once
    status = models.CharField(max_length=20, choices=ParcelStatus.choices)
    description = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("occurred_at", "id")

    def __str__(self) -> str:
        return f"{self.event_id} {self.status}"


class ElectronicResult(EncryptedModel):
    """The electronic result (a PDF) signed by the platform with SM2 over its SM3; verifiable online by the
    case number and a check code (the QR code on the document leads there)."""

    case = models.OneToOneField(Case, on_delete=models.CASCADE, related_name="result")
    check_code = models.CharField(max_length=12)
    pdf = EncryptedBinaryField("文件")  # carries the applicant's name
    sm3 = models.CharField(max_length=64)
    signature = models.BinaryField()  # DER, SM2 with the GM/T 0009 default ID
    key_version = models.PositiveIntegerField()
    issued_at = models.DateTimeField(default=timezone.now)
    font_embedded = models.BooleanField(default=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
