"""Deployment checks for the access-control settings (`tongban check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_access_control(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    messages: list[Any] = []
    conf = settings.TONGBAN_SECURITY
    if not conf.backoffice_networks:
        messages.append(Warning("TONGBAN_BACKOFFICE_NETWORKS 为空：后台与管理端对任何网络都不可达",
                                hint="设置为内网网段，例如 10.0.0.0/8", id="tongban.accounts.W001"))
    if any(net in {"0.0.0.0/0", "::/0"} for net in conf.backoffice_networks):
        messages.append(Error("TONGBAN_BACKOFFICE_NETWORKS 不得包含 0.0.0.0/0 或 ::/0（后台须限定管理网络）",
                              id="tongban.accounts.E001"))
    if any(net in {"0.0.0.0/0", "::/0"} for net in conf.trusted_proxies):
        messages.append(Error("TONGBAN_TRUSTED_PROXIES 不得包含 0.0.0.0/0 或 ::/0（否则任何人都能伪造来源地址）",
                              id="tongban.accounts.E002"))
    if conf.staff_password_min_length < 12 or conf.password_min_classes < 3:
        messages.append(Warning("工作人员密码策略弱于等保三级建议（至少 12 位、3 类字符）", id="tongban.accounts.W002"))
    return messages
