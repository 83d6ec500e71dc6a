"""Purpose codes for verifying Hong Kong and Macao residents (by their Mainland Travel Permit) in everyday
life, each with the levels it may ask (docs/partner-api.md §9): hotels, couriers, internet cafés, airlines,
rail and banks. Existing codes keep their names; their levels are set where the industry's rule is clear."""

from django.db import migrations

PURPOSES = [
    # code, name, allowed levels
    ("lodging", "旅馆住宿登记", ["l1", "l2"]),
    ("courier", "实名寄递", ["l1"]),
    ("internet_cafe", "网吧上网实名登记", ["l1"]),
    ("air_ticket", "购买机票（民航实名制）", ["l1", "l2"]),
    ("rail_ticket", "购买火车票、高铁票（铁路实名制）", ["l1", "l2"]),
    ("banking", "银行业务（开户、转账等）", ["l2"]),
    ("finance_account", "金融开户", ["l2"]),
]
NEW = {"courier", "internet_cafe", "air_ticket", "rail_ticket", "banking"}


def seed(apps, schema_editor):
    PurposeCode = apps.get_model("partners", "PurposeCode")
    for code, name, levels in PURPOSES:
        row, created = PurposeCode.objects.get_or_create(code=code, defaults={"name": name, "allowed_levels": levels})
        if not created:
            row.allowed_levels = levels
            row.save(update_fields=["allowed_levels"])


def unseed(apps, schema_editor):
    PurposeCode = apps.get_model("partners", "PurposeCode")
    PurposeCode.objects.filter(code__in=NEW).delete()
    PurposeCode.objects.filter(code__in=[c for c, _, _ in PURPOSES]).update(allowed_levels=[])


class Migration(migrations.Migration):
    dependencies = [("partners", "0005_purpose_allowed_levels")]
    operations = [migrations.RunPython(seed, unseed)]
