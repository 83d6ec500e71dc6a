"""Benchmark: latency of the item search over HTTP with 5,000 items, on SQLite and on PostgreSQL.

The claim (docs/performance.md, "Item search"): p95 ≤ 30 ms for the search page (/items/?q=…) and the
catalog API (/api/v1/catalog/items?q=…) with 5,000 published implementations. In one run, per database:

1. a fresh database (`var/bench/catalog.sqlite3`, or the PostgreSQL database `tongban_catalog_bench`),
   `tongban setup` (migrations and the shipped catalog), then generated implementations of the shipped
   items by county bodies of other provinces, published through the model so the search index is written
   the way publication writes it, up to 5,000 in all;
2. `tongban serve` (granian, DEBUG off) and 1,000 realistic queries, one at a time on a kept-alive
   connection, after 100 warm-up requests: item names and their parts, the keywords people type, full
   pinyin, initials, Traditional characters, one wrong character, sentences, a fifth with a region or
   department filter. p50, p95, p99 and the mean, per endpoint.

    .venv/bin/python bench/catalog.py                        # both databases, ~5 minutes
    .venv/bin/python bench/catalog.py --database sqlite --queries 300
    .venv/bin/python bench/catalog.py --reuse                # the databases of the last run, measure only
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line, proc_cpu, process_tree  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SQLITE_PATH = ROOT / "var" / "bench" / "catalog.sqlite3"
PG_URL = "postgresql://postgres@127.0.0.1:5432/tongban_catalog_bench"

GENERATE_PY = r"""
import sys, django
django.setup()
from django.db import transaction
from tongban.accounts.regions import current_regions
from tongban.catalog.models import Implementation, ImplementationVersion, Organisation, VersionStatus
from tongban.core import clock
from tongban.search.models import SearchDocument

target = int(sys.argv[1])
have = Implementation.objects.filter(published_version__isnull=False).count()
shipped = list(ImplementationVersion.objects.filter(status=VersionStatus.PUBLISHED)
               .select_related("implementation__basic_item", "implementation__organisation"))
counties = [code for code in sorted(current_regions()) if not code.endswith("00")
            and code[:2] not in ("33", "44")]
now = clock.now()
n = 0
with transaction.atomic():
    for county in counties:
        if have + n >= target:
            break
        for version in shipped:
            if have + n >= target:
                break
            impl = version.implementation
            dept = impl.department
            org, _ = Organisation.objects.get_or_create(code=f"{county}-{dept}", defaults={
                "name": f"{current_regions()[county]}公安局{impl.organisation.get_department_display() or ''}",
                "level": "county", "region_code": county, "department": dept})
            code = f"{county}-{impl.basic_item.code}"
            if Implementation.objects.filter(code=code).exists():
                continue
            new = Implementation.objects.create(code=code, basic_item=impl.basic_item, organisation=org,
                                                region_code=county, department=dept)
            content = version.content()
            copy = ImplementationVersion.objects.create(implementation=new, number=1, status=VersionStatus.PUBLISHED,
                                                        submitted_at=now, published_at=now, **content)
            new.published_version = copy
            new.save(update_fields=["published_version"])
            n += 1
