"""`tongban sso sweep`: the single-sign-on provider from the command line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tongban.sso import services
from tongban.sso.tasks import SWEEP_EVERY_SECONDS


class Command(BaseCommand):
    help = "统一身份认证：清理已过期的登录会话，并通知相关应用（后端通道退出）。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{sweep}")
        sub.add_parser("sweep", help=f"立即运行一次会话清理（后台任务每 {SWEEP_EVERY_SECONDS} 秒自动运行一次）：已空闲超时、"
                                     "已过期或已删除的会话结束其单点登录，令牌吊销，退出通知经发件箱送达各应用。")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "sweep":
            result = services.sessions_sweep()
            self.stdout.write(f"结束了 {result.sessions} 个已过期的会话，排队 {result.notified} 条退出通知。")
