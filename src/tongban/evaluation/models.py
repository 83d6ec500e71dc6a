"""Evaluations (政务服务"好差评"): a rating of a finished or refused case on the five national levels, and the
rectification loop of a bad review (差评): visit back and verify, rectify, report back, the rater rates the fix;
or appeal and review (申诉复核) to remove a mistaken or malicious one.

The free text may name people, so it is SM4-GCM encrypted (invariant 1); the rater is kept only to enforce
"one rating, one change" and to reach them for the visit back: no page an officer can open shows it.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tongban.crypto.fields import EncryptedModel, EncryptedTextField


class Level(models.IntegerChoices):
    VERY_SATISFIED = 5, _("非常满意")
    SATISFIED = 4, _("满意")
    BASIC = 3, _("基本满意")
    DISSATISFIED = 2, _("不满意")
    VERY_DISSATISFIED = 1, _("非常不满意")


BAD_LEVELS = frozenset({Level.DISSATISFIED.value, Level.VERY_DISSATISFIED.value})  # 差评

# The tags a rater may tick, per level (the national rules' indicators, in short).
TAGS: dict[int, tuple[str, ...]] = {
    5: ("办事效率高", "服务态度好", "材料一次讲清", "全程网办", "提前办结"),
    4: ("办事效率高", "服务态度好", "指引清楚", "材料较少"),
    3: ("办理时间偏长", "指引不够清楚", "材料较多"),
    2: ("办理超时", "多次跑腿", "要求额外材料", "服务态度差", "指引不清"),
    1: ("办理超时", "多次跑腿", "要求额外材料", "服务态度差", "推诿扯皮", "吃拿卡要"),
}


class Channel(models.TextChoices):
    WEB = "web", _("网站（我的办件）")
    SMS = "sms", _("短信评价链接")
    ONSITE = "onsite", _("窗口评价器（一次一评）")
    NATIONAL = "national", _("国家政务服务平台")


class Rating(EncryptedModel):
    """One rating: per case online (一事一评, `visit_ref` empty), per visit on site (一次一评)."""

    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, related_name="+")
    visit_ref = models.CharField("现场服务批次", max_length=64, blank=True, default="")
    channel = models.CharField("评价渠道", max_length=16, choices=Channel.choices)
    level = models.PositiveSmallIntegerField("评价等级", choices=Level.choices)
    tags = models.JSONField("评价标签", default=list, blank=True)
    comment = EncryptedTextField("评价内容", max_length=500, null=True, blank=True)
    # The account that rated (None: from the national platform, anonymous). Never shown to officers.
    rater = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    real_name = models.BooleanField("实名评价", default=True)
    national_id = models.CharField("国家平台评价编号", max_length=64, null=True, blank=True, unique=True)
    # Copied from the case, so statistics need no join and carry nothing personal.
    item_code = models.CharField("事项编码", max_length=64)
    item_title = models.CharField("事项名称", max_length=200)
    department = models.CharField("主管警种", max_length=32)
    region_code = models.CharField("受理地区", max_length=6)
    handler = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="+")  # who handled the case: kept out of its bad review's loop
    created_at = models.DateTimeField("评价时间", default=timezone.now)
    changed_at = models.DateTimeField("修改时间", null=True, blank=True)
    changes = models.PositiveSmallIntegerField("修改次数", default=0)
    first_level = models.PositiveSmallIntegerField("首次评价等级", choices=Level.choices)
    removed_at = models.DateTimeField("撤销时间", null=True, blank=True)  # by appeal and review

    class Meta:
        verbose_name = "评价"
        verbose_name_plural = "评价"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["case", "visit_ref"], name="evaluation_one_rating_per_case_visit"),
            models.CheckConstraint(condition=Q(level__gte=1) & Q(level__lte=5), name="evaluation_level_1_to_5"),
            models.CheckConstraint(condition=Q(changes__lte=1), name="evaluation_changed_at_most_once"),
        ]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["department", "region_code", "created_at"], name="evaluation_scope_time"),
            models.Index(fields=["item_code", "created_at"], name="evaluation_item_time"),
        ]

    @property
    def is_bad(self) -> bool:
        return self.level in BAD_LEVELS


class ReviewStatus(models.TextChoices):
    ACCEPTED = "accepted", _("已受理，待回访核实")
    RECTIFYING = "rectifying", _("已核实，整改中")
    RECTIFIED = "rectified", _("已整改，待反馈")
    FED_BACK = "fed_back", _("已反馈，待评价人评价整改")
    CLOSED = "closed", _("已办结")
    REMOVED = "removed", _("经申诉复核已撤销")
    SUPERSEDED = "superseded", _("评价人已改为非差评")


OPEN_STATUSES = (ReviewStatus.ACCEPTED, ReviewStatus.RECTIFYING, ReviewStatus.RECTIFIED, ReviewStatus.FED_BACK)


class FixLevel(models.TextChoices):
    SATISFIED = "satisfied", _("满意")
    BASIC = "basic", _("基本满意")
    DISSATISFIED = "dissatisfied", _("不满意")


class AppealStatus(models.TextChoices):
    NONE = "", _("无")
    PENDING = "pending", _("待复核")
    APPROVED = "approved", _("复核通过（差评撤销）")
    REJECTED = "rejected", _("复核未通过")


class BadReview(EncryptedModel):
    """The rectification loop of one bad review (差评整改工单)."""

    rating = models.OneToOneField(Rating, on_delete=models.PROTECT, related_name="review")
    status = models.CharField("状态", max_length=16, choices=ReviewStatus.choices, default=ReviewStatus.ACCEPTED)
    department = models.CharField("主管警种", max_length=32)
    region_code = models.CharField("受理地区", max_length=6)
    created_at = models.DateTimeField("受理时间", default=timezone.now)
    updated_at = models.DateTimeField("更新时间", default=timezone.now)
    # 回访核实: a supervisor, never the handler.
    visited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    visited_at = models.DateTimeField("回访时间", null=True, blank=True)
    visit_note = EncryptedTextField("回访核实情况", max_length=2000, null=True, blank=True)
    # 整改 within the deadline (working days).
    rectify_due_on = models.DateField("整改期限", null=True, blank=True)
    rectified_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    rectified_at = models.DateTimeField("整改完成时间", null=True, blank=True)
    rectify_note = EncryptedTextField("整改情况", max_length=2000, null=True, blank=True)
    overdue_at = models.DateTimeField("超期标记时间", null=True, blank=True)
    # 反馈 to the rater, who rates the fix.
    fed_back_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    fed_back_at = models.DateTimeField("反馈时间", null=True, blank=True)
    feedback = EncryptedTextField("反馈内容", max_length=2000, null=True, blank=True)
    fix_level = models.CharField("整改评价", max_length=16, choices=FixLevel.choices, blank=True)
    fix_rated_at = models.DateTimeField("整改评价时间", null=True, blank=True)
    closed_at = models.DateTimeField("办结时间", null=True, blank=True)
    # 申诉复核: filed by one supervisor, decided by another.
    appeal_status = models.CharField("申诉状态", max_length=16, choices=AppealStatus.choices, blank=True, default="")
    appeal_kind = models.CharField("申诉理由类型", max_length=16, blank=True)  # mistaken | malicious
    appeal_reason = EncryptedTextField("申诉理由", max_length=2000, null=True, blank=True)
    appeal_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                  related_name="+")
    appeal_at = models.DateTimeField("申诉时间", null=True, blank=True)
    appeal_decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                          blank=True, related_name="+")
    appeal_decided_at = models.DateTimeField("复核时间", null=True, blank=True)
    appeal_decision_note = EncryptedTextField("复核意见", max_length=2000, null=True, blank=True)

    class Meta:
        verbose_name = "差评整改"
        verbose_name_plural = "差评整改"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["department", "region_code", "status"], name="evaluation_review_scope"),
            models.Index(fields=["status", "rectify_due_on"], name="evaluation_review_due"),
        ]
