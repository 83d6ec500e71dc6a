"""The fault suite's harness (issue 12): a real server (`tongban serve`, granian, one worker of four threads)
on the test databases, some of its dependencies behind a FaultProxy, partner requests signed as a partner
would, and a recorder of every answer and of /healthz's latency.

The server runs with production-like budgets made short so the suite stays quick: a source's statement
timeout 1 s (its client-side deadline 2 s), the platform database's 2 s (deadline 3 s), Redis 0.5 s.
"""

from __future__ import annotations

import datetime
import http.client
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("population", "idcard", "traffic", "exitentry", "criminal")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def resident_id(serial: int, birth: str = "19900307", region: str = "110101") -> str:
    body = f"{region}{birth}{serial:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check


def make_people(count: int = 20) -> list[dict[str, str]]:
    """People with a normal registry status and a valid current card (valid until 2040), in the sources."""
    from tongban.registry.models import IdCard, Person

    people = []
    for serial in range(count):
        number = resident_id(100 + serial)
        name = f"测试{'甲乙丙丁戊己庚辛壬癸'[serial % 10]}{serial}"
        Person.objects.using("population").create(
            id_number=number, name=name, sex=1, ethnicity="01", birth_date=datetime.date(1990, 3, 7),
            region_code="110101", address="北京市东城区测试路1号", status="normal")
        IdCard.objects.using("idcard").create(
            id_number=number, name=name, issuing_authority="北京市公安局东城分局",
            valid_from=datetime.date(2020, 1, 1), valid_to=datetime.date(2040, 1, 1), issue_reason="first",
            status="valid", photo_id=1)
        people.append({"id_number": number, "name": name, "valid_from": "2020-01-01", "valid_to": "2040-01-01"})
    return people


def make_signer() -> Any:
    from tests.partners.conftest import make_partner
    from tongban.partners.models import PurposeCode

    PurposeCode.objects.get_or_create(code="gov_service", defaults={"name": "政务服务办理"})  # a flush may have

    return make_partner(levels=("l1", "l2"), purposes=("gov_service",), rate_per_second=100_000,
                        rate_per_minute=1_000_000, daily_quota=100_000_000)


def db_url(alias: str, port: int | None = None) -> str:
    conf = connections[alias].settings_dict
    name = conf["NAME"]
    if connections[alias].vendor == "sqlite":
        return f"sqlite:///{Path(name).resolve()}"
    return f"postgresql://{conf['USER']}@127.0.0.1:{port or conf['PORT']}/{name}"


@dataclass
class Answer:
    sent: float  # monotonic
    elapsed: float
    status: int  # 0: no HTTP answer at all (connection error, client timeout)
    headers: dict[str, str]
    body: Any
    kind: str


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    signer: Any = None
    people: list[dict[str, str]] = field(default_factory=list)

    def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None, *,
                timeout: float = 15.0, kind: str = "") -> Answer:
        started = time.monotonic()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body or None, headers=headers or {})
            response = conn.getresponse()
            raw = response.read()
            status, answer_headers = response.status, {k.lower(): v for k, v in response.getheaders()}
        except OSError:
            return Answer(started, time.monotonic() - started, 0, {}, None, kind)
        finally:
            conn.close()
        try:
            parsed: Any = json.loads(raw)
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return Answer(started, time.monotonic() - started, status, answer_headers, parsed, kind)

    def healthz(self) -> Answer:
        return self.request("GET", "/healthz", timeout=5, kind="healthz")

    def verify(self, person: dict[str, str], level: str, *, nonce: str | None = None) -> Answer:
        path = "/partner/v1/verifications"
        payload = {"id_type": "resident_id", "id_number": person["id_number"], "name": person["name"],
                   "level": level, "purpose": "gov_service"}
        if level == "l2":
            payload.update(valid_from=person["valid_from"], valid_to=person["valid_to"])
        body = json.dumps(payload, ensure_ascii=False).encode()
        wsgi = self.signer.headers("POST", path, body, nonce=nonce)
        headers = {key[5:].replace("_", "-").title(): value for key, value in wsgi.items()}
        headers["Content-Type"] = "application/json"
        return self.request("POST", path, body, headers, kind=level)

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    pass
        return lines


def start_server(tmp_path: Path, env_extra: dict[str, str], *, threads: int = 4) -> Server:
    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", "TONGBAN_LOG_LEVEL": "INFO",
           "TONGBAN_LOG_JSON": "true", "TONGBAN_PARTNER_IDENTITY_LIMIT_PER_HOUR": "1000000",
           "TONGBAN_PARTNER_APP_CACHE_SECONDS": "0", "TONGBAN_PARTNER_METER_FLUSH_SECONDS": "5",
           "TONGBAN_SOURCE_TIMEOUT_MS": "1000", "TONGBAN_DATABASE_STATEMENT_TIMEOUT_MS": "2000",
           "TONGBAN_REDIS_TIMEOUT_MS": "500", "TONGBAN_REDIS_CONNECT_TIMEOUT_MS": "500",
           "TONGBAN_DEPENDENCY_MAX_COOLDOWN_MS": "2000", "TONGBAN_DB_TCP_USER_TIMEOUT_MS": "3000"}
    env.pop("TONGBAN_REDIS_URL", None)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(env_extra)
    log_path = tmp_path / f"server-{port}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "tongban"), "serve", "--port", str(port),
                             "--workers", "1", "--threads", str(threads)],
                            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    server = Server(proc, port, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log_path.read_text()
        if server.healthz().status == 200:
            return server
        time.sleep(0.2)
    stop_server(server)
    raise AssertionError(f"the server did not start: {log_path.read_text()[-3000:]}")


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait()


class Load:
    """Background callers: `callers` threads each repeating `call()`, plus /healthz every 100 ms."""

    def __init__(self, server: Server, calls: dict[str, tuple[int, Any]]) -> None:
        self.server = server
        self.answers: list[Answer] = []
        self.health: list[Answer] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._health, daemon=True)]
        for kind, (count, call) in calls.items():
            for _ in range(count):
                self._threads.append(threading.Thread(target=self._loop, args=(call,), name=kind, daemon=True))

    def _loop(self, call: Any) -> None:
        while not self._stop.is_set():
            self.answers.append(call())

    def _health(self) -> None:
        while not self._stop.is_set():
            self.health.append(self.server.healthz())
            time.sleep(0.1)

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def sent_between(self, start: float, end: float, kind: str) -> list[Answer]:
        """Answers to requests sent in [start, end), whenever they were answered."""
        return [a for a in list(self.answers) if start <= a.sent < end and a.kind == kind]

    def between(self, start: float, end: float, kind: str | None = None) -> list[Answer]:
        """Answers to requests sent in [start, end) and answered by `end`."""
        return [a for a in list(self.answers) if start <= a.sent < end and a.sent + a.elapsed <= end
                and (kind is None or a.kind == kind)]


def random_nonce() -> str:
    return secrets.token_urlsafe(18)


@pytest.fixture
def postgresql_only():
    if connections["default"].vendor != "postgresql":
        pytest.skip("a proxy in front of a database needs PostgreSQL's TCP connections")