print(have + n, SearchDocument.objects.count())
"""

PREFIXES = ("", "", "", "怎么办理", "我要", "如何")
SUFFIXES = ("", "", "", "怎么办", "需要什么材料", "在哪里办")
COMMON = "的一是在不了有和人这中大为上个我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说"  # a typo


def queries(count: int, seed: int = 13) -> list[tuple[str, dict[str, str]]]:
    """Realistic queries from the shipped data files (names, keywords) and the ways people type them."""
    from opencc import OpenCC
    from pypinyin import Style, lazy_pinyin

    t2s = OpenCC("s2t")
    rng = random.Random(seed)
    names: list[str] = []
    keywords: list[str] = []
    regions: list[str] = []
    for path in sorted((ROOT / "src/tongban/catalog/data").glob("[0-9]*/*.json")):
        for row in json.loads(path.read_text())["implementations"]:
            names.append(row["content"]["name"])
            keywords += [k for k in row["content"].get("keywords", []) if not k.isascii()]
            regions.append(row["region_code"])
    out: list[tuple[str, dict[str, str]]] = []
    while len(out) < count:
        name = rng.choice(names)
        kind = rng.randrange(9)
        if kind == 0:
            q = name
        elif kind == 1:
            start = rng.randrange(max(1, len(name) - 3))
            q = name[start:start + rng.randint(2, 4)]
        elif kind in (2, 3):
            q = rng.choice(PREFIXES) + rng.choice(keywords) + rng.choice(SUFFIXES)
        elif kind == 4:
            q = "".join(lazy_pinyin(name[: rng.randint(2, 5)]))
        elif kind == 5:
            q = "".join(lazy_pinyin(name, style=Style.FIRST_LETTER))[: rng.randint(2, 5)]
        elif kind == 6:
            q = t2s.convert(rng.choice(keywords + names))
        elif kind == 7:
            chars = list(name)
            chars[rng.randrange(len(chars))] = rng.choice(COMMON)
            q = "".join(chars)
        else:
            q = rng.choice(keywords)
        params = {"q": q}
        if rng.random() < 0.2:
            if rng.random() < 0.5:
                params["region"] = rng.choice(regions)[:2] + "0000"
            else:
                params["department"] = rng.choice(["hukou", "exit_entry", "traffic", "public_order"])
        out.append((q, params))
    return out


def env_for(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "TONGBAN_DATABASE_URL": database_url, "TONGBAN_ENV": "development", "TONGBAN_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings.development", "TONGBAN_LOG_LEVEL": "WARNING",
        "TONGBAN_INPROCESS_WORKER": "false", "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    })
    env.pop("TONGBAN_REDIS_URL", None)
    return env


def prepare(database: str, items: int, reuse: bool = False) -> str:
    if reuse:
        url = f"sqlite:///{SQLITE_PATH}" if database == "sqlite" else PG_URL
        print(f"{database}: reusing the database of an earlier run", flush=True)
        return url
    if database == "sqlite":
        SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(str(SQLITE_PATH) + suffix).unlink(missing_ok=True)
        url = f"sqlite:///{SQLITE_PATH}"
    else:
        import psycopg

        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute("DROP DATABASE IF EXISTS tongban_catalog_bench WITH (FORCE)")
            conn.execute("CREATE DATABASE tongban_catalog_bench")
        url = PG_URL
    env = env_for(url)
    subprocess.run([str(BIN / "tongban"), "setup"], env=env, cwd=ROOT, check=True, capture_output=True)
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", GENERATE_PY, str(items)], env=env, cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.split()
    print(f"{database}: {out[0]} implementations, {out[1]} indexed "
          f"(generated and indexed in {time.perf_counter() - started:.0f} s)", flush=True)
    return url


def measure(port: int, path: str, batch: list[tuple[str, dict[str, str]]], warmup: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    timings: list[float] = []
    for i, (_, params) in enumerate(batch):
        url = f"{path}?{urllib.parse.urlencode(params)}"
        start = time.perf_counter()
        conn.request("GET", url)
        response = conn.getresponse()
        response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status != 200:
            raise SystemExit(f"{url} answered {response.status}")
        if i >= warmup:
            timings.append(elapsed)
    conn.close()
    return timings


def summary(timings: list[float]) -> dict[str, float]:
    ordered = sorted(timings)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]

    return {"p50": pct(50), "p95": pct(95), "p99": pct(99), "mean": statistics.fmean(ordered), "n": len(ordered)}


def serve(url: str, port: int, workers: int) -> subprocess.Popen[Any]:
    import socket

    with socket.socket() as probe:  # on a shared machine another server may hold the port: measure ours only
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"port {port} is taken by another process: pass --port")
    log = open(ROOT / "var" / "bench" / "catalog-serve.log", "ab")  # noqa: SIM115
    proc = subprocess.Popen([str(BIN / "tongban"), "serve", "--server", "granian", "--host", "127.0.0.1",
                             "--port", str(port), "--workers", str(workers), "--threads", "4"],
                            env=env_for(url), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"tongban serve exited ({proc.returncode})")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.3)
    raise SystemExit("tongban serve did not answer within 60 s")


def _server_pids(server: subprocess.Popen[Any], database: str) -> list[int]:
    return process_tree(server.pid) + (_postgres_pids() if database == "postgresql" else [])


def _postgres_pids() -> list[int]:
    """The PostgreSQL backends serving the benchmark's database (persistent connections of the server)."""
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = 'tongban_catalog_bench'").fetchall()
    return [int(r[0]) for r in rows]


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--port", type=int, default=8953)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--reuse", action="store_true", help="keep the databases an earlier run prepared")
    args = parser.parse_args()
    if shutil.which("tongban", path=str(BIN)) is None:
        raise SystemExit("run with the project's venv: .venv/bin/python bench/catalog.py")
    print(f"machine: {machine_line()}; load average {os.getloadavg()[0]:.2f} at start", flush=True)
    batch = queries(args.queries + args.warmup)
    results: dict[str, dict[str, float]] = {}
    for database in (["sqlite", "postgresql"] if args.database == "both" else [args.database]):
        url = prepare(database, args.items, args.reuse)
        server = serve(url, args.port, args.workers)
        try:
            for label, path in (("page /items/", "/items/"), ("API /api/v1/catalog/items", "/api/v1/catalog/items")):
                measure(args.port, path, batch[: args.warmup], 0)
                # CPU of the server's processes (and PostgreSQL's, on the same machine) per request: what a
                # request costs whatever else the shared machine is doing.
                before = {pid: proc_cpu(pid) for pid in _server_pids(server, database)}
                figures = summary(measure(args.port, path, batch[args.warmup:], 0))
                after = {pid: proc_cpu(pid) for pid in _server_pids(server, database)}
                # A PostgreSQL backend replaced during the run (CONN_MAX_AGE) counts from 0; a gone one is lost.
                spent = sum(max(0.0, cpu - before.get(pid, 0.0)) for pid, cpu in after.items())
                figures["cpu_ms"] = spent * 1000 / figures["n"]
                figures["load"] = os.getloadavg()[0]
                results[f"{database} {label}"] = figures
                print(f"{database:10} {label:28} p50 {figures['p50']:6.1f} ms  p95 {figures['p95']:6.1f} ms  "
                      f"p99 {figures['p99']:6.1f} ms  mean {figures['mean']:6.1f} ms  "
                      f"CPU {figures['cpu_ms']:5.1f} ms/request  ({figures['n']} queries, "
                      f"load {figures['load']:.1f})", flush=True)
        finally:
            stop(server)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
