"""The partner-API settings (config.env.PartnerEnv), read at call time so tests can override them."""

from __future__ import annotations

from django.conf import settings

from config.env import PartnerEnv


def partners() -> PartnerEnv:
    value: PartnerEnv = settings.TONGBAN_PARTNERS
    return value
