"""The payment gateway (a bank's / UnionPay-style acquiring gateway) behind an interface chosen in settings
(TONGBAN_PAYMENTS["GATEWAY"]["BACKEND"]); outside production it is the simulator in `sim/pay_gateway.py`.

    create_order(order_id, amount_fen, subject, notify_url, return_url, channel, expire_seconds) -> Order
    query(order_id) -> OrderState            the gateway's view of the order (the return page asks this)
    close(order_id) -> OrderState            stop an unpaid order being paid (before it expires here)
    refund(refund_id, order_id, amount_fen) -> str   the gateway's refund reference; the same id twice: one refund
    settlement(day) -> bytes                 the day's settlement file (CSV, see reconcile.py)

Every request and every asynchronous notification is signed with HMAC-SM3 under the merchant key:
X-Pay-Signature = hex HMAC-SM3(key, timestamp + "\\n" + body), X-Pay-Timestamp (Unix seconds, ±300 s).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from django.conf import settings
from django.utils.module_loading import import_string

from tongban.crypto.sm3 import constant_time_equal, hmac_sm3

CLOCK_SKEW = 300


class GatewayError(Exception):
    """The gateway did not do what was asked."""


class GatewayUnavailable(GatewayError):
    """Worth retrying."""


class GatewayRejected(GatewayError):
    """The gateway refused the request as invalid."""


def sign(key: str, timestamp: str, body: bytes) -> str:
    return hmac_sm3(key.encode(), timestamp.encode() + b"\n" + body).hex()


def verify_signature(*, key: str, timestamp: str, signature: str, body: bytes, now: float | None = None) -> bool:
    try:
        if abs((now if now is not None else time.time()) - int(timestamp)) > CLOCK_SKEW:
            return False
    except ValueError:
        return False
    return bool(key) and constant_time_equal(signature.encode(), sign(key, timestamp, body).encode())


@dataclass(frozen=True)
class Order:
    gateway_ref: str
    pay_url: str  # the cashier page (redirect) — also what the QR code carries for the "qr" channel


@dataclass(frozen=True)
class OrderState:
    order_id: str
    status: str  # waiting | success | failed | closed
    amount_fen: int
    gateway_ref: str = ""
    paid_at: dt.datetime | None = None


@runtime_checkable
class PaymentGateway(Protocol):
    def create_order(self, *, order_id: str, amount_fen: int, subject: str, notify_url: str, return_url: str,
                     channel: str, expire_seconds: int) -> Order: ...

    def query(self, *, order_id: str) -> OrderState: ...

    def close(self, *, order_id: str) -> OrderState: ...

    def refund(self, *, refund_id: str, order_id: str, amount_fen: int) -> str: ...

    def settlement(self, *, day: dt.date) -> bytes: ...


def _state(data: Any) -> OrderState:
    if not isinstance(data, dict) or not isinstance(data.get("order_id"), str):
        raise GatewayUnavailable("gateway answered without an order")
    paid = data.get("paid_at")
    try:
        paid_at = dt.datetime.fromisoformat(paid) if isinstance(paid, str) and paid else None
        amount = int(data.get("amount_fen", 0))
    except ValueError:
        raise GatewayUnavailable("gateway answered a malformed order") from None
    if paid_at is not None and paid_at.tzinfo is None:
        raise GatewayUnavailable("gateway answered a naive time")
    return OrderState(order_id=data["order_id"], status=str(data.get("status", "")), amount_fen=amount,
                      gateway_ref=str(data.get("gateway_ref", ""))[:64], paid_at=paid_at)


class HttpGateway:
    """The gateway's HTTP API (the bank's, or the simulator's)."""

    def __init__(self, *, url: str, merchant: str, key: str, timeout: float = 5.0, **_: Any) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("the payment gateway URL must be http:// or https://")
        self.url = url.rstrip("/")
        self.merchant = merchant
        self.key = key
        self.timeout = timeout

    def _call(self, method: str, path: str, data: dict[str, Any] | None = None) -> tuple[int, bytes]:
        body = json.dumps({"merchant": self.merchant, **data}, ensure_ascii=False).encode() if data is not None else b""
        timestamp = str(int(time.time()))
        request = urllib.request.Request(f"{self.url}{path}", data=body if data is not None else None,  # noqa: S310
                                         method=method, headers={
                                             "Content-Type": "application/json; charset=utf-8",
                                             "X-Pay-Merchant": self.merchant, "X-Pay-Timestamp": timestamp,
                                             "X-Pay-Signature": sign(self.key, timestamp, body)})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            if exc.code == 409:
                return 409, exc.read()
            if 400 <= exc.code < 500 and exc.code not in (401, 408, 429):
                raise GatewayRejected(f"gateway refused: HTTP {exc.code}") from None
            raise GatewayUnavailable(f"gateway answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise GatewayUnavailable(f"gateway unreachable: {type(exc).__name__}") from None

    def _json(self, raw: bytes) -> Any:
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            raise GatewayUnavailable("gateway answered something other than JSON") from None

    def create_order(self, *, order_id: str, amount_fen: int, subject: str, notify_url: str, return_url: str,
                     channel: str, expire_seconds: int) -> Order:
        status, raw = self._call("POST", "/v1/orders", {
            "order_id": order_id, "amount_fen": amount_fen, "subject": subject[:60], "notify_url": notify_url,
            "return_url": return_url, "channel": channel, "expire_seconds": expire_seconds})
        if status == 409:
            raise GatewayRejected("the gateway holds this order id with other contents")
        data = self._json(raw)
        if not isinstance(data, dict) or not data.get("gateway_ref") or not data.get("pay_url"):
            raise GatewayUnavailable("gateway answered without an order reference")
        return Order(gateway_ref=str(data["gateway_ref"])[:64], pay_url=str(data["pay_url"])[:300])

    def query(self, *, order_id: str) -> OrderState:
        _, raw = self._call("GET", f"/v1/orders/{order_id}")
        return _state(self._json(raw))

    def close(self, *, order_id: str) -> OrderState:
        _, raw = self._call("POST", f"/v1/orders/{order_id}/close", {})
        return _state(self._json(raw))

    def refund(self, *, refund_id: str, order_id: str, amount_fen: int) -> str:
        status, raw = self._call("POST", "/v1/refunds", {"refund_id": refund_id, "order_id": order_id,
                                                          "amount_fen": amount_fen})
        data = self._json(raw)
        if status == 409 or not isinstance(data, dict) or data.get("status") != "success":
            raise GatewayRejected("the gateway refused the refund")
        return str(data.get("refund_ref", ""))[:64]

    def settlement(self, *, day: dt.date) -> bytes:
        _, raw = self._call("GET", f"/v1/settlements/{day.isoformat()}")
        return raw


def gateway() -> PaymentGateway:
    """The configured gateway (built per call: settings may be overridden in tests)."""
    conf: dict[str, Any] = dict(settings.TONGBAN_PAYMENTS["GATEWAY"])  # type: ignore[call-overload]
    backend = import_string(str(conf.pop("BACKEND")))
    return backend(**{key.lower(): value for key, value in conf.items()})  # type: ignore[no-any-return]


def notification_key() -> str:
    return str(settings.TONGBAN_PAYMENTS["GATEWAY"]["KEY"])  # type: ignore[index]
