"""The payment gateway simulator: behaves like a bank / UnionPay-style acquiring gateway over HTTP.

    POST /v1/orders                  {"order_id", "amount_fen", "subject", "notify_url", "return_url", "channel",
                                      "expire_seconds"} -> 201 {"gateway_ref", "pay_url"}
                                     (the same order again: 200 and the same answer; other contents: 409)
    GET  /v1/orders/<order_id>       the query API: {"order_id", "gateway_ref", "status", "amount_fen", "paid_at"}
    POST /v1/orders/<order_id>/close stop an unpaid order (a paid one answers its state, "success")
    POST /v1/refunds                 {"refund_id", "order_id", "amount_fen"} -> {"refund_ref", "status"}
    GET  /v1/settlements/<YYYY-MM-DD> the day's settlement file (CSV: order_id,gateway_ref,type,amount_fen,time)
    GET  /cashier/<gateway_ref>      the cashier page a browser is sent to (or a phone opens from the QR code)
    POST /cashier/<gateway_ref>/pay | /cancel   pay (or give up), then back to the merchant's return_url
    POST /v1/control                 {"mode": ..., "delay_seconds": n, "order_id": optional} how notifications go
    GET  /healthz

Requests from the merchant and the notifications the gateway posts are signed with HMAC-SM3 under the
merchant key: X-Pay-Signature = hex HMAC-SM3(key, timestamp + "\\n" + body), X-Pay-Timestamp. Notification
modes: normal (one, at once), twice (the same notification twice), late (after delay_seconds — the browser
comes back first), out_of_order (an older "failed" notification arrives after the "success"), never, and
bad_signature. A notification that is not answered 200 is posted again by `.retry_unsent()` (and by the
ticker thread when running as a program). Standard library only (SM3 through hashlib's OpenSSL).

    python -m sim.pay_gateway --port 8027
    PayGatewaySimulator.start(key=...) -> a running simulator in a thread (tests: .pay(order_id), .control(...))
"""

from __future__ import annotations

import argparse
import datetime as dt
import hmac
import html
import itertools
import json
import os
import re
import socketserver
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

DEV_KEY = "tongban-dev-pay-key"
KEY_ENV = "TONGBAN_PAY_KEY"
MAX_BODY = 16 * 1024
CLOCK_SKEW = 300
MODES = ("normal", "twice", "late", "out_of_order", "never", "bad_signature")
_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
CST = dt.timezone(dt.timedelta(hours=8))

Response = tuple[str, list[tuple[str, str]], bytes]


def sign(key: str, timestamp: str, body: bytes) -> str:
    return hmac.new(key.encode(), timestamp.encode() + b"\n" + body, "sm3").hexdigest()


@dataclass
class Order:
    order_id: str
    gateway_ref: str
    amount_fen: int
    subject: str
    notify_url: str
    return_url: str
    channel: str
    expires: float
    status: str = "waiting"  # waiting | success | failed | closed
    paid_at: dt.datetime | None = None
    refunded_fen: int = 0

    def as_json(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "gateway_ref": self.gateway_ref, "status": self.status,
                "amount_fen": self.amount_fen, "paid_at": self.paid_at.isoformat() if self.paid_at else None,
                "refunded_fen": self.refunded_fen}


@dataclass
class Notification:
    url: str
    body: bytes
    bad_signature: bool = False
    attempts: int = 0


@dataclass
class Control:
    mode: str = "normal"
    delay_seconds: float = 2.0


@dataclass
class Refund:
    refund_id: str
    order_id: str
    refund_ref: str
    amount_fen: int
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


