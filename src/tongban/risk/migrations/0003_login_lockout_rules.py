"""The login lockout's numbers as rules (issue 22: one mechanism, not two). They were the settings
TONGBAN_LOGIN_MAX_FAILURES, TONGBAN_LOGIN_FAILURE_WINDOW_SECONDS, TONGBAN_LOCKOUT_SECONDS and
TONGBAN_LOGIN_IP_MAX_FAILURES (now removed): a deployment that still sets them when it migrates gets its
values in the rows; otherwise the rows take the defaults those settings had (5, 900, 1800, 30). No app
imports here."""

import os

from django.db import migrations


def _setting(name, default):
    try:
        value = int(os.environ.get(name, "").strip() or default)
    except ValueError:
        return default
    return value if value > 0 else default


def _rows():
    window = _setting("TONGBAN_LOGIN_FAILURE_WINDOW_SECONDS", 900)
    return [
        {"code": "login_lockout", "name": "登录失败锁定：一个账号多次登录失败", "key": "account",
         "threshold": min(_setting("TONGBAN_LOGIN_MAX_FAILURES", 5), 10), "window_seconds": window,
         "severity": "medium", "response": "lock_account",
         "response_seconds": _setting("TONGBAN_LOCKOUT_SECONDS", 1800), "params": {}},
        {"code": "login_address_failures", "name": "登录失败限制：一个地址多次登录失败", "key": "address",
         "threshold": _setting("TONGBAN_LOGIN_IP_MAX_FAILURES", 30), "window_seconds": window,
         "severity": "medium", "response": "throttle", "response_seconds": 0, "params": {}},
    ]


def seed(apps, schema_editor):
    Rule = apps.get_model("risk", "Rule")
    for row in _rows():
        Rule.objects.get_or_create(code=row["code"], defaults={k: v for k, v in row.items() if k != "code"})


def unseed(apps, schema_editor):
    Rule = apps.get_model("risk", "Rule")
    Rule.objects.filter(code__in=["login_lockout", "login_address_failures"], alerts__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("risk", "0002_shipped_rules")]
    operations = [migrations.RunPython(seed, unseed)]
