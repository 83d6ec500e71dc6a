"""The floor under issue 4's goal: how fast can *any* Python server answer a signed L2 verification on this
machine, and where does tongban stand against it?

bench/_floor_app.py is a bare WSGI application that does only the unavoidable work of one verification
(the SM2 check of the request, the two source look-ups, one audit INSERT committed, the SM2 signature of
the answer) under the same server (granian, the same workers × threads), fed by the same wrk script with
the same pre-signed requests as bench/verify.py. Runs alternate, floor then tongban, so that drift on a
shared machine falls on both; the median of each is reported with its CPU per request. Then the floor
alone, paced at --rate (1,000/s: issue 4's latency goal) by bench/verify.py's open-loop client.

    .venv/bin/python bench/verify_floor.py                 # 2 runs of each, 20 s (~3 minutes)
    .venv/bin/python bench/verify_floor.py --runs 3 --seconds 30

Uses bench/verify.py's databases and helpers (it loads the 1,000,000 people if they are not there yet).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import verify as vb  # noqa: E402
from _common import machine  # noqa: E402

HERE = Path(__file__).resolve().parent


def start_floor(args: argparse.Namespace, env: dict[str, str], public_hex: str, log_path: Path
                ) -> subprocess.Popen[bytes]:
    cmd = [str(vb.BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(args.floor_port),
           "--workers", str(args.workers), "--blocking-threads", str(args.threads), "--backlog", "2048",
           "--http", "1", "--no-ws", "--no-access-log", "_floor_app:app"]
    floor_env = {**env, "VFLOOR_URL": args.database_url, "VFLOOR_PUBLIC_KEY": public_hex,
                 "PYTHONPATH": os.pathsep.join([str(HERE), str(vb.ROOT / "src")])}
    proc = subprocess.Popen(cmd, env=floor_env, cwd=HERE, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the floor server exited ({proc.returncode}); see {log_path}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{args.floor_port}/", timeout=2)  # noqa: S310 (loopback)
        except urllib.error.HTTPError:
            break  # it answered (the empty request is refused): up
        except OSError:
            time.sleep(0.3)
            continue
        break
    time.sleep(2.0)
    return proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=vb.DEFAULT_URL)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--port", type=int, default=8191, help="tongban")
    parser.add_argument("--floor-port", type=int, default=8193)
    parser.add_argument("--rate", type=float, default=1000, help="the floor paced at this rate (0: not paced)")
    args = parser.parse_args()
    # What bench/verify.py's helpers read from its own arguments.
    args.server, args.cache, args.redis_url, args.log_level = "granian", "locmem", "", "INFO"
    print("machine:", ", ".join(f"{k} {v}" for k, v in machine().items()))
    env = vb.server_env(args)
    vb.ensure_data(args, env)
    vb.django_setup(env)
    app_id, pem = vb.create_app()
    from django.db import connections

    from tongban.crypto.sm2 import SM2PrivateKey

    public_hex = SM2PrivateKey.from_pem(pem).public_key().to_raw().hex()
    for alias in connections:
        connections[alias].close()
    import psycopg

    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS vbench_floor")
        conn.execute("CREATE TABLE vbench_floor (LIKE audit_auditentry INCLUDING ALL)")
    per_run = int(args.seconds * 3000) + 2000
    warm_n = 6000
    paced_n = int(args.seconds * args.rate) + 100
    people = vb.pick_people(args.database_url, 2 * warm_n + 2 * args.runs * per_run + paced_n,
                            random.randrange(1 << 30))
    slices = iter([people[i:i + warm_n] for i in (0, warm_n)]
                  + [people[2 * warm_n + i * per_run: 2 * warm_n + (i + 1) * per_run] for i in range(2 * args.runs)]
                  + [people[2 * warm_n + 2 * args.runs * per_run:]])
    work = Path(tempfile.mkdtemp(prefix="vfloor-"))
    lua = work / "verify.lua"
    lua.write_text(vb.WRK_LUA)
    pool = multiprocessing.get_context("fork").Pool(2, initializer=vb._signer_init, initargs=(pem,))
    results: dict[str, list[dict[str, Any]]] = {"floor": [], "tongban": []}
    floor = start_floor(args, env, public_hex, work / "floor.log")
    server = vb.start_server(args, env, work / "server.log")
    floor_args = argparse.Namespace(**{**vars(args), "port": args.floor_port})
    try:
        meters = {"floor": vb.CpuMeter(args.database_url, floor.pid), "tongban": vb.CpuMeter(args.database_url, server.pid)}
        targets = {"floor": floor_args, "tongban": args}
        for name in ("floor", "tongban"):  # warm both
            vb.run_wrk(targets[name], app_id, vb.presign(pool, next(slices), work / f"warm-{name}.tsv"), lua, 4,
                       args.connections)
        for i in range(args.runs):
            for name in ("floor", "tongban"):
                reqs = vb.presign(pool, next(slices), work / f"{name}{i}.tsv")
                load = vb._load()
                before, children = meters[name].sample(), os.times()
                r = vb.run_wrk(targets[name], app_id, reqs, lua, args.seconds, args.connections)
                after, children_after = meters[name].sample(), os.times()
                used = vb.CpuMeter.used(before, after)
                client = (children_after.children_user + children_after.children_system
                          - children.children_user - children.children_system)
                done = max(1, r["completed"])
                r["cpu_ms"] = {"server": used["server"] / done * 1000, "postgres": used["postgres"] / done * 1000,
                               "client": client / done * 1000}
                results[name].append(r)
                print(f"{name:8} run {i + 1}: {vb._fmt(r)}   (load before {load})", flush=True)
        if args.rate:
            vb.stop_server(server)  # the floor alone on the machine, as tongban is when bench/verify.py paces it
            reqs = vb.presign(pool, next(slices), work / "paced.tsv")
            load = vb._load()
            paced = vb.run_paced(floor_args, app_id, reqs, args.seconds)
            print(f"floor    paced at {args.rate:,.0f}/s: {vb._fmt(paced)}   (load before {load})", flush=True)
            results["floor paced"] = [paced]
        for meter in meters.values():
            meter.close()
    finally:
        vb.stop_server(server)
        vb.stop_server(floor)
        pool.terminate()
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute("DROP TABLE IF EXISTS vbench_floor")
    print()
    print(f"summary (granian {args.workers} workers × {args.threads} threads, {args.connections} clients, "
          f"{args.seconds:.0f} s runs, median of {args.runs}):")
    medians = {name: vb.median_run(runs) for name, runs in results.items()}
    for name, m in medians.items():
        print(f"  {name:11} {vb._fmt(m)}")
    print(f"  tongban / floor: {medians['tongban']['throughput'] / medians['floor']['throughput']:.0%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
