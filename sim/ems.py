"""The EMS (postal courier) simulator: takes delivery orders over HTTP as the courier's API would, returns a
waybill number, and pushes tracking events to the order's signed callback.

    POST /v1/orders                 {"order_id", "recipient", "phone", "address", "callback_url"} -> 201 {"waybill"}
                                    (the same order id again: 200 and the same waybill)
    GET  /v1/orders/<waybill>       the parcel and its events (JSON, for tests and the demo)
    POST /v1/orders/<waybill>/control {"mode": "lose" | "delay" | "normal"}: what happens to the parcel next
    POST /v1/orders/<waybill>/advance  push the parcel's next tracking event now
    GET  /                          a page listing parcels and their events
    GET  /healthz

Requests carry `Authorization: Bearer <token>`, `X-Ems-Timestamp` (Unix seconds) and `X-Ems-Signature` =
hex HMAC-SHA256(token, timestamp + "\\n" + body); the callbacks it pushes are signed the same way. Events go
collected → in_transit → out_for_delivery → signed; a parcel told to "delay" reports a delay first, one told
to "lose" is reported lost and goes no further. With `step_seconds` > 0 a thread advances every parcel on
its own; a callback that fails is pushed again on the next step. Standard library only.

    python -m sim.ems --port 8026 [--step-seconds 5]
    EmsSimulator.start(step_seconds=0) -> a running simulator in a thread (tests: .advance(waybill))
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import html
import json
import os
import re
import socketserver
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

DEV_TOKEN = "tongban-dev-ems-token"  # noqa: S105  (a public development value)
TOKEN_ENV = "TONGBAN_EMS_TOKEN"  # noqa: S105  (the variable's name)
MAX_BODY = 16 * 1024
CLOCK_SKEW = 300
_PHONE = re.compile(r"^(?:1[3-9]\d{9}|\+85[23]\d{8})$")  # mainland, or Hong Kong / Macao (+852 / +853)
FLOW = ("collected", "in_transit", "out_for_delivery", "signed")
DESCRIPTIONS = {
    "collected": "邮政已揽收", "in_transit": "邮件运输中，已到达处理中心", "out_for_delivery": "邮件派送中",
    "signed": "邮件已签收（本人签收）", "delayed": "因天气原因，邮件运输延误", "lost": "邮件丢失，已登记查找",
}

Response = tuple[str, list[tuple[str, str]], bytes]


def sign(token: str, timestamp: str, body: bytes) -> str:
    return hmac.new(token.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()


@dataclass
class Parcel:
    waybill: str
    order_id: str
    recipient: str
    phone: str
    address: str
    callback_url: str
    created_at: float
    mode: str = "normal"  # normal | delay | lose
    step: int = 0  # index into FLOW of the next event
    delayed: bool = False
    finished: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)
    unsent: list[dict[str, Any]] = field(default_factory=list)  # events whose callback failed

    def as_json(self) -> dict[str, Any]:
        return {"waybill": self.waybill, "order_id": self.order_id, "mode": self.mode, "finished": self.finished,
                "events": self.events, "unsent": len(self.unsent)}


class EmsApp:
    def __init__(self, *, token: str | None, callback_token: str | None = None) -> None:
        self.token = token
        self.callback_token = callback_token if callback_token is not None else token
        self.parcels: dict[str, Parcel] = {}
        self.by_order: dict[str, str] = {}
        self.lock = threading.RLock()
        self.sequence = 0
        self.fail_next = 0

    # -- the courier's behaviour ----------------------------------------------------------------------

    def create(self, data: dict[str, Any]) -> tuple[Parcel, bool]:
        with self.lock:
            existing = self.by_order.get(data["order_id"])
            if existing:
                return self.parcels[existing], False
            self.sequence += 1
            body = f"{int(time.time()) % 10**6:06d}{self.sequence:03d}"[-9:]
            waybill = f"EA{body}CN"  # the UPU S10 shape EMS numbers have
            parcel = Parcel(waybill, data["order_id"], data["recipient"], data["phone"], data["address"],
                            data["callback_url"], time.time())
            self.parcels[waybill] = parcel
            self.by_order[parcel.order_id] = waybill
            return parcel, True

    def control(self, waybill: str, mode: str) -> Parcel | None:
        with self.lock:
            parcel = self.parcels.get(waybill)
            if parcel is not None and mode in ("normal", "delay", "lose"):
                parcel.mode = mode
            return parcel

    def advance(self, waybill: str) -> dict[str, Any] | None:
        """Make the parcel's next event happen and push it (with any earlier event whose push failed)."""
        with self.lock:
            parcel = self.parcels.get(waybill)
            if parcel is None:
                return None
            event = None
            if not parcel.finished:
                if parcel.mode == "lose" and parcel.step > 0:
                    status = "lost"
                    parcel.finished = True
                elif parcel.mode == "delay" and not parcel.delayed and parcel.step > 0:
                    status = "delayed"
                    parcel.delayed = True
                else:
                    status = FLOW[parcel.step]
                    parcel.step += 1
                    parcel.finished = status == "signed"
                event = {"event_id": f"{waybill}-{len(parcel.events) + 1}", "waybill": waybill,
                         "order_id": parcel.order_id, "status": status, "description": DESCRIPTIONS[status],
                         "occurred_at": dt.datetime.now(dt.UTC).isoformat()}
                parcel.events.append(event)
                parcel.unsent.append(event)
            pending = list(parcel.unsent)
        for item in pending:
            if self.push(parcel.callback_url, item):
                with self.lock:
                    if item in parcel.unsent:
                        parcel.unsent.remove(item)
        return event

    def push(self, url: str, event: dict[str, Any]) -> bool:
        body = json.dumps(event, ensure_ascii=False).encode()
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json; charset=utf-8", "X-Ems-Timestamp": timestamp}
        if self.callback_token:
            headers["X-Ems-Signature"] = sign(self.callback_token, timestamp, body)
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                return bool(200 <= response.status < 300)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def tick(self) -> None:
        with self.lock:
            waybills = [w for w, p in self.parcels.items() if not p.finished or p.unsent]
        for waybill in waybills:
            self.advance(waybill)

    # -- HTTP -----------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            status, headers, body = self.route(environ)
        except Exception:
            status, headers, body = _json("500 Internal Server Error", {"error": {"code": "internal_error"}})
        headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body]

    def route(self, environ: dict[str, Any]) -> Response:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        if path == "/healthz":
            return "200 OK", [("Content-Type", "text/plain")], b"ok"
        if path == "/" and method in ("GET", "HEAD"):
            return "200 OK", [("Content-Type", "text/html; charset=utf-8")], self.page().encode()
        match = re.fullmatch(r"/v1/orders(?:/([A-Z0-9]{4,20})(?:/(control|advance))?)?", path)
        if match is None:
            return _json("404 Not Found", {"error": {"code": "not_found"}})
        waybill, verb = match.groups()
        if waybill and not verb and method == "GET":
            parcel = self.parcels.get(waybill)
            return _json("200 OK", parcel.as_json()) if parcel else _json("404 Not Found", {"error": {"code": "not_found"}})
        if method != "POST":
            return _json("405 Method Not Allowed", {"error": {"code": "method_not_allowed"}})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return _json("413 Payload Too Large", {"error": {"code": "payload_too_large"}})
        body = environ["wsgi.input"].read(length) if length else b""
        if self.token is not None and not self._authentic(environ, body):
            return _json("401 Unauthorized", {"error": {"code": "unauthenticated"}})
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return _json("400 Bad Request", {"error": {"code": "invalid_json"}})
        if not isinstance(data, dict):
            return _json("400 Bad Request", {"error": {"code": "invalid_json"}})
        if waybill is None:
            return self.order(data)
        if verb == "control":
            parcel = self.control(waybill, str(data.get("mode", "")))
            return _json("200 OK", parcel.as_json()) if parcel else _json("404 Not Found", {"error": {"code": "not_found"}})
        event = self.advance(waybill)
        return _json("200 OK", {"event": event}) if waybill in self.parcels else \
            _json("404 Not Found", {"error": {"code": "not_found"}})

    def order(self, data: dict[str, Any]) -> Response:
        for key in ("order_id", "recipient", "address", "callback_url"):
            if not isinstance(data.get(key), str) or not data[key].strip():
                return _json("400 Bad Request", {"error": {"code": "invalid_order", "message": f"缺少 {key}"}})
        if not isinstance(data.get("phone"), str) or not _PHONE.match(data["phone"]):
            return _json("400 Bad Request", {"error": {"code": "invalid_phone", "message": "收件人手机号码不正确"}})
        if not data["callback_url"].startswith(("http://", "https://")):
            return _json("400 Bad Request", {"error": {"code": "invalid_callback"}})
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return _json("503 Service Unavailable", {"error": {"code": "unavailable"}})
        parcel, created = self.create(data)
        return _json("201 Created" if created else "200 OK", {"waybill": parcel.waybill, "duplicate": not created})

    def _authentic(self, environ: dict[str, Any], body: bytes) -> bool:
        assert self.token is not None
        if not hmac.compare_digest(environ.get("HTTP_AUTHORIZATION", ""), f"Bearer {self.token}"):
            return False
        timestamp = environ.get("HTTP_X_EMS_TIMESTAMP", "")
        try:
            if abs(time.time() - int(timestamp)) > CLOCK_SKEW:
                return False
        except ValueError:
            return False
        return hmac.compare_digest(environ.get("HTTP_X_EMS_SIGNATURE", ""), sign(self.token, timestamp, body))

    def page(self) -> str:
        rows = []
        with self.lock:
            parcels = sorted(self.parcels.values(), key=lambda p: -p.created_at)
            for p in parcels:
                events = "".join(f"<li>{html.escape(e['description'])}</li>" for e in p.events) or "<li>待揽收</li>"
                rows.append(f"<section><h2>{html.escape(p.waybill)}</h2><p>收件人：{html.escape(p.recipient[:1])}**"
                            f"（{html.escape(p.phone[:3])}****{html.escape(p.phone[-4:])}）</p><ol>{events}</ol></section>")
        body = "".join(rows) or "<p>还没有邮件。</p>"
        return ("<!DOCTYPE html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" "
                "content=\"width=device-width, initial-scale=1\"><title>EMS 模拟器</title></head><body>"
                f"<h1>EMS 寄递模拟器</h1>{body}</body></html>")


