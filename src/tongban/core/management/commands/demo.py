"""`tongban demo`: everything a newcomer needs in one command, then the platform on 127.0.0.1."""

from __future__ import annotations

import io
import json
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from tongban.core.demo import demo_accounts_ensure


def serve_layout() -> dict[str, int]:
    """The demo server's processes. Without Redis the cache is each process's own memory: one worker
    process (its threads share it), so that a partner's nonce cannot be replayed to another process
    (docs/partner-api.md §8); with Redis, `tongban serve`'s defaults."""
    from tongban.core.management.commands.serve import local_cache

    return {"workers": 1, "threads": 4} if local_cache() else {}


class Command(BaseCommand):
    help = "迁移数据库、生成演示数据与演示账号，并启动平台（仅用于演示环境）。"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--people", type=int, default=10000, help="参考数据源生成的人数（至少 10000）")
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--sms-port", type=int, default=8025, help="短信网关模拟器端口")
        parser.add_argument("--no-serve", action="store_true", help="只准备数据，不启动服务")

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.ENV.is_production:
            raise CommandError("tongban demo 不能在生产环境运行")
        if options["people"] < 1:
            raise CommandError("--people 须为正整数")
        call_command("setup", verbosity=0)
        self.stdout.write("数据库已迁移")
        call_command("registry", "generate", "--people", str(options["people"]), "--seed", str(options["seed"]))
        accounts = demo_accounts_ensure()
        base = f"http://{options['host']}:{options['port']}"
        out = self.stdout.write
        out("")
        out("=" * 72)
        out("tongban 演示环境 / demo")
        out(f"  门户首页      {base}/")
        out(f"  民警后台      {base}/backoffice/")
        out(f"  系统配置      {base}/admin/")
        out(f"  接口文档      {base}/api/v1/docs")
        out(f"  就绪检查      {base}/readyz")
        out(f"  合作方接口    {base}/partner/v1/openapi.json （文档：docs/partner-api.md）")
        out(f"  短信模拟器    http://{options['host']}:{options['sms_port']}/ （注册、登录验证码在此查看）")
        out("")
        out("演示账号 / demo logins:")
        for account in accounts:
            out(f"  {account.role:<12} 用户名 {account.username:<11} 密码 {account.password:<20} 登录 {base}{account.where}")
            if account.second_factor:
                out(f"  {'':<12} {account.second_factor}（演示环境专用；正式环境请用手机验证器扫码绑定）")
        out("")
        out("参考数据源中可用于注册的人（tongban registry sample --n 5 --json 可查看更多）:")
        buffer = io.StringIO()
        try:
            call_command("registry", "sample", "--n", "3", "--json", stdout=buffer)
            out(json.dumps(json.loads(buffer.getvalue()), ensure_ascii=False, indent=2))
        except (CommandError, ValueError) as exc:
            out(f"  （无法列出样本：{exc}）")
        out("=" * 72)
        if options["no_serve"]:
            return
        from sim.sms_gateway import start_sms_simulator

        sms_db = settings.TONGBAN_VAR_DIR / "sim" / "sms.sqlite3"
        sms_db.parent.mkdir(parents=True, exist_ok=True)
        simulator = start_sms_simulator(options["sms_port"], host=options["host"], db_path=str(sms_db))
        # The server's workers fork from this process, so they send to the simulator just started.
        settings.TONGBAN_SMS_GATEWAY["URL"] = f"http://{options['host']}:{options['sms_port']}/v1/messages"
        try:
            call_command("serve", host=options["host"], port=options["port"], **serve_layout())
        finally:
            simulator.terminate()
            simulator.wait(10)
