"""The national platform's exchange interface, behind one class chosen in settings (STYLE habit 7): batches
in, the daily digest and the key list out. HTTP on loopback to the simulator in tests and the demo."""

from __future__ import annotations

import http.client
import json
import threading
import urllib.parse
from typing import Any

from tongban.exchange.conf import conf


class TransportError(Exception):
    """The counterpart did not answer usefully (refused connection, timeout, 5xx): nobody's message is at
    fault, the lane waits and tries again."""


class HttpExchangeClient:
    def __init__(self, url: str | None = None, timeout: float | None = None) -> None:
        cfg = conf()
        self.url = (url or cfg.url).rstrip("/")
        self.timeout = timeout if timeout is not None else cfg.timeout
        parts = urllib.parse.urlsplit(self.url)
        self._host, self._port, self._prefix = parts.hostname or "127.0.0.1", parts.port or 80, parts.path
        self._local = threading.local()  # one keep-alive connection per thread

    def _conn(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _request(self, method: str, path: str, body: bytes | None = None,
                 headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
        for attempt in (1, 2):  # a keep-alive connection the server closed: one fresh try
            conn = self._conn()
            try:
                conn.request(method, self._prefix + path, body=body, headers=headers or {})
                response = conn.getresponse()
                data = response.read()
                status = response.status
                break
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._local.conn = None
                if attempt == 2 or isinstance(exc, TimeoutError):
                    raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        try:
            payload = json.loads(data) if data else {}
        except ValueError:
            payload = {"raw": data[:200].decode(errors="replace")}
        return status, payload if isinstance(payload, dict) else {"value": payload}

    def send_batch(self, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        status, payload = self._request("POST", "/exchange/batches", body,
                                        {"Content-Type": "application/json", **headers})
        if status >= 500 or status == 429:
            raise TransportError(f"HTTP {status}: {str(payload)[:200]}")
        return status, payload

    def digest(self, day: str) -> dict[str, Any]:
        status, payload = self._request("GET", f"/exchange/digest?date={day}")
        if status != 200:
            raise TransportError(f"HTTP {status}")
        return payload

    def keys(self, type_: str, day: str) -> list[str]:
        status, payload = self._request("GET", f"/exchange/keys?type={urllib.parse.quote(type_)}&date={day}")
        if status != 200:
            raise TransportError(f"HTTP {status}")
        return list(payload.get("keys", []))

    def log(self) -> list[dict[str, Any]]:
        status, payload = self._request("GET", "/exchange/log")
        if status != 200:
            raise TransportError(f"HTTP {status}")
        return list(payload.get("entries", []))


_client: HttpExchangeClient | None = None
_client_lock = threading.Lock()


def get_client() -> HttpExchangeClient:
    global _client
    with _client_lock:
        if _client is None or _client.url != conf().url.rstrip("/"):
            _client = HttpExchangeClient()
        return _client
