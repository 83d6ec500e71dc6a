"""Deployment check: production needs a real SMS gateway URL and token (`tongban check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def check_sms_gateway(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    conf: dict[str, Any] = settings.TONGBAN_SMS_GATEWAY
    messages: list[Any] = []
    if str(conf.get("BACKEND", "")).endswith("HttpSmsGateway") and (not conf.get("URL") or not conf.get("TOKEN")):
        messages.append(Error("短信网关未配置：请设置 TONGBAN_SMS_GATEWAY_URL 与 TONGBAN_SMS_GATEWAY_TOKEN",
                              id="tongban.notifications.E001"))
    if conf.get("TOKEN") == "tongban-dev-sms-token" and settings.ENV.is_production:  # noqa: S105
        messages.append(Error("短信网关令牌仍是开发环境默认值", id="tongban.notifications.E002"))
    return messages
