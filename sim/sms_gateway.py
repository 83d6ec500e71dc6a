"""The SMS gateway simulator: accepts messages over HTTP as a real gateway would, and shows them.

    POST /v1/messages            {"phone": "138…", "text": "…", "idempotency_key": "…"}  -> 201 (200 if repeated)
    GET  /v1/messages?phone=…    the messages received for a phone, newest first (JSON, for tests)
    GET  /                       a page (Chinese, fits a phone) listing each phone's messages, newest first,
                                 so a demo user can read the code they were sent
    GET  /healthz

Requests must carry `Authorization: Bearer <token>`, `X-Sms-Timestamp` (Unix seconds) and
`X-Sms-Signature` = hex HMAC-SHA256(token, timestamp + "\\n" + body), like the commercial gateways'
signed APIs; the same `Idempotency-Key` (header or field) twice stores one message. Standard library
only, its own SQLite store (a file, or memory): the simulator shares nothing with the platform.

    python -m sim.sms_gateway --port 8025            # or: tongban sim sms --port 8025
    start_sms_simulator(8025) -> subprocess.Popen     # what `tongban demo` calls
    SmsSimulator.start() -> a running simulator in a thread (tests)
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
import secrets
import socketserver
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

# The development token both sides use unless TONGBAN_SMS_GATEWAY_TOKEN says otherwise.
DEV_TOKEN = "tongban-dev-sms-token"  # noqa: S105  (a public development value, not a secret)
TOKEN_ENV = "TONGBAN_SMS_GATEWAY_TOKEN"  # noqa: S105  (the variable's name)
MAX_BODY = 16 * 1024
MAX_TEXT = 500  # characters; a long SMS is at most 7 segments of 67
CLOCK_SKEW = 300  # seconds a signed request may be old (or early)
# Mainland (11 digits) or Hong Kong / Macao in E.164 (+852 or +853 and 8 digits).
_PHONE = re.compile(r"^(?:1[3-9]\d{9}|\+85[23]\d{8})$")
_SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")

Response = tuple[str, list[tuple[str, str]], bytes]


def sign(token: str, timestamp: str, body: bytes) -> str:
    """The request signature a client sends in X-Sms-Signature."""
    return hmac.new(token.encode(), timestamp.encode() + b"\n" + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Message:
    message_id: str
    phone: str
    text: str
    received_at: float

    def as_json(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "phone": self.phone, "text": self.text,
                "received_at": dt.datetime.fromtimestamp(self.received_at, dt.UTC).isoformat()}


class Store:
    """Messages in SQLite (one connection, serialised by a lock: a simulator's load is tiny)."""

    def __init__(self, path: str = ":memory:") -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL" if path != ":memory:" else "PRAGMA journal_mode=MEMORY")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS message (seq INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT NOT NULL, "
                "idempotency_key TEXT NOT NULL UNIQUE, phone TEXT NOT NULL, text TEXT NOT NULL, received_at REAL NOT NULL)")
            self._db.execute("CREATE INDEX IF NOT EXISTS message_phone ON message (phone, seq)")

    def add(self, *, phone: str, text: str, key: str) -> tuple[Message, bool]:
        """Store a message once per idempotency key; (message, created)."""
        with self._lock:
            row = self._db.execute("SELECT message_id, phone, text, received_at FROM message WHERE idempotency_key = ?",
                                   (key,)).fetchone()
            if row is not None:
                return Message(*row), False
            message = Message(f"sim-{secrets.token_hex(8)}", phone, text, time.time())
            self._db.execute("INSERT INTO message (message_id, idempotency_key, phone, text, received_at) "
                             "VALUES (?, ?, ?, ?, ?)", (message.message_id, key, phone, text, message.received_at))
            return message, True

    def messages(self, phone: str | None = None, limit: int = 200) -> list[Message]:
        with self._lock:
            if phone:
                rows = self._db.execute("SELECT message_id, phone, text, received_at FROM message WHERE phone = ? "
                                        "ORDER BY seq DESC LIMIT ?", (phone, limit)).fetchall()
            else:
                rows = self._db.execute("SELECT message_id, phone, text, received_at FROM message "
                                        "ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [Message(*row) for row in rows]

    def clear(self) -> None:
        with self._lock:
            self._db.execute("DELETE FROM message")


class SmsGatewayApp:
    """The WSGI application."""

    def __init__(self, store: Store, *, token: str | None) -> None:
        self.store = store
        self.token = token
        self._fail_next = 0
        self._fail_lock = threading.Lock()

    def fail_next(self, count: int) -> None:
        """Answer the next `count` sends with 503, as a gateway having a bad minute would (tests)."""
        with self._fail_lock:
            self._fail_next = count

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            status, headers, body = self.route(environ)
        except Exception:  # the simulator must answer, not hang up
            status, headers, body = _json("500 Internal Server Error", {"error": {"code": "internal_error"}})
        headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body]

    def route(self, environ: dict[str, Any]) -> Response:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if path == "/v1/messages" and method == "POST":
            return self.accept(environ)
        if path == "/v1/messages" and method == "GET":
            phone = (query.get("phone") or [""])[0].strip()
            if len(phone) == 11 and phone.startswith(("852", "853")):  # an unescaped "+" arrives as a space
                phone = "+" + phone
            return _json("200 OK", {"messages": [m.as_json() for m in self.store.messages(phone or None)]})
        if path == "/" and method in ("GET", "HEAD"):
            phone = (query.get("phone") or [""])[0].strip()
            if len(phone) == 11 and phone.startswith(("852", "853")):  # an unescaped "+" arrives as a space
                phone = "+" + phone
            return "200 OK", [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")], \
                _page(self.store.messages(phone or None), phone).encode()
        if path == "/healthz":
            return "200 OK", [("Content-Type", "text/plain")], b"ok"
        return _json("404 Not Found", {"error": {"code": "not_found"}})

    def accept(self, environ: dict[str, Any]) -> Response:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return _json("413 Payload Too Large", {"error": {"code": "payload_too_large"}})
        body = environ["wsgi.input"].read(length) if length else b""
        if self.token is not None and not self._authentic(environ, body):
            return _json("401 Unauthorized", {"error": {"code": "unauthenticated", "message": "签名或令牌不正确"}})
        try:
            data = json.loads(body or b"null")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _json("400 Bad Request", {"error": {"code": "invalid_json"}})
        phone, text = data.get("phone"), data.get("text")
        key = environ.get("HTTP_IDEMPOTENCY_KEY") or data.get("idempotency_key")
        if not isinstance(phone, str) or not _PHONE.match(phone):
            return _json("400 Bad Request", {"error": {"code": "invalid_phone", "message": "手机号码不正确"}})
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            return _json("400 Bad Request", {"error": {"code": "invalid_text", "message": "短信内容为空或过长"}})
        if not isinstance(key, str) or not 0 < len(key) <= 200:
            return _json("400 Bad Request", {"error": {"code": "idempotency_key_required"}})
        with self._fail_lock:
            if self._fail_next > 0:
                self._fail_next -= 1
                return _json("503 Service Unavailable", {"error": {"code": "unavailable"}})
        message, created = self.store.add(phone=phone, text=text, key=key)
        return _json("201 Created" if created else "200 OK",
                     {"message_id": message.message_id, "status": "accepted", "duplicate": not created})

    def _authentic(self, environ: dict[str, Any], body: bytes) -> bool:
        assert self.token is not None
        auth = environ.get("HTTP_AUTHORIZATION", "")
        timestamp = environ.get("HTTP_X_SMS_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SMS_SIGNATURE", "")
        if not hmac.compare_digest(auth, f"Bearer {self.token}"):
            return False
        try:
            if abs(time.time() - int(timestamp)) > CLOCK_SKEW:
                return False
        except ValueError:
            return False
        return hmac.compare_digest(signature, sign(self.token, timestamp, body))


def _json(status: str, data: dict[str, Any]) -> Response:
    return status, [("Content-Type", "application/json; charset=utf-8")], json.dumps(data, ensure_ascii=False).encode()


_CSS = """
body{margin:0;font-family:"PingFang SC","Noto Sans CJK SC","Microsoft YaHei",sans-serif;background:#f4f6f9;color:#1d2733}
header{background:#3a4a5c;color:#fff;padding:14px 16px}header h1{margin:0;font-size:19px}
header p{margin:4px 0 0;font-size:13px;opacity:.85}main{max-width:720px;margin:0 auto;padding:8px 12px 24px}
form{display:flex;gap:8px;margin:12px 0}input{flex:1;padding:10px;font-size:16px;border:1px solid #c8d0da;border-radius:6px}
button,a.button{padding:10px 14px;font-size:15px;background:#0b4ea2;color:#fff;border:0;border-radius:6px;text-decoration:none}
section.phone{background:#fff;border-radius:8px;margin:12px 0;padding:4px 14px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
section.phone h2{font-size:17px;margin:10px 0}ol{list-style:none;padding:0;margin:0}
li.msg{border-top:1px solid #e6ebf0;padding:10px 0}li.msg time{display:block;color:#5b6775;font-size:13px}
li.msg p{margin:4px 0 0;font-size:16px;word-break:break-all}.empty{color:#5b6775}
"""


def _page(messages: list[Message], phone: str) -> str:
    by_phone: dict[str, list[Message]] = {}
    for message in messages:  # newest first already
        by_phone.setdefault(message.phone, []).append(message)
    sections = []
    for number, items in by_phone.items():
        rows = "".join(
            f'<li class="msg" data-phone="{html.escape(number)}"><time>'
            f'{dt.datetime.fromtimestamp(m.received_at, _SHANGHAI):%Y-%m-%d %H:%M:%S}</time>'
            f"<p>{html.escape(m.text)}</p></li>" for m in items)
        sections.append(f'<section class="phone" data-phone="{html.escape(number)}"><h2>{html.escape(number)}</h2>'
                        f"<ol>{rows}</ol></section>")
    body = "".join(sections) or '<p class="empty">还没有收到短信。</p>'
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>短信网关模拟器</title><style>{_CSS}</style></head>
<body><header><h1>短信网关模拟器</h1><p>演示环境：平台发出的短信都送到这里，按手机号列出（最新在前）。</p></header>
<main><form method="get" action="/"><input name="phone" inputmode="numeric" maxlength="11" placeholder="按手机号筛选"
 value="{html.escape(phone)}" aria-label="手机号"><button type="submit">查看</button></form>
<p><a class="button" href="/{'?phone=' + html.escape(phone) if phone else ''}">刷新</a></p>{body}</main></body></html>"""


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (the base class's name)
        if os.environ.get("SMS_SIM_VERBOSE"):
            super().log_message(format, *args)


def build_server(host: str, port: int, *, store: Store | None = None, token: str | None = DEV_TOKEN
                 ) -> tuple[WSGIServer, SmsGatewayApp]:
    app = SmsGatewayApp(store or Store(), token=token)
    server = make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    return server, app


class SmsSimulator:
    """A simulator running in a thread of this process (tests): `.url`, `.messages()`, `.stop()`."""

    def __init__(self, server: WSGIServer, app: SmsGatewayApp, thread: threading.Thread) -> None:
        self.server, self.app, self.thread = server, app, thread
        raw_host, port = server.server_address[:2]
        host = raw_host.decode() if isinstance(raw_host, bytes) else raw_host
        self.base_url = f"http://{host}:{port}"
        self.url = f"{self.base_url}/v1/messages"

    @classmethod
    def start(cls, host: str = "127.0.0.1", port: int = 0, *, token: str | None = DEV_TOKEN) -> SmsSimulator:
        server, app = build_server(host, port, token=token)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                  name="sms-simulator", daemon=True)
        thread.start()
        return cls(server, app, thread)

    def messages(self, phone: str | None = None) -> list[Message]:
        return self.app.store.messages(phone)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_sms_simulator(port: int = 8025, *, host: str = "127.0.0.1", db_path: str | None = None,
                        token: str | None = None, wait: float = 10.0) -> subprocess.Popen[bytes]:
    """Start the simulator as a subprocess and return once it listens (for `tongban demo`).

    The token defaults to TONGBAN_SMS_GATEWAY_TOKEN or the development token, as the platform's
    default settings do. Stop it with `process.terminate()`.
    """
    from sim._process import start_module

    args = ["--host", host, "--port", str(port)]
    if db_path:
        args += ["--db", db_path]
    env = dict(os.environ)
    if token is not None:
        env[TOKEN_ENV] = token
    return start_module("sim.sms_gateway", args, host=host, port=port, label="SMS simulator", wait=wait, env=env)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sim.sms_gateway", description="短信网关模拟器")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--db", default="", help="SQLite file for the messages (default: in memory)")
    args = parser.parse_args(argv)
    token = os.environ.get(TOKEN_ENV, "").strip() or DEV_TOKEN
    server, _ = build_server(args.host, args.port, store=Store(args.db or ":memory:"), token=token)
    print(f"短信网关模拟器 / SMS gateway simulator: http://{args.host}:{args.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
