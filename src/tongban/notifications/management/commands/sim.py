"""`tongban sim sms --port 8025`: run one of the counterpart simulators (sim/) in the foreground."""

from __future__ import annotations

import importlib
from typing import Any

from django.core.management.base import BaseCommand, CommandError

# `tongban sim <name>` -> the module (under sim/) whose `main(argv)` serves that simulator.
SIMULATORS: dict[str, str] = {
    "sms": "sim.sms_gateway",
}


class Command(BaseCommand):
    help = "启动外部系统模拟器（演示与测试用），例如：tongban sim sms --port 8025"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name", choices=sorted(SIMULATORS), help="模拟器名称")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8025)
        parser.add_argument("--db", default="", help="模拟器自己的 SQLite 文件（默认在内存）")

    def handle(self, *args: Any, **options: Any) -> None:
        from django.conf import settings

        if settings.ENV.is_production:
            raise CommandError("模拟器不能在生产环境运行")
        if not 0 < options["port"] < 65536:
            raise CommandError("--port 须在 1-65535 之间")
        module = importlib.import_module(SIMULATORS[options["name"]])
        argv = ["--host", options["host"], "--port", str(options["port"])]
        if options["db"]:
            argv += ["--db", options["db"]]
        module.main(argv)
