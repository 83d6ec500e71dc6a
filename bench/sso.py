"""Benchmark: the OpenID Connect token endpoint and discovery document, tongban against npm `oidc-provider`.

The claim (docs/performance.md, "Single sign-on"): tongban's token endpoint at least as fast as
oidc-provider's on the same machine with the same load tool and concurrency. In one run:

1. tongban on its own PostgreSQL database (`tongban_sso_bench`, migrated here), two clients (client
   credentials; authorization code with refresh tokens) and a pool of refresh tokens issued beforehand
   (rotation makes each one single-use), served by `tongban serve --server granian|gunicorn` (granian by default, DEBUG off, request log
   at INFO to a file);
2. oidc-provider (installed by this script with npm into a temporary folder) with an unbounded
   in-memory adapter (its quick-start one is a 1,000-entry LRU), the same clients, on Node;
3. `wrk` against both: client_credentials (HTTP Basic), refresh_token (tongban: each request a fresh
   token from the pool), and the discovery document. Requests/s, p50, p99, non-2xx, and the ratios.

    .venv/bin/python bench/sso.py                       # ~2 minutes
    .venv/bin/python bench/sso.py --seconds 5 --connections 16 --workers 4

Needs wrk (apt-get install wrk), Node.js and npm (the npm registry).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine, proc_cpu, process_tree  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/tongban_sso_bench"
OIDC_PROVIDER_VERSION = "9"

PROVIDER_JS = r"""
import Provider from 'oidc-provider';
const [port, clientId, secret, codeClientId, codeSecret] = process.argv.slice(2);
// An unbounded in-memory adapter (the quick-start one is an LRU of 1,000 entries, too small to hold the
// pool of refresh tokens this benchmark spends); no persistence, like the quick-start adapter.
const store = new Map();
const grants = new Map();
class MapAdapter {
  constructor(name) { this.name = name; }
  key(id) { return `${this.name}:${id}`; }
  async upsert(id, payload) {
    store.set(this.key(id), payload);
    if (payload.grantId) { if (!grants.has(payload.grantId)) grants.set(payload.grantId, []); grants.get(payload.grantId).push(this.key(id)); }
  }
  async find(id) { return store.get(this.key(id)); }
  async findByUid(uid) { for (const v of store.values()) if (v.uid === uid) return v; return undefined; }
  async findByUserCode(code) { for (const v of store.values()) if (v.userCode === code) return v; return undefined; }
  async consume(id) { const p = store.get(this.key(id)); if (p) p.consumed = Math.floor(Date.now() / 1000); }
  async destroy(id) { store.delete(this.key(id)); }
  async revokeByGrantId(grantId) { for (const k of grants.get(grantId) || []) store.delete(k); grants.delete(grantId); }
}
const provider = new Provider(`http://127.0.0.1:${port}`, {
  adapter: MapAdapter,
  clients: [
    { client_id: clientId, client_secret: secret, grant_types: ['client_credentials'], redirect_uris: [],
      response_types: [], token_endpoint_auth_method: 'client_secret_basic', scope: 'api',
      id_token_signed_response_alg: 'ES256' },
    { client_id: codeClientId, client_secret: codeSecret, grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['https://rp.example.cn/cb'], token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256' },
  ],
  scopes: ['openid', 'offline_access', 'api'],
  features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
  jwks: { keys: [await (async () => { const { generateKeyPair, exportJWK } = await import('jose');
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    return { ...(await exportJWK(privateKey)), alg: 'ES256', use: 'sig', kid: 'bench' }; })()] },
  issueRefreshToken: () => true,
});
provider.proxy = false;
// Refresh tokens to spend, issued directly through the provider's models (no interactive login needed).
async function mint(n) {
  const client = await provider.Client.find(codeClientId);
  const out = [];
  for (let i = 0; i < n; i++) {
    const grant = new provider.Grant({ accountId: `acct-${i}`, clientId: codeClientId });
    grant.addOIDCScope('openid offline_access');
    const grantId = await grant.save();
    const rt = new provider.RefreshToken({ accountId: `acct-${i}`, grantId, client, scope: 'openid offline_access',
      gty: 'authorization_code', authTime: Math.floor(Date.now() / 1000), rotations: 0, iiat: Math.floor(Date.now() / 1000) });
    out.push(await rt.save());
  }
  return out;
}
const app = provider.listen(Number(port), '127.0.0.1', async () => {
  const n = Number(process.env.BENCH_REFRESH_TOKENS || '0');
  const tokens = n ? await mint(n) : [];
  process.stdout.write(JSON.stringify({ ready: true, refresh_tokens: tokens }) + '\n');
});
"""

REFRESH_LUA = r"""
local tokens = {}
local counter = 1
local threads = {}
function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end
function init(args)
  local f = io.open(args[1], "r")
  local i = 0
  for line in f:lines() do
    i = i + 1
    if i % tonumber(args[2]) == (id - 1) then table.insert(tokens, line) end
  end
  f:close()
  n = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = args[3]
end
function request()
  n = n + 1
  local t = tokens[n]
  if t == nil then t = "exhausted" end
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. t)
end
"""

CC_LUA = r"""
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
  wrk.headers["Authorization"] = args[1]
  wrk.body = "grant_type=client_credentials&scope=api"
