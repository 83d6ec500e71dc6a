"""The rating link of an SMS: `/rate/<case id>/<token>/`, the token signed with HMAC-SM3 over the case id
and an expiry, so it opens the rating of that one case only, until it expires, and cannot be altered.

Format: `<expiry, unix seconds, base 36>.<first 16 bytes of the MAC, base64url>`. The key is derived from
the deployment's secret key for this purpose alone.
"""

from __future__ import annotations

import base64
import hmac
import time

from django.conf import settings

from tongban.crypto.sm3 import hmac_sm3
from tongban.evaluation import conf

PURPOSE = b"tongban.evaluation.sms-link.v1"


class LinkInvalid(Exception):
    """The token does not open this case (altered, made for another case, or malformed)."""


class LinkExpired(Exception):
    """The token was good but its time is over."""


def _key() -> bytes:
    return hmac_sm3(str(settings.SECRET_KEY).encode(), PURPOSE)


def _mac(case_id: int, expires: int) -> str:
    tag = hmac_sm3(_key(), f"{case_id}.{expires}".encode())[:16]
    return base64.urlsafe_b64encode(tag).rstrip(b"=").decode()


def _b36(value: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while value:
        value, rest = divmod(value, 36)
        out = digits[rest] + out
    return out or "0"


def link_token(case_id: int, *, now: float | None = None, days: int | None = None) -> str:
    expires = int((now if now is not None else time.time()) + 86400 * (days if days is not None else conf.link_days()))
    return f"{_b36(expires)}.{_mac(case_id, expires)}"


def link_check(case_id: int, token: str, *, now: float | None = None) -> None:
    """Return if `token` opens the rating of `case_id` now; raise LinkInvalid or LinkExpired."""
    if not isinstance(token, str) or len(token) > 64 or token.count(".") != 1:
        raise LinkInvalid
    expires_text, mac = token.split(".")
    try:
        expires = int(expires_text, 36)
    except ValueError:
        raise LinkInvalid from None
    if not hmac.compare_digest(mac.encode(), _mac(case_id, expires).encode()):
        raise LinkInvalid  # altered, or made for another case
    if expires < (now if now is not None else time.time()):
        raise LinkExpired


def link_url(case_id: int) -> str:
    return f"{conf.public_url()}/rate/{case_id}/{link_token(case_id)}/"
