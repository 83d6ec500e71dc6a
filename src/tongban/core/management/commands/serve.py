"""Serve the platform (never runserver): granian's WSGI server by default, gunicorn on request; the job
worker in-process when configured.

granian is the default because it answered the partner API ~12 % faster for ~0.3 ms less CPU per
request than gunicorn's sync workers on the same machine (HTTP parsed in Rust, keep-alive connections:
docs/performance.md, "Partner verification API"). Both serve the same WSGI application (config.wsgi,
the fast lane in front of Django); `--server gunicorn` stays for deployments that standardise on it.
"""

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


SERVERS = ("granian", "gunicorn")


def _mark_serving(threads: int) -> None:
    """Tells the worker processes they serve requests, with how many threads: the budgets that hold in a web
    process only (client-side database deadlines, T-1 threads per dependency) read it (issue 12)."""
    from config.env import SERVING_THREADS_VARIABLE

    os.environ[SERVING_THREADS_VARIABLE] = str(threads)


def _serve_granian(options: dict[str, Any]) -> None:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces

    from tongban.core.logging import logging_dictconfig

    _mark_serving(options["threads"])
    Granian(
        # A factory, called in each worker process: it starts that process's job worker when configured.
        "config.wsgi:worker_application", factory=True, interface=Interfaces.WSGI,
        address=options["host"], port=options["port"], workers=options["workers"],
        # Each blocking thread holds its own database connections: keep the number small and explicit
        # (granian's default is 256).
        blocking_threads=options["threads"], backlog=2048, websockets=False, http=HTTPModes.http1,
        respawn_failed_workers=True, workers_kill_timeout=20,
        log_dictconfig=logging_dictconfig(level=settings.TONGBAN_LOG_LEVEL, json=settings.TONGBAN_LOG_JSON),
        log_access=False,  # tongban's request line is the access log (JSON, request id, masked)
    ).serve()


def local_cache() -> bool:
    """Is the default cache each process's own memory (the embedded default, no Redis)?"""
    return str(settings.CACHES["default"]["BACKEND"]).endswith("LocMemCache")


class Command(BaseCommand):
    help = "启动平台（演示与生产均用此命令，而非 runserver）：默认 granian，可选 gunicorn。"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("TONGBAN_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("TONGBAN_PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("TONGBAN_WEB_WORKERS", "2")))
        # Default: 2 threads per granian worker, so that a worker keeps answering while one request waits on
        # an external system; nodes serving only the partner API or the token endpoint run 1 (2 × 1 answered
        # the partner API ~10 % faster than 2 × 2 on 2 cores: docs/performance.md). 1 for gunicorn, whose
        # sync workers are single-threaded (its gthread workers measured slower).
        threads = os.environ.get("TONGBAN_WEB_THREADS")
        parser.add_argument("--threads", type=int, default=int(threads) if threads else None)
        parser.add_argument("--timeout", type=int, default=30, help="gunicorn: seconds before a stuck worker is restarted")
        parser.add_argument("--server", choices=SERVERS, default=os.environ.get("TONGBAN_WEB_SERVER", "granian"))

    def handle(self, *args: Any, **options: Any) -> None:
        from gunicorn.app.base import BaseApplication

        if options["threads"] is None:
            options["threads"] = 2 if options["server"] == "granian" else 1
        if options["workers"] < 1 or options["threads"] < 1:
            raise CommandError("--workers 与 --threads 须为正整数")
        if options["server"] not in SERVERS:
            raise CommandError(f"--server 须为 {' 或 '.join(SERVERS)}")
        if options["workers"] > 1 and local_cache():
            self.stderr.write(
                "警告：未设置 TONGBAN_REDIS_URL，缓存为各进程的本地内存：合作方请求的 nonce、限流与配额在 "
                f"{options['workers']} 个工作进程之间不共享，重放到另一进程的请求可能被接受。生产环境必须设置 "
                "TONGBAN_REDIS_URL（tongban check --deploy 会拒绝本地内存缓存）；单机演示请用 --workers 1。")
        bind = f"{options['host']}:{options['port']}"
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
        self.stdout.write(
            f"tongban 正在监听 http://{bind}/ （{options['server']}，{options['workers']} 个工作进程 × "
            f"{options['threads']} 线程，后台任务{'随进程运行' if settings.TONGBAN_INPROCESS_WORKER else '由独立 worker 运行'}）"
        )
        if options["server"] == "granian":
            _serve_granian(options)
            return
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

        _mark_serving(options["threads"])
        TongbanServer().run()
