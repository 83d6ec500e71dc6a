"""`tongban sso sweep`: the single-sign-on provider from the command line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tongban.sso import services
from tongban.sso.tasks import SWEEP_EVERY_SECONDS


class Command(BaseCommand):
    help = "统一身份认证：清理已过期的登录会话，并通知相关应用（后端通道退出）。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{sweep}")
        sweep = sub.add_parser("sweep", help=f"立即运行一次会话清理（后台任务每 {SWEEP_EVERY_SECONDS} 秒自动运行一次）：已空闲超时、"
                                             "已过期或已删除的会话结束其单点登录，令牌吊销，退出通知经发件箱送达各应用。")
        sweep.add_argument("--limit", type=int, default=None, metavar="N",
                           help="本次最多结束的会话数（默认为设置 TONGBAN_SSO_SWEEP_LIMIT，当前为 "
                                f"{services.sweep_limit()}）。")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "sweep":
            limit = options.get("limit")
            if limit is not None and limit < 1:
                raise CommandError("--limit 须为不小于 1 的整数。")
            limit = services.sweep_limit() if limit is None else limit
            result = services.sessions_sweep(limit=limit)
            self.stdout.write(f"结束了 {result.sessions} 个已过期的会话，排队 {result.notified} 条退出通知。")
            if result.more:
                self.stdout.write(f"已达本次上限（{limit} 个），仍有已过期的会话待清理：请再次运行，或由后台任务继续。")
            else:
                self.stdout.write("没有其他待清理的会话。")