end
"""


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def env_for(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "TONGBAN_DATABASE_URL": args.database_url, "TONGBAN_ENV": "development", "TONGBAN_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings.development", "TONGBAN_LOG_LEVEL": "INFO",
        "TONGBAN_INPROCESS_WORKER": "false", "TONGBAN_SSO_ISSUER": f"http://127.0.0.1:{args.port}",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    })
    env.pop("TONGBAN_REDIS_URL", None)
    return env


SETUP_PY = r"""
import json, sys, django
django.setup()
from django.db import transaction
from tongban.sso.services import client_create
from tongban.sso.models import Client, SessionParticipation
from tongban.accounts.models import User, UserKind
n = int(sys.argv[1])
Client.objects.filter(name__startswith="bench-").delete()
cc = client_create(name="bench-cc", client_credentials=True, scopes="api")
code = client_create(name="bench-code", redirect_uris=["https://rp.example.cn/cb"], scopes="openid")
user = User.objects.filter(username="bench-person").first() or User.objects.create_user("bench-person", None,
                                                                                       kind=UserKind.CITIZEN)
import hashlib, secrets, uuid, datetime as dt
from django.utils import timezone
from oauth2_provider.models import AccessToken, RefreshToken, set_token_value
# Each token as a code exchange leaves it: an access token, a refresh token of its own family, and the
# sign-in record (SessionParticipation) that the refresh grant checks, locks and updates.
tokens = []
now = timezone.now()
for start in range(0, n, 5000):
    size = min(5000, n - start)
    with transaction.atomic():
        ats = []
        for i in range(size):
            at = AccessToken(user=user, application=code.client, scope="openid", expires=now + dt.timedelta(hours=1))
            set_token_value(at, secrets.token_urlsafe(24)); ats.append(at)
        AccessToken.objects.bulk_create(ats)
        rts, parts = [], []
        for at in ats:
            raw = secrets.token_urlsafe(32)
            family = uuid.uuid4()
            rt = RefreshToken(user=user, application=code.client, access_token=at, token_family=family)
            set_token_value(rt, raw); rts.append(rt)
            parts.append(SessionParticipation(sid=secrets.token_urlsafe(24), user=user, client=code.client, level=2,
                                              amr="pwd", auth_time=now, code_hash=hashlib.sha256(raw.encode()).hexdigest(),
                                              code_used_at=now, access_token_id=at.pk, refresh_family=family))
            tokens.append(raw)
        RefreshToken.objects.bulk_create(rts)
        SessionParticipation.objects.bulk_create(parts)
# The delete above (the last run's clients, cascading to their tokens) and the bulk insert leave dead rows
# and stale statistics behind: vacuum and analyze the tables the refresh grant touches, as autovacuum
# would before long, so every run measures the same state (without it, the refresh grant's PostgreSQL
# CPU measured 0.6 ms on a new database and 1.7 ms a run later).
from django.db import connection
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        for table in ("oauth2_provider_accesstoken", "oauth2_provider_refreshtoken", "oauth2_provider_idtoken",
                      "sso_sessionparticipation", "audit_auditentry"):
            cursor.execute(f"VACUUM (ANALYZE) {table}")
print(json.dumps({"cc": [cc.client.client_id, cc.secret], "code": [code.client.client_id, code.secret],
                  "refresh_tokens": tokens}))
