"""The catalog of service items (统一事项管理): organisations, basic items (基本目录), their implementations
per region and body (实施清单), and the versions of each implementation with the national data elements.

A version goes draft → submitted → published → retired. A published version never changes (services refuse
it and `ImplementationVersion.save` refuses it too); a change is a new version. No personal data lives here.
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from tongban.accounts.roles import Department
from tongban.core import clock


class OrgLevel(models.TextChoices):
    MINISTRY = "ministry", _("部级")
    PROVINCE = "province", _("省级")
    CITY = "city", _("市级")
    COUNTY = "county", _("县级")


class ItemType(models.TextChoices):
    LICENSE = "license", _("行政许可")
    CONFIRMATION = "confirmation", _("行政确认")
    PUBLIC_SERVICE = "public_service", _("公共服务")
    PENALTY = "penalty", _("行政处罚")
    COLLECTION = "collection", _("行政征收")
    REGISTRATION = "registration", _("行政登记")
    OTHER = "other", _("其他行政权力")


class ExerciseLevel(models.TextChoices):
    NATIONAL = "national", _("国家级")
    PROVINCE = "province", _("省级")
    CITY = "city", _("市级")
    COUNTY = "county", _("县级")


class CaseType(models.TextChoices):
    IMMEDIATE = "immediate", _("即办件")
    PROMISED = "promised", _("承诺件")


class OnlineDepth(models.IntegerChoices):
    """网上办理深度, the national four levels."""

    GUIDE = 1, _("一级：网上办事指南")
    DOWNLOAD = 2, _("二级：在线咨询、表格下载、预约")
    PRE_REVIEW = 3, _("三级：网上预审、窗口办结")
    FULL_ONLINE = 4, _("四级：全程网办")


class Audience(models.TextChoices):
    MAINLAND = "mainland", _("内地居民")
    HK_MACAO = "hk_macao", _("港澳居民")
    ENTERPRISE = "enterprise", _("企业")


class LifeEvent(models.TextChoices):
    BIRTH = "birth", _("出生")
    SCHOOL = "school", _("入学")
    TRAVEL = "travel", _("出行")
    DRIVING = "driving", _("驾车")
    EMPLOYMENT = "employment", _("就业")
    EXIT = "exit", _("出境")


class MaterialSource(models.TextChoices):
    APPLICANT = "applicant", _("申请人自备")
    GOVERNMENT = "government", _("政府部门核发")
    INTERMEDIARY = "intermediary", _("中介机构或其他单位出具")
    PLATFORM = "platform", _("窗口现场制作")


class VersionStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    SUBMITTED = "submitted", _("待审核")
    PUBLISHED = "published", _("已发布")
    RETIRED = "retired", _("已停用")


class AssuranceLevel(models.IntegerChoices):
    """The identity assurance an applicant needs (as tongban.verification names them)."""

    L1 = 1, _("实名（L1）")
    L2 = 2, _("实证（L2）")
    L3 = 3, _("实人（L3）")


class Organisation(models.Model):
    """A police body: the ministry, a provincial bureau, a city or county bureau, or one of their departments."""

    code = models.CharField("机构代码", max_length=32, unique=True)
    name = models.CharField("机构名称", max_length=100)
    level = models.CharField("层级", max_length=16, choices=OrgLevel.choices)
    region_code = models.CharField("行政区划代码", max_length=6, blank=True,
                                   help_text=_("部级为空；省 330000、市 330100、区县 330106。"))
    department = models.CharField("部门警种", max_length=32, choices=Department.choices, blank=True,
                                  help_text=_("机关本身为空；内设业务部门填写警种。"))
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children",
                               verbose_name="上级机构")
    phone = models.CharField("咨询电话", max_length=40, blank=True)

    class Meta:
        verbose_name = "机构"
        verbose_name_plural = "机构"
        ordering: ClassVar[list[str]] = ["region_code", "department", "code"]

    def __str__(self) -> str:
        return self.name


class BasicItem(models.Model):
    """An item of the basic catalog (基本目录), the same for every region."""

    code = models.CharField("基本编码", max_length=32, unique=True)
    name = models.CharField("事项名称", max_length=100)
    item_type = models.CharField("事项类型", max_length=32, choices=ItemType.choices)
    department = models.CharField("主管部门警种", max_length=32, choices=Department.choices)
    legal_basis = models.TextField("设定依据", blank=True)
    created_at = models.DateTimeField("创建时间", default=clock.now)

    class Meta:
        verbose_name = "基本目录事项"
        verbose_name_plural = "基本目录事项"
        ordering: ClassVar[list[str]] = ["department", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Implementation(models.Model):
    """An implementation (实施清单) of a basic item by one body in one region; its content lives in versions."""

    code = models.CharField("实施编码", max_length=48, unique=True)
    basic_item = models.ForeignKey(BasicItem, on_delete=models.PROTECT, related_name="implementations",
                                   verbose_name="基本目录事项")
    region_code = models.CharField("实施区划代码", max_length=6, db_index=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="implementations",
                                     verbose_name="实施主体")
    department = models.CharField("部门警种", max_length=32, choices=Department.choices, db_index=True)
    # The version citizens see now (None until the first publication, and again after retirement).
    published_version = models.ForeignKey("ImplementationVersion", on_delete=models.PROTECT, null=True,
                                          blank=True, related_name="+", verbose_name="现行版本")
    created_at = models.DateTimeField("创建时间", default=clock.now)
    updated_at = models.DateTimeField("更新时间", default=clock.now, db_index=True)

    class Meta:
        verbose_name = "实施清单事项"
        verbose_name_plural = "实施清单事项"
        ordering: ClassVar[list[str]] = ["region_code", "department", "code"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["basic_item", "organisation", "region_code"],
                                    name="catalog_implementation_one_per_body_and_region"),
        ]

    def __str__(self) -> str:
        return self.code


# The fields of a version that carry content (compared by the diff, copied into a new version, checked by
# validation, carried by the data files). Bookkeeping (status, who, when) is not content.
CONTENT_FIELDS: tuple[str, ...] = (
    "name", "name_tc", "summary", "summary_tc", "item_type", "exercise_level", "legal_basis",
    "statutory_limit_days", "promised_limit_days", "immediate", "case_type", "visits", "visits_reason",
    "online_depth", "postal_delivery", "charged", "fee_basis", "fee_standard_fen", "fee_items", "online_payment",
    "materials", "result_name", "result_sample", "enquiry_phone", "supervision_phone", "conditions",
    "process_steps", "locations", "audience_mainland", "audience_hk_macao", "audience_enterprise",
    "hooked_national", "high_frequency", "life_events", "keywords",
    "assurance_level", "workflow", "application_form", "enterprise_applicable",
)


class PublishedVersionChanged(RuntimeError):
    """Raised when code tries to save a published or retired version's content: make a new version."""


