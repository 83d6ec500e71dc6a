"""Benchmark: L2 verifications through the signed partner API, 1,000,000 people on PostgreSQL (issue 4).

The claim (docs/performance.md, "Partner verification API"): on this 2-core machine ≥ 1,000
verifications/s with 32 concurrent clients, p99 ≤ 50 ms when paced at 1,000/s, and ≥ 25 % of the
ceiling — the same two source look-ups and audit INSERT + COMMIT done directly with psycopg in as
many processes as saturate the machine.

    .venv/bin/python bench/verify.py                      # everything: ceiling, closed loop, paced (~6 min)
    .venv/bin/python bench/verify.py --seconds 10 --runs 1 --skip-ceiling    # a quick look
    .venv/bin/python bench/verify.py --workers 3 --threads 1 --cache redis

What it does, all on 127.0.0.1:

1. Its own databases (`tongban_vbench` and `tongban_vbench_<source>`): `tongban setup`, then
   `tongban registry generate --people 1000000 --seed 2026` unless the population database carries
   the marker comment for that count and seed.
2. A partner app with a generated SM2 key and limits that do not get in the way (a benchmark app).
3. Random real people whose current ID card is valid (id, name, validity from the source databases),
   one person per request, each request signed with a unique nonce *before* the timed window
   (two signing processes).
4. The ceiling: N processes (--ceiling-procs) each doing population look-up, ID-card look-up and one
   INSERT into a copy of the audit table + COMMIT, with psycopg directly; the best N counts.
5. `tongban serve --server granian|gunicorn` (granian by default), DEBUG off, the request log line kept (INFO, to a file, as an
   operator would have it), the job worker out of process as in production.
6. (a) closed loop: `wrk` with 32 connections for --seconds, a Lua script feeding the pre-signed
   requests; (b) open loop: a separate asyncio process sending --rate requests/s on schedule and
   timing each answer from its *scheduled* send time (no coordinated omission). --runs of each;
   the median run is reported. Any answer other than 200 counts as an error.

Prints the machine, the load average before each run and the PostgreSQL settings that decide how a
COMMIT is flushed. Needs `wrk` (Debian: apt-get install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from _common import machine, proc_cpu, process_tree

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/tongban_vbench"
PATH = "/partner/v1/verifications"
MARKER = "tongban-vbench people={people} seed={seed}"
PG_SETTINGS = ("synchronous_commit", "commit_delay", "commit_siblings", "wal_sync_method", "fsync",
               "full_page_writes", "wal_buffers", "shared_buffers", "max_connections")


# -- the environment and the data -----------------------------------------------------------------------------


def server_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "TONGBAN_DATABASE_URL": args.database_url,
        "TONGBAN_ENV": "development",  # production settings want TLS, secrets and Redis; the hot path is the same
        "TONGBAN_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings.development",
        "TONGBAN_LOG_LEVEL": args.log_level,
        "TONGBAN_INPROCESS_WORKER": "false",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    })
    env.pop("TONGBAN_REDIS_URL", None)
    if args.cache == "redis":
        env["TONGBAN_REDIS_URL"] = args.redis_url
    return env


def _source_url(url: str, alias: str) -> str:
    base, _, name = url.rpartition("/")
    return f"{base}/{name}_{alias}"


def ensure_data(args: argparse.Namespace, env: dict[str, str]) -> None:
    import psycopg

    subprocess.run([str(BIN / "tongban"), "setup"], env={**env, "TONGBAN_LOG_LEVEL": "WARNING"}, check=True,
                   stdout=subprocess.DEVNULL)
    marker = MARKER.format(people=args.people, seed=args.seed)
    population = _source_url(args.database_url, "population")
    dbname = population.rpartition("/")[2]
    with psycopg.connect(population, autocommit=True) as conn:
        row = conn.execute("SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
                           (dbname,)).fetchone()
    if row and row[0] == marker:
        print(f"data: {args.people:,} people already loaded (marker on {dbname})")
        return
    print(f"data: generating {args.people:,} people, seed {args.seed} …", flush=True)
    started = time.perf_counter()
    subprocess.run([str(BIN / "tongban"), "registry", "generate", "--people", str(args.people), "--seed",
                    str(args.seed), "--no-progress"], env={**env, "TONGBAN_LOG_LEVEL": "WARNING"}, check=True,
                   stdout=subprocess.DEVNULL)
    with psycopg.connect(population, autocommit=True) as conn:
        conn.execute(f'COMMENT ON DATABASE "{dbname}" IS ' + "'" + marker + "'")
    print(f"data: generated in {time.perf_counter() - started:.1f} s")


def django_setup(env: dict[str, str]) -> None:
    for key in ("TONGBAN_DATABASE_URL", "TONGBAN_ENV", "TONGBAN_DEBUG", "DJANGO_SETTINGS_MODULE", "TONGBAN_LOG_LEVEL",
                "TONGBAN_INPROCESS_WORKER"):
        os.environ[key] = env[key]
    os.environ["TONGBAN_LOG_LEVEL"] = "WARNING"
    if "TONGBAN_REDIS_URL" in env:
        os.environ["TONGBAN_REDIS_URL"] = env["TONGBAN_REDIS_URL"]
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()


def create_app() -> tuple[str, str]:
    """A benchmark app: L1/L2, gov_service, limits high enough never to refuse the load."""
    from tongban.audit.services import Actor
    from tongban.partners import services

    actor = Actor.system("bench.verify")
    org = services.organisation_get_or_create(name="性能测试", kind="system", region_code="", actor=actor)
    new = services.partner_app_create(organisation=org, name=f"bench-{secrets.token_hex(3)}", actor=actor,
                                      levels=["l1", "l2"], purposes=["gov_service"], daily_quota=1_000_000_000,
                                      rate_per_second=1_000_000, rate_per_minute=60_000_000)
    assert new.private_key_pem
    return new.app.app_id, new.private_key_pem


def pick_people(url: str, n: int, seed: int) -> list[tuple[str, str, str, str]]:
    """n random people with a normal registry status and a current, valid ID card: (number, name, from, to)."""
    import datetime as dt

    import psycopg

    today = dt.date.today()
    with psycopg.connect(_source_url(url, "idcard"), autocommit=True) as conn:
        rows = conn.execute("SELECT DISTINCT ON (id_number) id_number, valid_from, valid_to, status FROM idcard_card "
                            "ORDER BY id_number, valid_from DESC").fetchall()
    cards = [(r[0], r[1], r[2]) for r in rows if r[3] == "valid" and (r[2] is None or r[2] > today + dt.timedelta(days=2))]
    rng = random.Random(seed)
    sample = rng.sample(cards, min(len(cards), int(n * 1.1) + 100))
    names: dict[str, str] = {}
    with psycopg.connect(_source_url(url, "population"), autocommit=True) as conn:
        for i in range(0, len(sample), 50_000):
            names.update(conn.execute("SELECT id_number, name FROM population_person WHERE status = 'normal' "
                                      "AND id_number = ANY(%s)", ([c[0] for c in sample[i:i + 50_000]],)).fetchall())
    people = [(number, names[number], start.isoformat(), end.isoformat() if end else "长期")
              for number, start, end in sample if number in names]
    if len(people) < n:
        raise SystemExit(f"only {len(people):,} eligible people for {n:,} requests: load more people")
    return people[:n]


# -- pre-signed requests ------------------------------------------------------------------------------------------

_KEY: Any = None


def _signer_init(pem: str) -> None:
    global _KEY
    sys.path[:0] = [str(ROOT / "src")]
    from tongban.crypto.sm2 import SM2PrivateKey

    _KEY = SM2PrivateKey.from_pem(pem)


def _sign_chunk(job: tuple[Any, ...]) -> list[str]:
    from tongban.client import canonical_request

    timestamp, people = job[0], job[1]
    level = job[2] if len(job) > 2 else "l2"
    lines = []
    for number, name, start, end in people:
        fields = {"id_type": "resident_id", "id_number": number, "name": name, "level": level,
                  "purpose": "gov_service"}
        if level == "l2":
            fields.update(valid_from=start, valid_to=end)
        body = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
        nonce = secrets.token_urlsafe(18)
        signature = _KEY.sign(canonical_request("POST", PATH, timestamp, nonce, body.encode()), fmt="raw")
        lines.append(f"{timestamp}\t{nonce}\t{base64.b64encode(signature).decode()}\t{body}")
    return lines


def presign(pool: Any, people: list[tuple[str, str, str, str]], out: Path, level: str = "l2") -> Path:
    """Sign one request per person now (timestamp a minute ahead: valid for the next ~6 minutes)."""
    timestamp = str(int(time.time()) + 60)
    chunks = [(timestamp, people[i:i + 2000], level) for i in range(0, len(people), 2000)]
    with open(out, "w", encoding="utf-8") as fh:
        for lines in pool.imap(_sign_chunk, chunks):
            fh.write("\n".join(lines) + "\n")
    return out


# -- the server ------------------------------------------------------------------------------------------------


def start_server(args: argparse.Namespace, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    cmd = [str(BIN / "tongban"), "serve", "--server", args.server, "--host", "127.0.0.1", "--port", str(args.port),
           "--workers", str(args.workers), "--threads", str(args.threads)]
    log = open(log_path, "ab")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode}); see {log_path}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{args.port}/partner/v1/keys", timeout=2) as r:
                if r.status == 200:
                    time.sleep(1.0 if args.server == "gunicorn" else 2.0)  # let every worker finish booting
                    return proc
        except OSError:
            time.sleep(0.3)
    stop_server(proc)
    raise SystemExit(f"the server did not answer within 60 s; see {log_path}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# -- (a) closed loop: wrk ---------------------------------------------------------------------------------------

WRK_LUA = r"""
-- Each wrk thread sends its own slice of the pre-signed requests, each once.
local app = os.getenv("VBENCH_APP")
local file = os.getenv("VBENCH_REQS")
local nthreads = tonumber(os.getenv("VBENCH_THREADS"))
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  reqs = {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id then
      local ts, nonce, sig, body = line:match("([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)")
      reqs[#reqs + 1] = wrk.format("POST", os.getenv("VBENCH_PATH"), {
        ["Content-Type"] = "application/json", ["X-Tongban-App"] = app, ["X-Tongban-Timestamp"] = ts,
        ["X-Tongban-Nonce"] = nonce, ["X-Tongban-Signature"] = sig}, body)
    end
    i = i + 1
  end
  pos = 0