def _json(status: str, data: dict[str, Any]) -> Response:
    return status, [("Content-Type", "application/json; charset=utf-8")], json.dumps(data, ensure_ascii=False).encode()


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if os.environ.get("EMS_SIM_VERBOSE"):
            super().log_message(format, *args)


class EmsSimulator:
    """A simulator in a thread of this process: `.url`, `.advance(waybill)`, `.control(...)`, `.stop()`."""

    def __init__(self, server: WSGIServer, app: EmsApp, threads: list[threading.Thread],
                 stop: threading.Event) -> None:
        self.server, self.app, self.threads, self._stop = server, app, threads, stop
        raw_host, port = server.server_address[:2]
        host = raw_host.decode() if isinstance(raw_host, bytes) else raw_host
        self.url = f"http://{host}:{port}"

    @classmethod
    def start(cls, host: str = "127.0.0.1", port: int = 0, *, token: str | None = DEV_TOKEN,
              step_seconds: float = 0.0) -> EmsSimulator:
        app = EmsApp(token=token)
        server = make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        stop = threading.Event()
        threads = [threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True,
                                    name="ems-simulator")]
        if step_seconds > 0:
            threads.append(threading.Thread(target=_ticker, args=(app, stop, step_seconds), daemon=True,
                                            name="ems-ticker"))
        for thread in threads:
            thread.start()
        return cls(server, app, threads, stop)

    def advance(self, waybill: str) -> dict[str, Any] | None:
        return self.app.advance(waybill)

    def control(self, waybill: str, mode: str) -> None:
        self.app.control(waybill, mode)

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)


def _ticker(app: EmsApp, stop: threading.Event, every: float) -> None:
    while not stop.wait(every):
        app.tick()


def start_ems_simulator(port: int = 8026, *, host: str = "127.0.0.1", step_seconds: float = 5.0,
                        wait: float = 10.0) -> Any:
    """Start the simulator as a subprocess and return once it listens (for `tongban demo`)."""
    from sim._process import start_module

    return start_module("sim.ems", ["--host", host, "--port", str(port), "--step-seconds", str(step_seconds)],
                        host=host, port=port, label="EMS simulator", wait=wait)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sim.ems", description="EMS 寄递模拟器")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8026)
    parser.add_argument("--step-seconds", type=float, default=5.0, help="advance every parcel this often (0: never)")
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "").strip() or DEV_TOKEN
    simulator = EmsSimulator.start(args.host, args.port, token=token, step_seconds=args.step_seconds)
    print(f"EMS 寄递模拟器 / EMS simulator: {simulator.url}/", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