class ImplementationVersion(models.Model):
    implementation = models.ForeignKey(Implementation, on_delete=models.PROTECT, related_name="versions",
                                       verbose_name="实施清单事项")
    number = models.PositiveIntegerField("版本号")
    status = models.CharField("状态", max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT,
                              db_index=True)

    # -- names and classification
    name = models.CharField("事项名称", max_length=100)
    name_tc = models.CharField("事项名称（繁体）", max_length=100, blank=True)
    summary = models.TextField("事项简介", blank=True)
    summary_tc = models.TextField("事项简介（繁体）", blank=True)
    item_type = models.CharField("事项类型", max_length=32, choices=ItemType.choices)
    exercise_level = models.CharField("行使层级", max_length=16, choices=ExerciseLevel.choices)
    legal_basis = models.TextField("设定依据", blank=True)
    # -- time limits (working days; 0 means 即办 / handled on the spot)
    statutory_limit_days = models.PositiveIntegerField("法定办结时限（工作日）", default=0)
    promised_limit_days = models.PositiveIntegerField("承诺办结时限（工作日）", default=0)
    immediate = models.BooleanField("即办", default=False)
    case_type = models.CharField("办件类型", max_length=16, choices=CaseType.choices, default=CaseType.PROMISED)
    # -- visits and online handling
    visits = models.PositiveSmallIntegerField("到办事现场次数", default=0)
    visits_reason = models.CharField("必须现场办理原因", max_length=200, blank=True)
    online_depth = models.PositiveSmallIntegerField("网上办理深度", choices=OnlineDepth.choices,
                                                    default=OnlineDepth.GUIDE)
    postal_delivery = models.BooleanField("支持物流快递", default=False)
    # -- fees (money in integer fen)
    charged = models.BooleanField("是否收费", default=False)
    fee_basis = models.TextField("收费依据", blank=True)
    fee_standard_fen = models.PositiveIntegerField("收费标准（分）", null=True, blank=True)
    fee_items = models.JSONField("收费项目", default=list, blank=True,
                                 help_text=_('[{"name": "居民身份证工本费", "fen": 2000}]'))
    online_payment = models.BooleanField("支持网上支付", default=False)
    # -- materials, result, contacts
    materials = models.JSONField("申请材料", default=list, blank=True)
    result_name = models.CharField("办理结果名称", max_length=200, blank=True)
    result_sample = models.CharField("办理结果样本", max_length=200, blank=True)
    enquiry_phone = models.CharField("咨询电话", max_length=80, blank=True)
    supervision_phone = models.CharField("监督投诉电话", max_length=80, blank=True)
    # -- the guide
    conditions = models.JSONField("受理条件", default=list, blank=True)
    process_steps = models.JSONField("办理流程", default=list, blank=True)
    locations = models.JSONField("办理地点和时间", default=list, blank=True)
    # -- audiences and flags
    audience_mainland = models.BooleanField("面向内地居民", default=True)
    audience_hk_macao = models.BooleanField("面向港澳居民", default=False)
    audience_enterprise = models.BooleanField("面向企业", default=False)
    hooked_national = models.BooleanField("对接国家政务服务平台", default=False)
    high_frequency = models.BooleanField("高频事项", default=False)
    life_events = models.JSONField("人生事件", default=list, blank=True)
    keywords = models.JSONField("关键词与同义词", default=list, blank=True)
    # -- what the case engine needs
    assurance_level = models.PositiveSmallIntegerField("申请所需认证等级", choices=AssuranceLevel.choices,
                                                       default=AssuranceLevel.L1)
    workflow = models.CharField("办理流程配置", max_length=40, blank=True,
                                help_text=_("如 immediate、one_review、two_review；空表示不支持网上申请。"))
    application_form = models.JSONField("申请表单", default=dict, blank=True)
    enterprise_applicable = models.BooleanField("企业可申请", default=False)

    # -- bookkeeping
    created_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name="创建人")
    updated_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+", verbose_name="最后编辑人")
    submitted_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+", verbose_name="提交人")
    reviewed_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+", verbose_name="审核人")
    review_note = models.CharField("审核意见", max_length=500, blank=True)
    created_at = models.DateTimeField("创建时间", default=clock.now)
    updated_at = models.DateTimeField("更新时间", default=clock.now)
    submitted_at = models.DateTimeField("提交时间", null=True, blank=True)
    published_at = models.DateTimeField("发布时间", null=True, blank=True, db_index=True)
    retired_at = models.DateTimeField("停用时间", null=True, blank=True)

    class Meta:
        verbose_name = "事项版本"
        verbose_name_plural = "事项版本"
        ordering: ClassVar[list[str]] = ["implementation_id", "number"]
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["implementation", "number"], name="catalog_version_number_unique"),
            models.UniqueConstraint(fields=["implementation"], condition=Q(status=VersionStatus.PUBLISHED),
                                    name="catalog_version_one_published"),
            # Four eyes: whoever submitted or last edited a version does not approve it.
            models.CheckConstraint(condition=Q(reviewed_by__isnull=True)
                                   | (~Q(reviewed_by=F("submitted_by")) & ~Q(reviewed_by=F("updated_by"))
                                      & ~Q(reviewed_by=F("created_by"))),
                                   name="catalog_version_reviewer_not_editor",
                                   violation_error_message="审核人不得为该版本的编辑人或提交人（双人复核）"),
            models.CheckConstraint(condition=Q(promised_limit_days__lte=F("statutory_limit_days")),
                                   name="catalog_version_promised_within_statutory",
                                   violation_error_message="承诺办结时限不得超过法定办结时限"),
        ]

    def __str__(self) -> str:
        return f"{self.implementation_id} v{self.number}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The last line of defence for invariant "a published version never changes": a published or retired
        # row may only have its bookkeeping columns written (status, retirement), never its content.
        if self.pk is not None and not kwargs.get("force_insert"):
            fields = kwargs.get("update_fields")
            touched = set(CONTENT_FIELDS) if fields is None else set(fields) & set(CONTENT_FIELDS)
            if touched:
                stored = type(self).objects.filter(pk=self.pk).values_list("status", flat=True).first()
                if stored in (VersionStatus.PUBLISHED, VersionStatus.RETIRED):
                    raise PublishedVersionChanged(f"version {self.pk} is {stored}: make a new version")
        super().save(*args, **kwargs)

    @property
    def is_editable(self) -> bool:
        return self.status == VersionStatus.DRAFT

    @property
    def audiences(self) -> list[str]:
        return [a for a, flag in ((Audience.MAINLAND, self.audience_mainland),
                                  (Audience.HK_MACAO, self.audience_hk_macao),
                                  (Audience.ENTERPRISE, self.audience_enterprise)) if flag]

    @property
    def applicable_online(self) -> bool:
        return bool(self.workflow) and bool(self.application_form) and self.online_depth >= OnlineDepth.PRE_REVIEW

    def content(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONTENT_FIELDS}


