"""Serve the platform with gunicorn (never runserver), the job worker in-process when configured."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def _logger_class() -> Any:
    """gunicorn's own lines go through tongban's JSON logging instead of its plain-text handlers."""
    import logging

    from gunicorn.glogging import Logger

    class JsonLogger(Logger):  # type: ignore[misc]
        def setup(self, cfg: Any) -> None:
            super().setup(cfg)
            for log in (self.error_log, self.access_log):
                for handler in list(log.handlers):
                    log.removeHandler(handler)
                log.propagate = True
            self.error_log.setLevel(logging.INFO)

    return JsonLogger


def _post_worker_init(worker: Any) -> None:
    from django.conf import settings as live_settings

    if live_settings.TONGBAN_INPROCESS_WORKER:
        from tongban.jobs.worker import start_inprocess_worker

        start_inprocess_worker()


class Command(BaseCommand):
    help = "以 gunicorn 启动平台（演示与生产均用此命令，而非 runserver）。"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("TONGBAN_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("TONGBAN_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("TONGBAN_WEB_WORKERS", "2")))
        parser.add_argument("--threads", type=int, default=int(os.environ.get("TONGBAN_WEB_THREADS", "1")))
        parser.add_argument("--timeout", type=int, default=30)

    def handle(self, *args: Any, **options: Any) -> None:
        from gunicorn.app.base import BaseApplication

        if options["workers"] < 1 or options["threads"] < 1:
            raise CommandError("--workers 与 --threads 须为正整数")
        bind = f"{options['host']}:{options['port']}"
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        from config.wsgi import application

        config = {
            "bind": bind,
            "workers": options["workers"],
            "threads": options["threads"],
            "worker_class": "gthread" if options["threads"] > 1 else "sync",
            "timeout": options["timeout"],
            "graceful_timeout": 20,
            "keepalive": 5,
            "max_requests": 20000,
            "max_requests_jitter": 2000,
            # gunicorn 27 otherwise writes a control socket under $HOME.
            "control_socket_disable": True,
            "accesslog": None,
            "post_worker_init": _post_worker_init,
            "proc_name": "tongban",
            "logger_class": _logger_class(),
        }

        class TongbanServer(BaseApplication):  # type: ignore[misc]
            def load_config(self) -> None:
                for key, value in config.items():
                    self.cfg.set(key, value)

            def load(self) -> Any:
                return application

        self.stdout.write(
            f"tongban 正在监听 http://{bind}/ （{options['workers']} 个工作进程，"
            f"后台任务{'随进程运行' if settings.TONGBAN_INPROCESS_WORKER else '由独立 worker 运行'}）"
        )
        TongbanServer().run()
