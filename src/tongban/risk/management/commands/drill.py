"""`tongban drill BASE_URL`: the attack drill (攻防演练) against a running platform; prints its report."""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext as _

from tongban.risk.drill import drill_run, partner_credentials_load, partner_credentials_make


class Command(BaseCommand):
    help = _("对运行中的平台进行攻防演练，报告触发的规则、阻断的操作及其解除。")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("base_url", nargs="?", default="",
                            help="the platform's address, e.g. http://127.0.0.1:8000")
        parser.add_argument("--partner-credentials", default=os.environ.get("TONGBAN_DRILL_PARTNER_CREDENTIALS", ""),
                            help="the partner apps the drill attacks as (JSON, from --make-partner-credentials; "
                                 "default $TONGBAN_DRILL_PARTNER_CREDENTIALS)")
        parser.add_argument("--make-partner-credentials", metavar="FILE", default="",
                            help="register the drill's own partner apps, write their keys to FILE, and stop")
        parser.add_argument("--apps", type=int, default=6, help="how many apps --make-partner-credentials makes")
        parser.add_argument("--victim", default="drill-victim",
                            help="a citizen account name the password-spraying replay targets")
        parser.add_argument("--victim-password", default="Drill-Victim-2026",
                            help="that account's password (the drill shows the block by signing in with it)")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.conf import settings

        from tongban.accounts.models import User, UserKind

        if settings.ENV.is_production:
            raise CommandError(_("演练会产生告警和临时阻断，请在演练环境运行。"))
        if options["make_partner_credentials"]:
            made = partner_credentials_make(options["make_partner_credentials"], apps=options["apps"])
            self.stdout.write(_("已登记 %(n)s 个演练接入应用，凭据写入 %(path)s") % {
                "n": len(made), "path": options["make_partner_credentials"]})
            return
        if not options["base_url"]:
            raise CommandError(_("请给出平台地址，例如 http://127.0.0.1:8000"))
        partners = partner_credentials_load(options["partner_credentials"]) if options["partner_credentials"] else []
        if not User.objects.filter(username=options["victim"]).exists():
            User.objects.create_user(options["victim"], options["victim_password"], kind=UserKind.CITIZEN)
        findings = drill_run(options["base_url"], victim=options["victim"],
                             victim_password=options["victim_password"], partners=partners)
        if options["json"]:
            self.stdout.write(json.dumps([f.__dict__ for f in findings], ensure_ascii=False, indent=1))
            return
        self.stdout.write(f"{'rule':24} {'via':8} {'fired':6} {'response':14} {'blocked':8} {'reversed':8}")
        for f in findings:
            self.stdout.write(f"{f.rule:24} {f.via:8} {_yn(f.fired):6} {f.response or '-':14} "
                              f"{_yn(f.blocked):8} {_yn(f.reversed):8} {'; '.join(f.notes)}")
        failed = [f.rule for f in findings if not f.fired or f.blocked is False or f.reversed is False]
        self.stdout.write(_("未通过：%(rules)s") % {"rules": ", ".join(failed)} if failed else _("全部规则触发，全部阻断生效且已解除。"))
        if failed:
            raise CommandError("drill: " + ", ".join(failed))


def _yn(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")
