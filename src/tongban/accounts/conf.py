"""The security settings (config.env.SecurityEnv), read at call time so tests can override them."""

from __future__ import annotations

from django.conf import settings

from config.env import SecurityEnv


def security() -> SecurityEnv:
    value: SecurityEnv = settings.TONGBAN_SECURITY
    return value
