"""Tables of the reference authoritative sources; each model lives in its own source's database.

`source_alias` names that database (SourceRouter reads it). There is no ForeignKey between sources:
the platform joins them only by ID-number value, in separate queries, inside the interfaces. These
are the other bureaus' databases, so values are stored in plaintext here.
"""

from __future__ import annotations

from django.db import models

from tongban.registry.interfaces import CardStatus, IssueReason, LicenceStatus, PermitStatus, PersonStatus


def _choices(enum: type) -> list[tuple[str, str]]:
    return [(member.value, member.label) for member in enum]  # type: ignore[attr-defined]


class Person(models.Model):
    """人口信息: one row per registered citizen, keyed by the 18-digit citizen ID number."""

    source_alias = "population"

    id_number = models.CharField("公民身份号码", max_length=18, primary_key=True)
    name = models.CharField("姓名", max_length=32)
    sex = models.PositiveSmallIntegerField("性别", choices=[(1, "男"), (2, "女")])  # GB/T 2261.1
    ethnicity = models.CharField("民族", max_length=2)  # GB/T 3304 code, "01" = 汉族
    birth_date = models.DateField("出生日期")
    region_code = models.CharField("户籍地行政区划代码", max_length=6)  # GB/T 2260
    address = models.CharField("户籍地址", max_length=128)
    status = models.CharField("户籍状态", max_length=10, choices=_choices(PersonStatus))

    class Meta:
        db_table = "population_person"
        verbose_name = "人口信息"

    def __str__(self) -> str:
        return f"{self.id_number[:3]}***"


class CardPhoto(models.Model):
    """证件照片: a small real face image; many cards share one (the card says which)."""

    source_alias = "idcard"

    id = models.IntegerField(primary_key=True)
    origin = models.CharField("来源", max_length=64)  # e.g. "skimage:astronaut", "skimage:lfw_subset[17]"
    image = models.BinaryField("照片 (JPEG)")
    width = models.PositiveSmallIntegerField()
    height = models.PositiveSmallIntegerField()

    class Meta:
        db_table = "idcard_photo"
        verbose_name = "证件照片"

    def __str__(self) -> str:
        return f"{self.id} {self.origin}"


class IdCard(models.Model):
    """居民身份证办理信息: every card issued to a person; the latest valid_from is the current card."""

    source_alias = "idcard"

    id = models.BigAutoField(primary_key=True)
    id_number = models.CharField("公民身份号码", max_length=18)
    name = models.CharField("姓名", max_length=32)
    issuing_authority = models.CharField("签发机关", max_length=64)
    valid_from = models.DateField("有效期起始日期")
    valid_to = models.DateField("有效期截止日期", null=True, blank=True)  # NULL = 长期
    issue_reason = models.CharField("申领原因", max_length=12, choices=_choices(IssueReason))
    status = models.CharField("证件状态", max_length=8, choices=_choices(CardStatus))
    photo_id = models.IntegerField("照片")  # CardPhoto.id (same source; no constraint, for bulk loads)

    class Meta:
        db_table = "idcard_card"
        verbose_name = "居民身份证"
        indexes = [models.Index(fields=["id_number", "valid_from"], name="idcard_card_idnum_from")]

    def __str__(self) -> str:
        return f"{self.id_number[:3]}*** {self.valid_from}"


class Vehicle(models.Model):
    """机动车登记信息, keyed by plate."""

    source_alias = "traffic"

    plate = models.CharField("号牌号码", max_length=8, primary_key=True)
    plate_type = models.CharField("号牌种类", max_length=2)  # GA 36: 02 小型汽车, 52 小型新能源汽车
    vehicle_type = models.CharField("车辆类型", max_length=3)  # GA 24.4: K33 轿车 ...
    owner_id_number = models.CharField("所有人身份号码", max_length=18)
    owner_name = models.CharField("所有人", max_length=32)
    owner_phone = models.CharField("所有人手机号", max_length=11)
    registered_on = models.DateField("初次登记日期")

    class Meta:
        db_table = "traffic_vehicle"
        verbose_name = "机动车"
        indexes = [models.Index(fields=["owner_id_number"], name="traffic_vehicle_owner")]

    def __str__(self) -> str:
        return self.plate


class DrivingLicence(models.Model):
    """机动车驾驶证; the licence number is the holder's citizen ID number."""

    source_alias = "traffic"

    licence_number = models.CharField("驾驶证号", max_length=18, primary_key=True)
    name = models.CharField("姓名", max_length=32)
    licence_class = models.CharField("准驾车型", max_length=8)
    first_issued = models.DateField("初次领证日期")
    valid_from = models.DateField("有效期起始日期")
    valid_to = models.DateField("有效期截止日期", null=True, blank=True)  # NULL = 长期
    cycle_start = models.DateField("记分周期起始日期")
    points = models.PositiveSmallIntegerField("累积记分")
    status = models.CharField("驾驶证状态", max_length=10, choices=_choices(LicenceStatus))

    class Meta:
        db_table = "traffic_licence"
        verbose_name = "驾驶证"

    def __str__(self) -> str:
        return f"{self.licence_number[:3]}*** {self.licence_class}"


class HkMacaoPermit(models.Model):
    """港澳居民来往内地通行证 (回乡证) and, when held, the 港澳居民居住证 number."""

    source_alias = "exitentry"

    permit_number = models.CharField("通行证号码", max_length=9, primary_key=True)  # H/M + 8 digits
    issue_count = models.PositiveSmallIntegerField("换证次数")  # the optional 2 trailing digits
    residence_permit_number = models.CharField("居住证号码", max_length=18, null=True, blank=True)
    region = models.CharField("地区", max_length=2, choices=[("HK", "香港"), ("MO", "澳门")])
    name_zh = models.CharField("中文姓名", max_length=32)
    name_en = models.CharField("英文姓名", max_length=64)
    sex = models.PositiveSmallIntegerField("性别", choices=[(1, "男"), (2, "女")])
    birth_date = models.DateField("出生日期")
    valid_from = models.DateField("有效期起始日期")
    valid_to = models.DateField("有效期截止日期")
    status = models.CharField("证件状态", max_length=8, choices=_choices(PermitStatus))

    class Meta:
        db_table = "exitentry_permit"
        verbose_name = "港澳居民来往内地通行证"
        indexes = [models.Index(fields=["residence_permit_number"], name="exitentry_permit_rpn")]

    def __str__(self) -> str:
        return self.permit_number[:3] + "***"


class CriminalRecord(models.Model):
    """违法犯罪记录: one row per criminal judgment against a person (the 刑事案件 judgments a certificate of no
    criminal record looks for), keyed by the person's ID number."""

    source_alias = "criminal"

    id = models.BigAutoField(primary_key=True)
    id_number = models.CharField("公民身份号码", max_length=18)
    name = models.CharField("姓名", max_length=32)
    offence = models.CharField("罪名", max_length=32)
    court = models.CharField("判决法院", max_length=64)
    judged_on = models.DateField("判决日期")
    sentence = models.CharField("刑罚", max_length=32)

    class Meta:
        db_table = "criminal_record"
        verbose_name = "违法犯罪记录"
        indexes = [models.Index(fields=["id_number", "judged_on"], name="criminal_record_idnum")]

    def __str__(self) -> str:
        return f"{self.id_number[:3]}*** {self.judged_on}"


SOURCE_MODELS: dict[str, tuple[type[models.Model], ...]] = {
    "population": (Person,),
    "idcard": (CardPhoto, IdCard),
    "traffic": (Vehicle, DrivingLicence),
    "exitentry": (HkMacaoPermit,),
    "criminal": (CriminalRecord,),
}