class PayGatewayApp:
    def __init__(self, *, key: str, public_url: str = "") -> None:
        self.key = key
        self.public_url = public_url
        self.orders: dict[str, Order] = {}
        self.by_ref: dict[str, str] = {}
        self.refunds: dict[str, Refund] = {}
        self.lock = threading.RLock()
        self.sequence = itertools.count(1)
        self.control_all = Control()
        self.control_order: dict[str, Control] = {}
        self.unsent: list[Notification] = []
        self.sent: list[dict[str, Any]] = []  # every notification posted (for tests): {"body", "status"}
        self.timers: list[threading.Timer] = []

    # -- the gateway's behaviour ---------------------------------------------------------------------------

    def create(self, data: dict[str, Any]) -> tuple[Order | None, bool]:
        with self.lock:
            existing = self.orders.get(data["order_id"])
            if existing is not None:
                same = existing.amount_fen == data["amount_fen"] and existing.notify_url == data["notify_url"]
                return (existing if same else None), False
            ref = f"P{dt.datetime.now(CST):%Y%m%d}{next(self.sequence):010d}"
            order = Order(data["order_id"], ref, data["amount_fen"], str(data.get("subject", ""))[:60],
                          data["notify_url"], str(data.get("return_url", "")), str(data.get("channel", "redirect")),
                          time.time() + max(60, int(data.get("expire_seconds") or 900)))
            self.orders[order.order_id] = order
            self.by_ref[ref] = order.order_id
            return order, True

    def control(self, mode: str, delay_seconds: float = 2.0, order_id: str | None = None) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        with self.lock:
            if order_id:
                self.control_order[order_id] = Control(mode, delay_seconds)
            else:
                self.control_all = Control(mode, delay_seconds)

    def pay(self, order_id: str, *, succeed: bool = True) -> Order | None:
        """The payer confirms (or their bank declines): the order's outcome, then its notification(s)."""
        with self.lock:
            order = self.orders.get(order_id)
            if order is None or order.status != "waiting":
                return order
            if time.time() > order.expires:
                order.status = "closed"
                return order
            order.status = "success" if succeed else "failed"
            order.paid_at = dt.datetime.now(dt.UTC) if succeed else None
            control = self.control_order.get(order_id, self.control_all)
        self._notify(order, control)
        return order

    def cancel(self, order_id: str) -> Order | None:
        with self.lock:
            order = self.orders.get(order_id)
            if order is not None and order.status == "waiting":
                order.status = "closed"
            return order

    def _body(self, order: Order, status: str, sent_at: dt.datetime) -> bytes:
        return json.dumps({"notify_id": f"N{order.gateway_ref}{status[0].upper()}", "order_id": order.order_id,
                           "gateway_ref": order.gateway_ref, "status": status, "amount_fen": order.amount_fen,
                           "paid_at": order.paid_at.isoformat() if order.paid_at else None,
                           "sent_at": sent_at.isoformat()}, ensure_ascii=False).encode()

    def _notify(self, order: Order, control: Control) -> None:
        now = dt.datetime.now(dt.UTC)
        note = Notification(order.notify_url, self._body(order, order.status, now),
                            bad_signature=control.mode == "bad_signature")
        if control.mode == "never":
            return
        if control.mode == "late":
            timer = threading.Timer(control.delay_seconds, self.post, args=(note,))
            timer.daemon = True
            self.timers.append(timer)
            timer.start()
            return
        self.post(note)
        if control.mode == "twice":
            self.post(Notification(note.url, note.body))
        if control.mode == "out_of_order" and order.status == "success":
            # A stale "failed" (an earlier declined card, sent before) that arrives after the success.
            self.post(Notification(note.url, self._body(order, "failed", now - dt.timedelta(seconds=30))))

    def signed_headers(self, body: bytes, *, bad: bool = False) -> dict[str, str]:
        timestamp = str(int(time.time()))
        signature = sign(self.key, timestamp, body)
        if bad:
            signature = signature[::-1]
        return {"Content-Type": "application/json; charset=utf-8", "X-Pay-Timestamp": timestamp,
                "X-Pay-Signature": signature}

    def post(self, note: Notification) -> bool:
        note.attempts += 1
        request = urllib.request.Request(note.url, data=note.body, method="POST",  # noqa: S310 (loopback)
                                         headers=self.signed_headers(note.body, bad=note.bad_signature))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                ok = response.status == 200
                status = response.status
        except urllib.error.HTTPError as exc:
            ok, status = False, exc.code
        except (urllib.error.URLError, TimeoutError, OSError):
            ok, status = False, 0
        with self.lock:
            self.sent.append({"body": json.loads(note.body), "status": status})
            if not ok and note.attempts < 8:
                self.unsent.append(note)
        return ok

    def retry_unsent(self) -> int:
        with self.lock:
            pending, self.unsent = self.unsent, []
        return sum(1 for note in pending if self.post(note))

    def refund(self, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        with self.lock:
            existing = self.refunds.get(data["refund_id"])
            if existing is not None:
                return "200 OK", {"refund_ref": existing.refund_ref, "status": "success"}
            order = self.orders.get(data["order_id"])
            amount = data["amount_fen"]
            if order is None or order.status != "success" or order.refunded_fen + amount > order.amount_fen:
                return "409 Conflict", {"status": "refused", "error": {"code": "refund_refused"}}
            order.refunded_fen += amount
            refund = Refund(data["refund_id"], order.order_id, f"R{next(self.sequence):012d}", amount)
            self.refunds[refund.refund_id] = refund
            return "200 OK", {"refund_ref": refund.refund_ref, "status": "success"}

    def settlement(self, day: dt.date) -> bytes:
        """The day's settled payments and refunds (by China Standard Time), one CSV line each."""
        lines = ["order_id,gateway_ref,type,amount_fen,time"]
        with self.lock:
            for order in self.orders.values():
                if order.status == "success" and order.paid_at and order.paid_at.astimezone(CST).date() == day:
                    lines.append(f"{order.order_id},{order.gateway_ref},pay,{order.amount_fen},"
                                 f"{order.paid_at.isoformat()}")
            for refund in self.refunds.values():
                if refund.at.astimezone(CST).date() == day:
                    lines.append(f"{refund.order_id},{refund.refund_ref},refund,{refund.amount_fen},"
                                 f"{refund.at.isoformat()}")
        return ("\n".join(lines) + "\n").encode()

    # -- HTTP --------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        try:
            status, headers, body = self.route(environ)
        except Exception:  # a simulator answers, whatever it was sent
            status, headers, body = _json("500 Internal Server Error", {"error": {"code": "internal_error"}})
        start_response(status, headers)
        return [body]

    def route(self, environ: dict[str, Any]) -> Response:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "")
        if path == "/healthz":
            return _json("200 OK", {"status": "ok"})
        if path.startswith("/cashier/"):
            return self.cashier(method, path, environ)
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return _json("413 Payload Too Large", {"error": {"code": "payload_too_large"}})
        body = environ["wsgi.input"].read(length) if length else b""
        if not self._authentic(environ, body):
            return _json("401 Unauthorized", {"error": {"code": "unauthenticated"}})
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return _json("400 Bad Request", {"error": {"code": "invalid_json"}})
        if not isinstance(data, dict):
            return _json("400 Bad Request", {"error": {"code": "invalid_json"}})
        parts = path.strip("/").split("/")
        if parts[:2] == ["v1", "orders"] and len(parts) == 2 and method == "POST":
            return self.order(data)
        if parts[:2] == ["v1", "orders"] and len(parts) >= 3:
            with self.lock:
                order = self.orders.get(parts[2])
            if order is None:
                return _json("404 Not Found", {"error": {"code": "not_found"}})
            if len(parts) == 4 and parts[3] == "close" and method == "POST":
                order = self.cancel(order.order_id) or order
            return _json("200 OK", order.as_json())
        if parts == ["v1", "refunds"] and method == "POST":
            if not isinstance(data.get("refund_id"), str) or not isinstance(data.get("amount_fen"), int) \
                    or data["amount_fen"] <= 0:
                return _json("400 Bad Request", {"error": {"code": "invalid_refund"}})
            status, answer = self.refund(data)
            return _json(status, answer)
        if parts[:2] == ["v1", "settlements"] and len(parts) == 3:
            try:
                day = dt.date.fromisoformat(parts[2])
            except ValueError:
                return _json("400 Bad Request", {"error": {"code": "invalid_date"}})
            return "200 OK", [("Content-Type", "text/csv; charset=utf-8")], self.settlement(day)
        if parts == ["v1", "control"] and method == "POST":
            try:
                self.control(str(data.get("mode", "")), float(data.get("delay_seconds", 2.0)),
                             data.get("order_id") or None)
            except ValueError as exc:
                return _json("400 Bad Request", {"error": {"code": "invalid_mode", "message": str(exc)}})
            return _json("200 OK", {"mode": data.get("mode")})
        return _json("404 Not Found", {"error": {"code": "not_found"}})

    def order(self, data: dict[str, Any]) -> Response:
        if not isinstance(data.get("order_id"), str) or not _ORDER_ID.match(data["order_id"]):
            return _json("400 Bad Request", {"error": {"code": "invalid_order_id"}})
        amount = data.get("amount_fen")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            return _json("400 Bad Request", {"error": {"code": "invalid_amount", "message": "金额须为正整数（分）"}})
        if not isinstance(data.get("notify_url"), str) or not data["notify_url"].startswith(("http://", "https://")):
            return _json("400 Bad Request", {"error": {"code": "invalid_notify_url"}})
        order, created = self.create(data)
        if order is None:
            return _json("409 Conflict", {"error": {"code": "order_conflict"}})
        return _json("201 Created" if created else "200 OK",
                     {"gateway_ref": order.gateway_ref, "pay_url": f"{self.public_url}/cashier/{order.gateway_ref}"})

    def _authentic(self, environ: dict[str, Any], body: bytes) -> bool:
        timestamp = environ.get("HTTP_X_PAY_TIMESTAMP", "")
        try:
            if abs(time.time() - int(timestamp)) > CLOCK_SKEW:
                return False
        except ValueError:
            return False
        return hmac.compare_digest(environ.get("HTTP_X_PAY_SIGNATURE", ""), sign(self.key, timestamp, body))

    def cashier(self, method: str, path: str, environ: dict[str, Any]) -> Response:
        parts = path.strip("/").split("/")
        with self.lock:
            order_id = self.by_ref.get(parts[1]) if len(parts) >= 2 else None
            order = self.orders.get(order_id or "")
        if order is None:
            return _page("404 Not Found", "订单不存在", "<p>订单不存在或已关闭。</p>")
        if method == "POST" and len(parts) == 3 and parts[2] in ("pay", "cancel"):
            if parts[2] == "pay":
                self.pay(order.order_id)
            else:
                self.cancel(order.order_id)
            target = order.return_url or f"/cashier/{order.gateway_ref}"
            return "303 See Other", [("Location", target), ("Content-Type", "text/plain")], b""
        amount = f"{order.amount_fen // 100}.{order.amount_fen % 100:02d}"
        if order.status != "waiting":
            done = {"success": "支付成功", "failed": "支付失败", "closed": "订单已关闭"}.get(order.status, order.status)
            back = (f'<p><a href="{html.escape(order.return_url)}">返回商户页面</a></p>' if order.return_url else "")
            return _page("200 OK", "收银台", f"<p id=\"order-status\">{done}</p>{back}")
        ref = html.escape(order.gateway_ref)
        body = (f"<p>商品：{html.escape(order.subject)}</p><p>订单号：{html.escape(order.order_id)}</p>"
                f"<p class=\"amount\">应付金额：<strong id=\"amount\">¥{amount}</strong></p>"
                f"<form method=\"post\" action=\"/cashier/{ref}/pay\"><button id=\"confirm-pay\" type=\"submit\">"
                f"确认支付</button></form><form method=\"post\" action=\"/cashier/{ref}/cancel\">"
                f"<button id=\"cancel-pay\" type=\"submit\">取消支付</button></form>")
        return _page("200 OK", "收银台", body)


