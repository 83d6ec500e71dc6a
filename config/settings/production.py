"""Production: PostgreSQL, Redis, secrets from the environment. Refuses to start without them."""

from django.core.exceptions import ImproperlyConfigured

from config.env import ENV_PRODUCTION_REQUIRED, missing_production_settings
from config.settings.base import *  # noqa: F403
from config.settings.base import ENV

_missing = missing_production_settings(ENV)
if _missing:
    raise ImproperlyConfigured(
        "tongban refuses to start in production; missing or unsafe: "
        + "; ".join(_missing)
        + f". Required: {', '.join(ENV_PRODUCTION_REQUIRED)}."
    )

DEBUG = False
SECURE_SSL_REDIRECT = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
