"""System checks that `tongban check --deploy` adds to Django's own deployment checks."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_tongban_deploy(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    messages: list[Any] = []
    default = settings.DATABASES["default"]
    from config.env import POSTGRESQL_ENGINES

    if default["ENGINE"] not in POSTGRESQL_ENGINES:
        messages.append(Error("生产环境须使用 PostgreSQL（TONGBAN_DATABASE_URL=postgresql://…）",
                              hint="SQLite 仅为内嵌演示用途。", id="tongban.E001"))
    if str(settings.CACHES["default"]["BACKEND"]).endswith("LocMemCache"):
        messages.append(Error("未配置 Redis：多进程部署下限流与会话无法共享（TONGBAN_REDIS_URL）",
                              id="tongban.E002"))
    if settings.TONGBAN_INPROCESS_WORKER:
        messages.append(Warning("后台任务在 Web 进程内运行；生产环境请以 `tongban jobs worker` 独立运行并设置 "
                                "TONGBAN_INPROCESS_WORKER=false", id="tongban.W001"))
    if "*" in settings.ALLOWED_HOSTS:
        messages.append(Error("TONGBAN_ALLOWED_HOSTS 不得为 *", id="tongban.E003"))
    for alias, conf in settings.DATABASES.items():
        if alias != "default" and conf["ENGINE"] != default["ENGINE"]:
            messages.append(Warning(f"权威数据源 {alias} 与平台库使用不同的数据库引擎", id="tongban.W002"))
    return messages


@register(Tags.security)
def check_hsts_in_production(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    """Not only under --deploy: every command that runs the checks (`tongban serve`, `migrate` …) says it when
    a production process runs with HSTS turned off (TONGBAN_HSTS_SECONDS=0). Django's own security.W004
    appears only with --deploy, and then also outside production."""
    env = getattr(settings, "ENV", None)
    if env is None or not env.is_production or int(getattr(settings, "SECURE_HSTS_SECONDS", 0) or 0) > 0:
        return []
    return [Warning("生产环境未启用 HSTS（TONGBAN_HSTS_SECONDS=0）：浏览器可能被降级到 HTTP，会话与口令可被窃听",
                    hint="删除 TONGBAN_HSTS_SECONDS（默认一年，31536000）或设为正数；仅在确有需要时短期关闭。",
                    id="tongban.W003")]