class ChangeKind(models.TextChoices):
    PUBLISHED = "published", _("发布")
    RETIRED = "retired", _("停用")


class CatalogChange(models.Model):
    """The feed local platforms sync from: one row per publication or retirement, numbered by `seq`.

    `seq` is handed out under a lock on the single `CatalogSequence` row, held to the end of the
    transaction, so sequence order is commit order: a reader paging `seq > cursor` never skips a change
    that commits later with a smaller number (an autoincrement id does not promise that on PostgreSQL).
    """

    seq = models.BigIntegerField("变更序号", unique=True)
    implementation = models.ForeignKey(Implementation, on_delete=models.PROTECT, related_name="changes",
                                       verbose_name="实施清单事项")
    version = models.ForeignKey(ImplementationVersion, on_delete=models.PROTECT, related_name="+",
                                verbose_name="版本")
    kind = models.CharField("变更类型", max_length=16, choices=ChangeKind.choices)
    occurred_at = models.DateTimeField("变更时间", default=clock.now)

    class Meta:
        verbose_name = "事项变更"
        verbose_name_plural = "事项变更"
        ordering: ClassVar[list[str]] = ["seq"]

    def __str__(self) -> str:
        return f"{self.seq} {self.kind} {self.implementation_id}"


class CatalogSequence(models.Model):
    """One row: the last `CatalogChange.seq` handed out."""

    last = models.BigIntegerField("最后序号", default=0)

    class Meta:
        verbose_name = "事项变更序号"
        verbose_name_plural = "事项变更序号"

    def __str__(self) -> str:
        return str(self.last)