end
function request()
  pos = pos + 1
  if pos > #reqs then pos = 1 end  -- a repeat is a replayed nonce: it shows up as an error
  return reqs[pos]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('VBENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"p999_us":%d,"max_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def run_wrk(args: argparse.Namespace, app_id: str, reqs: Path, lua: Path, seconds: float,
            connections: int) -> dict[str, Any]:
    threads = 2
    env = {**os.environ, "VBENCH_APP": app_id, "VBENCH_REQS": str(reqs), "VBENCH_THREADS": str(threads),
           "VBENCH_PATH": PATH}
    out = subprocess.run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{int(seconds)}s",
                          "--timeout", "10s", "-s", str(lua), f"http://127.0.0.1:{args.port}{PATH}"],
                         env=env, capture_output=True, text=True, timeout=seconds + 120)
    line = next((x for x in out.stdout.splitlines() if x.startswith("VBENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk failed: {out.stdout}\n{out.stderr}")
    raw = json.loads(line[7:])
    errors = raw["connect"] + raw["read"] + raw["write"] + raw["status"] + raw["timeout"]
    return {"throughput": raw["requests"] / (raw["duration_us"] / 1e6), "requests": raw["requests"],
            "completed": raw["requests"],
            "p50_ms": raw["p50_us"] / 1000, "p90_ms": raw["p90_us"] / 1000, "p99_ms": raw["p99_us"] / 1000,
            "p999_ms": raw["p999_us"] / 1000, "max_ms": raw["max_us"] / 1000, "errors": errors,
            "error_kinds": {k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]}}


# -- (b) open loop: a paced asyncio sender (its own process) -----------------------------------------------------


def _requests_from(path: Path, app_id: str, port: int) -> list[bytes]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            ts, nonce, sig, body = line.rstrip("\n").split("\t", 3)
            data = body.encode()
            out.append((f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(data)}\r\nX-Tongban-App: {app_id}\r\nX-Tongban-Timestamp: {ts}\r\n"
                        f"X-Tongban-Nonce: {nonce}\r\nX-Tongban-Signature: {sig}\r\n\r\n").encode() + data)
    return out


