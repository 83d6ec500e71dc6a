"""The SMS gateway interface, and its HTTP implementation (a commercial gateway, or the simulator).

    gateway().send(phone="138…", text="…", idempotency_key="sms:123")  -> the gateway's message id

The implementation is chosen in settings (TONGBAN_SMS_GATEWAY["BACKEND"], a dotted path), as every
counterpart is (STYLE habit 7). Messages reach it only through the outbox (tongban.notifications.tasks).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any, Protocol, runtime_checkable

from django.conf import settings
from django.utils.module_loading import import_string


class SmsError(Exception):
    """The message did not go out."""


class SmsUnavailable(SmsError):
    """The gateway could not be reached or failed: worth retrying."""


class SmsRejected(SmsError):
    """The gateway refused the message as invalid: retrying cannot help."""


def sign(token: str, timestamp: str, body: bytes) -> str:
    return hmac.new(token.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()


@runtime_checkable
class SmsGateway(Protocol):
    def send(self, *, phone: str, text: str, idempotency_key: str) -> str:
        """Hand one message to the gateway; return its message id. The same key twice sends once."""


class HttpSmsGateway:
    """POSTs JSON to the gateway's URL with a bearer token, a signed timestamp and the idempotency key.

    Signature: X-Sms-Signature = hex HMAC-SHA256(token, timestamp + "\\n" + body), X-Sms-Timestamp.
    """

    def __init__(self, *, url: str, token: str, timeout: float = 5.0, **_: Any) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("the SMS gateway URL must be http:// or https://")
        self.url = url
        self.token = token
        self.timeout = timeout

    def send(self, *, phone: str, text: str, idempotency_key: str) -> str:
        body = json.dumps({"phone": phone, "text": text, "idempotency_key": idempotency_key},
                          ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        request = urllib.request.Request(self.url, data=body, method="POST", headers={  # noqa: S310 (configured http(s) URL)
            "Content-Type": "application/json; charset=utf-8",
            "Authorization": f"Bearer {self.token}",
            "Idempotency-Key": idempotency_key,
            "X-Sms-Timestamp": timestamp,
            "X-Sms-Signature": sign(self.token, timestamp, body),
        })
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            # 4xx other than 408/429 is the gateway saying the message itself is wrong.
            if 400 <= exc.code < 500 and exc.code not in (401, 408, 429):
                raise SmsRejected(f"gateway refused the message: HTTP {exc.code}") from None
            raise SmsUnavailable(f"gateway answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
            raise SmsUnavailable(f"gateway unreachable: {type(exc).__name__}") from None
        message_id = answer.get("message_id") if isinstance(answer, dict) else None
        if not isinstance(message_id, str):
            raise SmsUnavailable("gateway answered without a message id")
        return message_id[:100]


def gateway() -> SmsGateway:
    """The configured gateway (built per call: settings may be overridden in tests)."""
    conf: dict[str, Any] = dict(settings.TONGBAN_SMS_GATEWAY)
    backend = import_string(str(conf.pop("BACKEND")))
    return backend(**{key.lower(): value for key, value in conf.items()})  # type: ignore[no-any-return]