"""


# The ceiling of a durable refresh on this machine: tongban's own rotation statement (tongban.sso.grants) and
# one audit INSERT, committed, with psycopg directly in N processes; each process refreshes its own token
# chain (the refresh token one rotation returns is the one the next presents). No HTTP, no Python framework,
# no client authentication, no ID token: only what a refresh that survives a crash must make PostgreSQL do.
CEILING_PY = r"""
import datetime as dt, json, multiprocessing, secrets, sys, time, django
django.setup()
import psycopg
from django.conf import settings
from oauth2_provider.settings import oauth2_settings
from tongban.sso import grants
from tongban.sso.models import Client
url, client_id, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
procs = [int(x) for x in sys.argv[4].split(",")]
tokens = sys.stdin.read().split()
client = Client.objects.get(client_id=client_id).pk
ENTRY = ("INSERT INTO ssobench_ceiling (occurred_at, actor_type, actor_id, action, subject_type, subject_id, "
         "outcome, client_ip, request_id, details, chain_id, seq, prev_hash, hash) VALUES (now(), 'partner_app', "
         "%s, 'sso.token.refresh', 'accounts.user', %s, 'success', '127.0.0.1', %s, %s, %s, %s, %s, %s)")
LIFETIME = dt.timedelta(seconds=int(oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS))

def worker(token, start_at, queue):
    conn = psycopg.connect(url)
    chain, prev, n = secrets.token_hex(16), "0" * 64, 0
    while time.time() < start_at:
        time.sleep(0.005)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        now = dt.datetime.now(dt.UTC)
        access, refresh = grants._new_token(), grants._new_token()
        row = conn.execute(grants._ROTATE_POSTGRESQL, {
            "now": now, "checksum": grants._checksum(token), "client": client, "cutoff": grants._cutoff(now),
            "wanted": None, "access": grants._stored(access), "access_checksum": grants._checksum(access),
            "expires": now + LIFETIME, "scope": None, "refresh": grants._stored(refresh),
            "refresh_checksum": grants._checksum(refresh)}, prepare=True).fetchone()
        if row is None:
            raise SystemExit("the ceiling's rotation matched nothing")
        digest = secrets.token_hex(32)
        details = json.dumps({"client_id": client_id, "participation": row[6], "family": digest[:24],
                              "scopes": ["openid"], "path": "fast"})
        conn.execute(ENTRY, (f"oidc:{client_id}", str(row[0]), secrets.token_hex(16), details, chain, n + 1, prev,
                             digest), prepare=True)
        conn.commit()
        token, prev, n = refresh, digest, n + 1
    queue.put(n)
    conn.close()

with psycopg.connect(url, autocommit=True) as c:
    c.execute("DROP TABLE IF EXISTS ssobench_ceiling")
    c.execute("CREATE TABLE ssobench_ceiling (LIKE audit_auditentry INCLUDING ALL)")
out = {}
try:
    ctx = multiprocessing.get_context("fork")
    for count in procs:
        mine, tokens = tokens[:count], tokens[count:]
        queue = ctx.Queue()
        start_at = time.time() + 1.0
        workers = [ctx.Process(target=worker, args=(t, start_at, queue)) for t in mine]
        for w in workers:
            w.start()
        total = sum(queue.get(timeout=seconds + 60) for _ in workers)
        for w in workers:
            w.join()
        out[count] = total / seconds
        print(f"refresh ceiling: {count} processes -> {out[count]:,.0f} refreshes/s", file=sys.stderr, flush=True)