class _Conn(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection; one request in flight at a time."""

    def __init__(self, client: _Paced) -> None:
        self.client = client
        self.transport: Any = None
        self.buf = bytearray()
        self.want = -1
        self.status = 0
        self.close_after = False
        self.scheduled = 0.0

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def send(self, request: bytes, scheduled: float) -> None:
        self.scheduled = scheduled
        self.buf.clear()
        self.want = -1
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.want < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            self.status = int(head[9:12])
            at = head.find(b"\r\ncontent-length:")
            length = int(head[at + 17:head.find(b"\r\n", at + 17) if head.find(b"\r\n", at + 17) > 0 else None]) \
                if at >= 0 else 0
            self.close_after = b"\r\nconnection: close" in head
            self.want = end + 4 + length
        if len(self.buf) >= self.want:
            self.want = -1
            self.client.finished(self, self.status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.lost(self)


class _Paced:
    def __init__(self, requests: list[bytes], port: int, rate: float, seconds: float, max_connections: int) -> None:
        self.requests = requests
        self.port = port
        self.rate = rate
        self.n = min(len(requests), int(rate * seconds))
        self.max_connections = max_connections
        self.idle: list[_Conn] = []
        self.busy: set[_Conn] = set()
        self.opening = 0
        self.waiting: list[tuple[bytes, float]] = []
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.errors = 0
        self.done = 0
        self.last = 0.0
        self.all_done: asyncio.Future[None] | None = None

    def _dispatch(self, request: bytes, scheduled: float) -> None:
        if self.idle:
            conn = self.idle.pop()
            self.busy.add(conn)
            conn.send(request, scheduled)
        elif len(self.busy) + self.opening < self.max_connections:
            self.opening += 1
            asyncio.ensure_future(self._open_and_send(request, scheduled))
        else:
            self.waiting.append((request, scheduled))

    async def _open_and_send(self, request: bytes, scheduled: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(lambda: _Conn(self), "127.0.0.1", self.port)
        except OSError:
            self.opening -= 1
            self._record(scheduled, None)
            return
        self.opening -= 1
        self.busy.add(conn)
        conn.send(request, scheduled)

    def _record(self, scheduled: float, status: int | None) -> None:
        self.done += 1
        if status is None:
            self.errors += 1
        else:
            self.last = time.perf_counter()
            self.latencies.append(self.last - scheduled)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status != 200:
                self.errors += 1
        if self.done >= self.n and self.all_done is not None and not self.all_done.done():
            self.all_done.set_result(None)

    def finished(self, conn: _Conn, status: int) -> None:
        self._record(conn.scheduled, status)
        self.busy.discard(conn)
        if conn.close_after:
            conn.transport.close()
            conn.want = -2  # answered; its close is not a failure
        else:
            self.idle.append(conn)
        if self.waiting:
            request, scheduled = self.waiting.pop(0)
            self._dispatch(request, scheduled)

    def lost(self, conn: _Conn) -> None:
        if conn in self.idle:
            self.idle.remove(conn)
        if conn in self.busy:
            self.busy.discard(conn)
            self._record(conn.scheduled, None)
            if self.waiting:
                request, scheduled = self.waiting.pop(0)
                self._dispatch(request, scheduled)

    async def run(self) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        self.all_done = loop.create_future()
        start = time.perf_counter() + 0.1
        i = 0
        while i < self.n:
            now = time.perf_counter()
            while i < self.n and start + i / self.rate <= now:
                self._dispatch(self.requests[i], start + i / self.rate)
                i += 1
            if i < self.n:
                await asyncio.sleep(max(0.0, start + i / self.rate - time.perf_counter()))
        sent_all = time.perf_counter()
        try:
            await asyncio.wait_for(self.all_done, timeout=15)
        except TimeoutError:
            pass
        unanswered = self.n - self.done
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] * 1000 if lat else float("nan")

        ok = self.statuses.get(200, 0)
        return {"throughput": ok / (max(sent_all, self.last) - start), "requests": self.n, "completed": ok, "p50_ms": pct(50), "p90_ms": pct(90),
                "p99_ms": pct(99), "p999_ms": pct(99.9), "max_ms": lat[-1] * 1000 if lat else float("nan"),
                "errors": self.errors + unanswered,
                "error_kinds": {**{str(k): v for k, v in self.statuses.items() if k != 200},
                                **({"unanswered": unanswered} if unanswered else {})}}


def paced_main(argv: list[str]) -> int:
    """`verify.py _paced <reqs> <app> <port> <rate> <seconds>`: prints one JSON line."""
    reqs, app_id, port, rate, seconds = argv
    requests = _requests_from(Path(reqs), app_id, int(port))
    result = asyncio.run(_Paced(requests, int(port), float(rate), float(seconds), 512).run())
    print("VBENCH " + json.dumps(result))
    return 0


def run_paced(args: argparse.Namespace, app_id: str, reqs: Path, seconds: float) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "_paced", str(reqs), app_id, str(args.port), str(args.rate),
                          str(seconds)], capture_output=True, text=True, timeout=seconds + 120)
    line = next((x for x in out.stdout.splitlines() if x.startswith("VBENCH ")), None)
    if line is None:
        raise SystemExit(f"the paced client failed: {out.stdout}\n{out.stderr}")
    return json.loads(line[7:])


# -- the ceiling: the same database work with psycopg directly -----------------------------------------------------

_ENTRY_SQL = ("INSERT INTO vbench_ceiling (occurred_at, actor_type, actor_id, action, subject_type, subject_id, "
              "outcome, client_ip, request_id, details, chain_id, seq, prev_hash, hash) "
              "VALUES (now(), 'partner_app', %s, 'verification.request', 'identity', %s, 'success', '127.0.0.1', "
              "%s, %s, %s, %s, %s, %s)")


def _ceiling_worker(url: str, numbers: list[str], start_at: float, seconds: float, queue: Any) -> None:
    import psycopg

    population = psycopg.connect(_source_url(url, "population"), autocommit=True)
    idcard = psycopg.connect(_source_url(url, "idcard"), autocommit=True)
    default = psycopg.connect(url)
    chain = secrets.token_hex(16)
    details = json.dumps({"app": "pa_bench", "channel": "partner_api", "id_type": "resident_id",
                          "level_reached": "l2", "level_requested": "l2", "passed": True, "purpose": "gov_service",
                          "reason": None, "audit_reason": None, "sources": ["population", "idcard"],
                          "verdicts": ["id_number=consistent", "name=consistent", "card_validity=consistent"],
                          "verification_id": "vf_aaaaaaaaaaaaa"})
    prev = "0" * 64
    while time.time() < start_at:
        time.sleep(0.005)
    deadline = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < deadline:
        number = numbers[n % len(numbers)]
        population.execute("SELECT name, status FROM population_person WHERE id_number = %s", (number,)).fetchone()
        idcard.execute("SELECT valid_from, valid_to, status FROM idcard_card WHERE id_number = %s "
                       "ORDER BY valid_from DESC", (number,)).fetchall()
        digest = secrets.token_hex(32)
        default.execute(_ENTRY_SQL, ("pa_bench", f"v1.{digest[:56]}", secrets.token_hex(16), details, chain, n + 1,
                                     prev, digest))
        default.commit()
        prev = digest
        n += 1
    queue.put(n)
    for conn in (population, idcard, default):
        conn.close()


def ceiling(args: argparse.Namespace, numbers: list[str]) -> dict[int, float]:
    import psycopg

    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS vbench_ceiling")
        conn.execute("CREATE TABLE vbench_ceiling (LIKE audit_auditentry INCLUDING ALL)")
    results: dict[int, float] = {}
    ctx = multiprocessing.get_context("fork")
    try:
        for procs in args.ceiling_procs:
            queue = ctx.Queue()
            start_at = time.time() + 1.0
            workers = [ctx.Process(target=_ceiling_worker, args=(args.database_url, numbers[i::procs], start_at,
                                                                 args.ceiling_seconds, queue)) for i in range(procs)]
            for w in workers:
                w.start()
            total = sum(queue.get(timeout=args.ceiling_seconds + 60) for _ in workers)
            for w in workers:
                w.join()
            results[procs] = total / args.ceiling_seconds
            print(f"ceiling: {procs} processes → {results[procs]:,.0f} ops/s   (load {_load()})", flush=True)
    finally:
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS vbench_ceiling")
    return results


# -- CPU accounting: what one verification costs, whatever else the machine is doing ------------------------



class CpuMeter:
    """CPU seconds used by the server's processes and by the PostgreSQL backends serving them.

    Connections are recycled (CONN_MAX_AGE) and workers may be replaced during a run, so a background
    thread samples every process twice a second and keeps the last CPU figure seen for each: a backend
    that ends mid-run still counts up to its last sample (at most half a second of it is missed)."""

    def __init__(self, url: str, server_pid: int) -> None:
        import threading

        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        self.dbname = url.rpartition("/")[2]
        self.server_pid = server_pid
        self._seen: dict[str, dict[int, float]] = {"server": {}, "postgres": {}}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _backends(self) -> list[int]:
        rows = self.conn.execute("SELECT pid FROM pg_stat_activity WHERE datname LIKE %s AND pid <> pg_backend_pid()",
                                 (self.dbname + "%",)).fetchall()
        return [r[0] for r in rows]

    def _now(self) -> dict[str, dict[int, float]]:
        server = {pid: proc_cpu(pid) for pid in process_tree(self.server_pid)}
        with self._lock:
            backends = {pid: proc_cpu(pid) for pid in self._backends()}
        return {"server": server, "postgres": backends}

    def _poll(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def sample(self) -> dict[str, Any]:
        """Every process seen so far with its latest CPU figure (a process that ended keeps its last one)."""
        now = self._now()
        with self._lock:
            for kind, cpus in now.items():
                for pid, cpu in cpus.items():
                    if cpu > 0 or pid not in self._seen[kind]:
                        self._seen[kind][pid] = max(cpu, self._seen[kind].get(pid, 0.0))
            return {kind: dict(cpus) for kind, cpus in self._seen.items()}

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)

    @staticmethod
    def used(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
        # Processes that started during the run count from zero.
        return {kind: sum(cpu - before[kind].get(pid, 0.0) for pid, cpu in after[kind].items())
                for kind in ("server", "postgres")}


# -- reporting ------------------------------------------------------------------------------------------------


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def pg_settings(url: str) -> dict[str, str]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        out = {name: str(conn.execute(f"SHOW {name}").fetchone()[0]) for name in PG_SETTINGS}  # noqa: S608
        out["server_version"] = str(conn.execute("SHOW server_version").fetchone()[0])
    return out


def _fmt(r: dict[str, Any]) -> str:
    kinds = f" {r['error_kinds']}" if r.get("error_kinds") else ""
    cpu = r.get("cpu_ms")
    cpu_text = (f"  cpu/req: server {cpu['server']:.2f} + pg {cpu['postgres']:.2f} + client {cpu['client']:.2f} ms"
                if cpu else "")
    return (f"{r['throughput']:8,.0f}/s  p50 {r['p50_ms']:6.2f} ms  p90 {r['p90_ms']:6.2f} ms  "
            f"p99 {r['p99_ms']:6.2f} ms  max {r['max_ms']:7.1f} ms  errors {r['errors']}{kinds}{cpu_text}")


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {key: statistics.median(r[key] for r in runs) for key in
                           ("throughput", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms", "errors")}
    if all("cpu_ms" in r for r in runs):
        out["cpu_ms"] = {k: statistics.median(r["cpu_ms"][k] for r in runs) for k in ("server", "postgres", "client")}
    return out


# -- issue 12: a source hung (a proxy that accepts and never answers) ---------------------------------------------


def _l2_caller(port: int, app_id: str, lines: list[str], stop: Any, counts: dict[int, int]) -> None:
    """Sends pre-signed L2 requests one after another until `stop`; counts the answers by status."""
    import http.client

    for line in lines:
        if stop.is_set():
            return
        ts, nonce, sig, body = line.rstrip("\n").split("\t", 3)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            conn.request("POST", PATH, body=body.encode(), headers={
                "Content-Type": "application/json", "X-Tongban-App": app_id, "X-Tongban-Timestamp": ts,
                "X-Tongban-Nonce": nonce, "X-Tongban-Signature": sig})
            response = conn.getresponse()
            response.read()
            counts[response.status] = counts.get(response.status, 0) + 1
        except OSError:
            counts[0] = counts.get(0, 0) + 1
        finally:
            conn.close()


def hung_source(args: argparse.Namespace, env: dict[str, str], app_id: str, pem: str, info: dict[str, str],
                server_desc: str) -> int:
    """L1 through the partner API, closed loop (wrk), normal and with `--hung-source` hung, alternating runs
    in one server's life. In both, `--l2-callers` keep sending L2 requests (the same offered load), so while
    hung the source is really asked (its bulkhead and breaker at work). Claim: hung ≥ 80 % of normal
    (docs/performance.md)."""
    import threading

    sys.path.insert(0, str(ROOT))
    from tests.faults.proxy import FaultProxy

    source_url = _source_url(args.database_url, args.hung_source)
    target = int(source_url.rpartition("@")[2].split("/")[0].rpartition(":")[2] or 5432)
    proxy = FaultProxy(target)
    env = {**env, f"TONGBAN_SOURCE_{args.hung_source.upper()}_DATABASE_URL":
           source_url.replace(f":{target}/", f":{proxy.port}/")}
    per_run = int(args.seconds * 3000) + 2000
    people = pick_people(args.database_url, 8000 + (per_run + 3000) * 2 * args.runs, random.randrange(1 << 30))
    work = Path(tempfile.mkdtemp(prefix="vbench-hung-"))
    lua = work / "verify.lua"
    lua.write_text(WRK_LUA)
    pool = multiprocessing.get_context("fork").Pool(2, initializer=_signer_init, initargs=(pem,))
    proc = start_server(args, env, work / "server.log")
    results: dict[str, Any] = {"machine": info, "server": server_desc, "hung_source": args.hung_source,
                               "normal": [], "hung": [], "l2_answers": {}}
    print(f"hung source: {args.hung_source} behind 127.0.0.1:{proxy.port}; L1 closed loop, {args.connections} "
          f"connections, {args.seconds:.0f} s runs; {args.l2_callers} L2 callers while hung", flush=True)
    try:
        warm = run_wrk(args, app_id, presign(pool, people[:8000], work / "warm.tsv", "l1"), lua, 4,
                       args.connections)
        print(f"warm-up: {_fmt(warm)}", flush=True)
        at = 8000
        for i in range(args.runs):
            for kind in ("normal", "hung"):
                reqs = presign(pool, people[at:at + per_run], work / f"{kind}{i}.tsv", "l1")
                at += per_run
                stop, callers, counts = threading.Event(), [], {}
                # The same L2 callers in both kinds of run (the same offered load); only the source differs.
                l2 = presign(pool, people[at:at + 3000], work / f"l2-{kind}{i}.tsv", "l2").read_text().splitlines()
                at += 3000
                if kind == "hung":
                    proxy.set_mode("hang")
                for c in range(args.l2_callers):
                    t = threading.Thread(target=_l2_caller, args=(args.port, app_id, l2[c::args.l2_callers],
                                                                  stop, counts), daemon=True)
                    t.start()
                    callers.append(t)
                time.sleep(1.0)  # the L2 callers (and, hung, the hung source) at work before the run starts
                load = _load()
                r = run_wrk(args, app_id, reqs, lua, args.seconds, args.connections)
                r["load_before"] = load
                stop.set()
                for t in callers:
                    t.join(35)
                proxy.set_mode("pass")
                r["l2_answers"] = counts
                if kind == "hung":
                    time.sleep(8.0)  # the breaker probes the source again and closes
                results[kind].append(r)
                print(f"{kind:>6} run {i + 1}: {_fmt(r)}   (load before {load}), L2 answers by status {counts}",
                      flush=True)
    finally:
        stop_server(proc)
        pool.close()
        proxy.close()
    normal, hung = median_run(results["normal"]), median_run(results["hung"])
    ratio = hung["throughput"] / normal["throughput"] if normal["throughput"] else 0.0
    results["ratio"] = ratio
    print(f"summary ({server_desc}, median of {args.runs}): L1 normal {normal['throughput']:,.0f}/s, with "
          f"{args.hung_source} hung {hung['throughput']:,.0f}/s = {ratio:.0%} of normal   goal ≥ 80 % "
          f"{'✔' if ratio >= 0.8 else '✘'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0 if ratio >= 0.8 else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32, help="closed loop: concurrent clients")
    parser.add_argument("--rate", type=float, default=1000, help="open loop: requests per second")
    parser.add_argument("--server", choices=("granian", "gunicorn"), default="granian",
                        help="the server `tongban serve --server` starts (granian, the default, or gunicorn)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1,
                        help="per worker (TONGBAN_WEB_THREADS); each thread holds 3 DB connections. 1 is what an "
                             "API node runs: 2 × 1 measured ~10 %% faster than 2 × 2 (docs/performance.md)")
    parser.add_argument("--port", type=int, default=8191)
    parser.add_argument("--cache", choices=("locmem", "redis"), default="locmem")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    parser.add_argument("--log-level", default="INFO", help="INFO keeps the per-request log line (default)")
    parser.add_argument("--ceiling-procs", type=lambda s: [int(x) for x in s.split(",")], default=[2, 4, 6, 8])
    parser.add_argument("--ceiling-seconds", type=float, default=10)
    parser.add_argument("--skip-ceiling", action="store_true")
    parser.add_argument("--only", choices=("closed", "paced"), default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--hung-source", choices=("idcard", "population", "traffic", "exitentry"), default=None,
                        help="issue 12: L1 throughput with this source hung behind a proxy (hang mode) against "
                             "its normal throughput, alternating runs; L2 calls keep asking the hung source")
    parser.add_argument("--l2-callers", type=int, default=4,
                        help="--hung-source: concurrent L2 callers that keep asking the hung source")
    args = parser.parse_args()
    if shutil.which("wrk") is None and args.only != "paced":
        raise SystemExit("wrk is needed for the closed loop (apt-get install wrk)")

    info = machine()
    print("machine:", ", ".join(f"{k} {v}" for k, v in info.items()))
    env = server_env(args)
    ensure_data(args, env)
    settings_pg = pg_settings(args.database_url)
    print("postgresql:", ", ".join(f"{k}={v}" for k, v in settings_pg.items()))
    server_desc = f"{args.server} {args.workers} workers × {args.threads} threads"
    if args.server == "granian":
        version = subprocess.run([str(BIN / "granian"), "--version"], capture_output=True, text=True).stdout.strip()
        server_desc += f" ({version})"
    print(f"server: {server_desc}, cache {args.cache}, log level {args.log_level}; load {_load()}")

    django_setup(env)
    app_id, pem = create_app()
    from django.db import connections

    for alias in connections:
        connections[alias].close()
    if args.hung_source:
        return hung_source(args, env, app_id, pem, info, server_desc)
    warm_n = 8000
    closed_n = int(args.seconds * 3000) + 2000
    paced_n = int(args.seconds * args.rate) + 100
    runs_closed = 0 if args.only == "paced" else args.runs
    runs_paced = 0 if args.only == "closed" else args.runs
    total = warm_n + closed_n * runs_closed + paced_n * runs_paced
    started = time.perf_counter()
    people = pick_people(args.database_url, total, random.randrange(1 << 30))
    print(f"people: {len(people):,} drawn ({time.perf_counter() - started:.1f} s); app {app_id}", flush=True)

    results: dict[str, Any] = {"machine": info, "postgresql": settings_pg, "server": server_desc,
                               "cache": args.cache, "log_level": args.log_level, "closed": [], "paced": []}
    if not args.skip_ceiling:
        results["ceiling"] = ceiling(args, [p[0] for p in people[:200_000]])

    work = Path(tempfile.mkdtemp(prefix="vbench-"))
    lua = work / "verify.lua"
    lua.write_text(WRK_LUA)
    log_path = work / "server.log"
    pool = multiprocessing.get_context("fork").Pool(2, initializer=_signer_init, initargs=(pem,))
    slices = iter([people[:warm_n]] + [people[warm_n + i * closed_n: warm_n + (i + 1) * closed_n]
                                       for i in range(runs_closed)]
                  + [people[warm_n + runs_closed * closed_n + i * paced_n:
                            warm_n + runs_closed * closed_n + (i + 1) * paced_n] for i in range(runs_paced)])
    proc = start_server(args, env, log_path)
    try:
        warm = run_wrk(args, app_id, presign(pool, next(slices), work / "warm.tsv"), lua, 4, args.connections)
        print(f"warm-up: {_fmt(warm)}", flush=True)
        meter = CpuMeter(args.database_url, proc.pid)

        def measured(fn: Any) -> dict[str, Any]:
            load = _load()
            before, children = meter.sample(), os.times()
            r: dict[str, Any] = fn()
            after, children_after = meter.sample(), os.times()
            used = CpuMeter.used(before, after)
            client = (children_after.children_user + children_after.children_system
                      - children.children_user - children.children_system)
            done = max(1.0, r.get("completed") or r["throughput"] * args.seconds)
            r["load_before"] = load
            r["cpu_ms"] = {"server": used["server"] / done * 1000, "postgres": used["postgres"] / done * 1000,
                           "client": client / done * 1000}
            return r

        for i in range(runs_closed):
            reqs = presign(pool, next(slices), work / f"closed{i}.tsv")
            r = measured(lambda reqs=reqs: run_wrk(args, app_id, reqs, lua, args.seconds, args.connections))
            load = r["load_before"]
            results["closed"].append(r)
            print(f"(a) closed, {args.connections} connections, run {i + 1}: {_fmt(r)}   (load before {load})",
                  flush=True)
        for i in range(runs_paced):
            reqs = presign(pool, next(slices), work / f"paced{i}.tsv")
            r = measured(lambda reqs=reqs: run_paced(args, app_id, reqs, args.seconds))
            load = r["load_before"]
            results["paced"].append(r)
            print(f"(b) paced at {args.rate:,.0f}/s, run {i + 1}: {_fmt(r)}   (load before {load})", flush=True)
        meter.close()
    finally:
        stop_server(proc)
        pool.terminate()
    errors_logged = sum(1 for line in open(log_path, errors="replace") if '"level": "error"' in line
                        or "Traceback" in line)

    print()
    print(f"summary ({server_desc}, cache {args.cache}, {args.seconds:.0f} s runs, median of {args.runs}):")
    ok = True
    if results["closed"]:
        m = results["closed_median"] = median_run(results["closed"])
        goal = m["throughput"] >= 1000
        ok &= goal
        print(f"  (a) closed loop, {args.connections} clients: {_fmt(m)}   goal ≥ 1,000/s {'✔' if goal else '✘'}")
    if results["paced"]:
        m = results["paced_median"] = median_run(results["paced"])
        goal = m["p99_ms"] <= 50 and m["throughput"] >= 0.98 * args.rate and m["errors"] == 0
        ok &= goal
        print(f"  (b) paced at {args.rate:,.0f}/s: {_fmt(m)}   goal p99 ≤ 50 ms {'✔' if goal else '✘'}")
    if results["closed"] and "cpu_ms" in results["closed_median"]:
        cpu = results["closed_median"]["cpu_ms"]
        per = cpu["server"] + cpu["postgres"] + cpu["client"]
        print(f"  CPU per verification (closed loop): {per:.2f} ms (server {cpu['server']:.2f}, PostgreSQL "
              f"{cpu['postgres']:.2f}, load generator {cpu['client']:.2f}) → at most "
              f"{(os.cpu_count() or 1) * 1000 / per:,.0f}/s on {os.cpu_count()} otherwise idle cores")
    if results.get("ceiling") and results["closed"]:
        best_n, best = max(results["ceiling"].items(), key=lambda kv: kv[1])
        ratio = results["closed_median"]["throughput"] / best
        results["ceiling_best"] = {"processes": best_n, "ops": best, "ratio": ratio}
        goal = ratio >= 0.25
        ok &= goal
        print(f"  ceiling (psycopg, {best_n} processes): {best:,.0f} ops/s; API/ceiling = {ratio:.0%}   "
              f"goal ≥ 25 % {'✔' if goal else '✘'}")
    print(f"  server log: {log_path} ({errors_logged} error lines)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "_paced":
        raise SystemExit(paced_main(sys.argv[2:]))
    raise SystemExit(main())
