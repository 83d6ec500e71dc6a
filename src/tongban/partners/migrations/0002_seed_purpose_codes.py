"""Seed the purpose codes (用途) every app chooses from; operators add more in the admin."""

from django.db import migrations

PURPOSES = [
    ("gov_service", "政务服务办理"),
    ("finance_account", "金融开户"),
    ("transport", "交通出行"),
    ("telecom", "电信入网"),
    ("medical", "医疗卫生"),
    ("lodging", "旅馆住宿登记"),
    ("social_security", "社会保障"),
    ("education", "教育考试"),
]


def seed(apps, schema_editor):
    PurposeCode = apps.get_model("partners", "PurposeCode")
    for code, name in PURPOSES:
        PurposeCode.objects.get_or_create(code=code, defaults={"name": name})


def unseed(apps, schema_editor):
    PurposeCode = apps.get_model("partners", "PurposeCode")
    PurposeCode.objects.filter(code__in=[code for code, _ in PURPOSES]).delete()


class Migration(migrations.Migration):
    dependencies = [("partners", "0001_partner_orgs_apps_usage_alerts")]
    operations = [migrations.RunPython(seed, unseed)]