def _json(status: str, data: dict[str, Any]) -> Response:
    return status, [("Content-Type", "application/json; charset=utf-8")], json.dumps(data, ensure_ascii=False).encode()


def _page(status: str, title: str, body: str) -> Response:
    text = ("<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
            f"content=\"width=device-width, initial-scale=1\"><title>{title} · 支付平台模拟器</title></head><body>"
            f"<main><h1>{title}（模拟）</h1>{body}</main></body></html>")
    return status, [("Content-Type", "text/html; charset=utf-8")], text.encode()


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if os.environ.get("PAY_SIM_VERBOSE"):
            super().log_message(format, *args)


class PayGatewaySimulator:
    """A simulator in a thread of this process: `.url`, `.pay(order_id)`, `.control(mode)`, `.stop()`."""

    def __init__(self, server: WSGIServer, app: PayGatewayApp, threads: list[threading.Thread],
                 stop: threading.Event) -> None:
        self.server, self.app, self.threads, self._stop = server, app, threads, stop
        raw_host, port = server.server_address[:2]
        host = raw_host.decode() if isinstance(raw_host, bytes) else raw_host
        self.url = f"http://{host}:{port}"
        app.public_url = self.url

    @classmethod
    def start(cls, host: str = "127.0.0.1", port: int = 0, *, key: str = DEV_KEY,
              retry_seconds: float = 0.0) -> PayGatewaySimulator:
        app = PayGatewayApp(key=key)
        server = make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        stop = threading.Event()
        threads = [threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                                    name="pay-gateway-simulator")]
        if retry_seconds > 0:
            threads.append(threading.Thread(target=_ticker, args=(app, stop, retry_seconds), daemon=True,
                                            name="pay-gateway-retry"))
        for thread in threads:
            thread.start()
        return cls(server, app, threads, stop)

    def pay(self, order_id: str, *, succeed: bool = True) -> Order | None:
        return self.app.pay(order_id, succeed=succeed)

    def control(self, mode: str, delay_seconds: float = 2.0, order_id: str | None = None) -> None:
        self.app.control(mode, delay_seconds, order_id)

    def order_of(self, gateway_ref: str) -> Order | None:
        with self.app.lock:
            return self.app.orders.get(self.app.by_ref.get(gateway_ref, ""))

    def stop(self) -> None:
        self._stop.set()
        for timer in self.app.timers:
            timer.cancel()
        self.server.shutdown()
        self.server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)


def _ticker(app: PayGatewayApp, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        app.retry_unsent()


def start_pay_gateway_simulator(port: int = 8027, *, host: str = "127.0.0.1", wait: float = 10.0) -> Any:
    """Start the simulator as a subprocess and return once it listens (for `tongban demo`)."""
    from sim._process import start_module

    return start_module("sim.pay_gateway", ["--host", host, "--port", str(port)],
                        host=host, port=port, label="payment gateway simulator", wait=wait)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sim.pay_gateway", description="支付平台模拟器")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8027)
    parser.add_argument("--mode", default="normal", choices=MODES, help="how notifications are sent")
    args = parser.parse_args(argv)
    key = os.environ.get(KEY_ENV, "").strip() or DEV_KEY
    simulator = PayGatewaySimulator.start(args.host, args.port, key=key, retry_seconds=5.0)
    simulator.control(args.mode)
    print(f"支付平台模拟器 / payment gateway simulator: {simulator.url}/", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
