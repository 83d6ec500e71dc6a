"""`tongban partners create-app|list|suspend|resume|purge|flush`: partner apps from the command line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tongban.audit.services import Actor
from tongban.core.errors import TongbanError
from tongban.partners import metering, services
from tongban.partners.models import AppStatus, OrganisationKind, PartnerApp


class Command(BaseCommand):
    help = "接入单位与应用：登记应用（可生成演示密钥）、列出、暂停、恢复；清理幂等记录；写入计量。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create-app", help="登记接入应用；不给 --public-key 时生成密钥对并只打印一次私钥。")
        create.add_argument("--org", required=True, help="接入单位名称（不存在则创建）")
        create.add_argument("--org-kind", default="system", choices=OrganisationKind.values)
        create.add_argument("--region", default="", help="省区市的 6 位行政区划代码")
        create.add_argument("--name", required=True, help="应用名称")
        create.add_argument("--purposes", required=True, help="用途代码，逗号分隔，如 gov_service,transport")
        create.add_argument("--levels", default="l1,l2", help="允许的认证等级，逗号分隔")
        create.add_argument("--public-key", default=None, help="应用的 SM2 公钥：PEM 文件路径或 130 位十六进制")
        create.add_argument("--daily-quota", type=int, default=100_000,
                            help="每日配额：每天（北京时间）可核验的人数，默认 100000")
        create.add_argument("--rate-per-second", type=int, default=50, help="每秒请求数上限（滑动窗口），默认 50")
        create.add_argument("--rate-per-minute", type=int, default=1_500, help="每分钟请求数上限（滑动窗口），默认 1500")
        sub.add_parser("list", help="列出接入应用")
        for name in ("suspend", "resume"):
            p = sub.add_parser(name, help="暂停应用" if name == "suspend" else "恢复应用")
            p.add_argument("app_id")
        sub.add_parser("purge", help="删除超过 24 小时的幂等记录")
        sub.add_parser("flush", help="把本进程缓冲的计量写入数据库")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        actor = Actor.cli()
        try:
            if action == "create-app":
                self._create(options, actor)
            elif action == "list":
                for app in PartnerApp.objects.select_related("organisation").order_by("id"):
                    self.stdout.write(f"{app.app_id}\t{app.status}\t{app.organisation.name}\t{app.name}\t"
                                      f"{','.join(app.allowed_levels)}\t{','.join(app.purposes)}")
            elif action in ("suspend", "resume"):
                found = PartnerApp.objects.filter(app_id=options["app_id"]).first()
                if found is None:
                    raise CommandError(f"没有应用 {options['app_id']}")
                status = AppStatus.SUSPENDED if action == "suspend" else AppStatus.ACTIVE
                services.partner_app_set_status(app=found, status=status, actor=actor)
                self.stdout.write(f"{found.app_id}: {status}")
            elif action == "purge":
                self.stdout.write(f"已删除 {services.idempotency_purge()} 条幂等记录")
            elif action == "flush":
                self.stdout.write(f"已写入 {metering.flush()} 个计量计数")
        except TongbanError as exc:
            raise CommandError(f"{exc.code}: {exc.message('zh')} {exc.details or ''}") from exc

    def _create(self, options: dict[str, Any], actor: Actor) -> None:
        public_key: str | None = options["public_key"]
        if public_key and not all(c in "0123456789abcdefABCDEF" for c in public_key.strip()):
            with open(public_key, encoding="ascii") as fh:
                public_key = fh.read()
        org = services.organisation_get_or_create(name=options["org"], kind=options["org_kind"],
                                                  region_code=options["region"], actor=actor)
        new = services.partner_app_create(
            organisation=org, name=options["name"], actor=actor, public_key=public_key,
            levels=[x.strip() for x in options["levels"].split(",") if x.strip()],
            purposes=[x.strip() for x in options["purposes"].split(",") if x.strip()],
            daily_quota=options["daily_quota"], rate_per_second=options["rate_per_second"],
            rate_per_minute=options["rate_per_minute"])
        self.stdout.write(f"app_id: {new.app.app_id}")
        self.stdout.write(f"public_key: {bytes(new.app.public_key).hex()}")
        if new.private_key_pem:
            self.stdout.write("private key (shown once; keep it with the partner, never on the platform):")
            self.stdout.write(new.private_key_pem)