finally:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS ssobench_ceiling")
print(json.dumps(out))
"""


def refresh_ceiling(args: argparse.Namespace, env: dict[str, str], client_id: str, tokens: list[str]
                    ) -> dict[int, float]:
    """Refreshes/s of the durable rotation done directly with psycopg, per process count (CEILING_PY)."""
    out = subprocess.run([sys.executable, "-c", CEILING_PY, args.database_url, client_id, str(args.ceiling_seconds),
                          ",".join(str(n) for n in args.ceiling_procs)], env=env, cwd=ROOT, check=True,
                         input="\n".join(tokens), capture_output=True, text=True)
    sys.stderr.write(out.stderr)
    return {int(k): v for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def tongban_setup(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    subprocess.run([str(BIN / "tongban"), "setup"], env=env, cwd=ROOT, check=True, capture_output=True)
    out = subprocess.run([sys.executable, "-c", SETUP_PY, str(args.refresh_tokens)], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def wait_http(url: str, proc: subprocess.Popen[Any], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited ({proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:  # noqa: S310 (loopback)
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"{what} did not answer within 60 s")


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wrk(args: argparse.Namespace, url: str, script: str | None = None, script_args: list[str] | None = None
        ) -> dict[str, Any]:
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{args.seconds}s", "--latency"]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    if script_args:
        cmd += ["--", *script_args]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", text)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    total = re.search(r"(\d+) requests in", text)
    return {"rps": rps, "p50": pct("50"), "p99": pct("99"), "non2xx": int(bad.group(1)) if bad else 0,
            "requests": int(total.group(1)) if total else 0}



# -- CPU per request: the server's processes (and, for tongban, the PostgreSQL backends serving them) and
# the load generator, whatever else the shared machine is doing ----------------------------------------------



class CpuMeter:
    def __init__(self, server_pid: int, database_url: str | None = None) -> None:
        self.server_pid = server_pid
        self.conn: Any = None
        if database_url:
            import psycopg

            self.conn = psycopg.connect(database_url, autocommit=True)
            self.dbname = database_url.rpartition("/")[2]

    def _sample(self) -> dict[str, dict[int, float]]:
        backends: dict[int, float] = {}
        if self.conn is not None:
            # client backends only: an autovacuum worker cleaning up after the set-up's bulk delete and
            # insert is not the cost of the requests being measured
            rows = self.conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
                                     " AND backend_type = 'client backend'", (self.dbname,)).fetchall()
            backends = {r[0]: proc_cpu(r[0]) for r in rows}
        return {"server": {pid: proc_cpu(pid) for pid in process_tree(self.server_pid)}, "postgres": backends}

    def measure(self, fn: Any) -> dict[str, Any]:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        before, times = self._sample(), os.times()
        result: dict[str, Any] = fn()
        after, times_after = self._sample(), os.times()
        done = max(1, result["requests"])
        used = {kind: sum(cpu - before[kind].get(pid, 0.0) for pid, cpu in after[kind].items())
                for kind in ("server", "postgres")}
        client = (times_after.children_user + times_after.children_system
                  - times.children_user - times.children_system)
        result["cpu_ms"] = {"server": used["server"] / done * 1000, "postgres": used["postgres"] / done * 1000,
                            "client": client / done * 1000}
        result["load"] = load
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--node-port", type=int, default=8792)
    parser.add_argument("--workers", type=int, default=max(2, (os.cpu_count() or 2) * 2))
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--server", choices=("granian", "gunicorn"), default="granian",
                        help="the server `tongban serve --server` starts")
    parser.add_argument("--server-threads", type=int, default=1,
                        help="threads per worker (granian's blocking threads; gunicorn gthread)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--refresh-tokens", type=int, default=60000,
                        help="tongban's pool (each is spent once: more than req/s x seconds)")
    parser.add_argument("--node-refresh-tokens", type=int, default=150000)
    parser.add_argument("--ceiling-procs", type=lambda v: [int(x) for x in v.split(",")], default=[2, 4, 6],
                        help="process counts for the durable-refresh ceiling (psycopg directly)")
    parser.add_argument("--ceiling-seconds", type=float, default=8)
    parser.add_argument("--skip-ceiling", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk") or not shutil.which("npm"):
        raise SystemExit("needs wrk and npm (apt-get install wrk nodejs npm)")
    print("machine:", json.dumps(machine(), ensure_ascii=False))
    print(f"load: wrk -t{args.threads} -c{args.connections} -d{args.seconds}s; tongban: {args.server} "
          f"{args.workers} workers x {args.server_threads} threads; oidc-provider {OIDC_PROVIDER_VERSION}.x on Node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}")
    results: dict[str, dict[str, Any]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="tongban-sso-bench-"))
    try:
        env = env_for(args)
        data = tongban_setup(args, env)
        pool = data["refresh_tokens"]
        ceiling: dict[int, float] = {}
        if not args.skip_ceiling:
            reserved = sum(args.ceiling_procs)
            ceiling = refresh_ceiling(args, env, data["code"][0], pool[:reserved])
            pool = pool[reserved:]
        (tmp / "refresh.txt").write_text("\n".join(pool) + "\n")
        (tmp / "refresh.lua").write_text(REFRESH_LUA)
        (tmp / "cc.lua").write_text(CC_LUA)
        log = open(tmp / "tongban.log", "ab")
        server = subprocess.Popen([str(BIN / "tongban"), "serve", "--server", args.server, "--host", "127.0.0.1",
                                   "--port", str(args.port),
                                   "--workers", str(args.workers), "--threads", str(args.server_threads)], env=env, cwd=ROOT, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{args.port}"
            wait_http(f"{base}/.well-known/openid-configuration", server, "tongban")
            time.sleep(1.5)
            urllib.request.urlopen(f"{base}/o/jwks/", timeout=5).read()  # noqa: S310  (keys made before timing)
            meter = CpuMeter(server.pid, args.database_url)
            results["tongban client_credentials"] = meter.measure(lambda: wrk(
                args, f"{base}/o/token/", str(tmp / "cc.lua"), [basic(*data["cc"])]))
            results["tongban refresh_token"] = meter.measure(lambda: wrk(
                args, f"{base}/o/token/", str(tmp / "refresh.lua"),
                [str(tmp / "refresh.txt"), str(args.threads), basic(*data["code"])]))
            results["tongban discovery"] = meter.measure(lambda: wrk(args, f"{base}/.well-known/openid-configuration"))
        finally:
            stop(server)

        node_dir = tmp / "oidc-provider"
        node_dir.mkdir()
        (node_dir / "package.json").write_text(json.dumps({"name": "bench", "private": True, "type": "module"}))
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error",
                        f"oidc-provider@{OIDC_PROVIDER_VERSION}", "jose"], cwd=node_dir, check=True,
                       capture_output=True, timeout=600)
        version = json.loads((node_dir / "node_modules" / "oidc-provider" / "package.json").read_text())["version"]
        (node_dir / "server.mjs").write_text(PROVIDER_JS)
        node_env = {**os.environ, "NODE_ENV": "production", "BENCH_REFRESH_TOKENS": str(args.node_refresh_tokens)}
        node = subprocess.Popen(["node", "server.mjs", str(args.node_port), "bench-cc", "bench-cc-secret-0123456789abcdef",
                                 "bench-code", "bench-code-secret-0123456789abcdef"], cwd=node_dir, env=node_env,
                                stdout=subprocess.PIPE, stderr=open(tmp / "node.log", "ab"), text=True,
                                start_new_session=True)
        try:
            first: dict[str, Any] = {}
            for _ in range(50):  # oidc-provider prints notices on stdout before our line
                line = node.stdout.readline()  # type: ignore[union-attr]
                if not line or line.startswith("{"):
                    first = json.loads(line or "{}")
                    break
            if not first.get("ready"):
                raise SystemExit(f"oidc-provider did not start; see {tmp / 'node.log'}")
            nbase = f"http://127.0.0.1:{args.node_port}"
            (tmp / "node-refresh.txt").write_text("\n".join(first["refresh_tokens"]) + "\n")
            nmeter = CpuMeter(node.pid)
            results["oidc-provider client_credentials"] = nmeter.measure(lambda: wrk(
                args, f"{nbase}/token", str(tmp / "cc.lua"), [basic("bench-cc", "bench-cc-secret-0123456789abcdef")]))
            results["oidc-provider refresh_token"] = nmeter.measure(lambda: wrk(
                args, f"{nbase}/token", str(tmp / "refresh.lua"),
                [str(tmp / "node-refresh.txt"), str(args.threads), basic("bench-code", "bench-code-secret-0123456789abcdef")]))
            results["oidc-provider discovery"] = nmeter.measure(
                lambda: wrk(args, f"{nbase}/.well-known/openid-configuration"))
        finally:
            stop(node)
        print(f"oidc-provider version: {version}")
        print(f"{'':36} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'requests':>9}   "
              "CPU ms/request: server + PostgreSQL + wrk   (load average before)")
        for name, r in results.items():
            cpu = r["cpu_ms"]
            print(f"{name:36} {r['rps']:9.0f} {r['p50']:8.2f} {r['p99']:8.2f} {r['non2xx']:8d} {r['requests']:9d}   "
                  f"{cpu['server']:.2f} + {cpu['postgres']:.2f} + {cpu['client']:.2f}   ({r['load']})")
        for what in ("client_credentials", "refresh_token", "discovery"):
            a, b = results.get(f"tongban {what}"), results.get(f"oidc-provider {what}")
            if a and b and b["rps"]:
                print(f"ratio tongban/oidc-provider {what}: {a['rps'] / b['rps']:.2f}x "
                      f"(p99 {a['p99']:.1f} vs {b['p99']:.1f} ms)")
        if ceiling:
            best_n, best = max(ceiling.items(), key=lambda kv: kv[1])
            line = (f"durable refresh ceiling (tongban's rotation + audit INSERT + COMMIT, psycopg, {best_n} "
                    f"processes): {best:,.0f}/s")
            ours, theirs = results.get("tongban refresh_token"), results.get("oidc-provider refresh_token")
            if ours:
                line += f"; tongban/ceiling {ours['rps'] / best:.0%}"
            if theirs:
                line += f"; oidc-provider (in memory) / ceiling {theirs['rps'] / best:.2f}x"
            print(line)
        cc = results.get("tongban client_credentials")
        if cc:
            cores = os.cpu_count() or 1
            print(f"tongban client-credential grants per vCPU: {cc['rps'] / cores:.0f}/s "
                  f"(Keycloak's sizing guide budgets 120/s per vCPU)")
    finally:
        if os.environ.get("BENCH_KEEP"):
            print("kept", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
