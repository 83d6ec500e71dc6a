"""In-process cost of one partner verification: the WSGI application called directly (no HTTP server,
no network), pre-signed requests, CPU time of this process and of its PostgreSQL backends per request.

    .venv/bin/python bench/verify_inprocess.py [--requests 3000] [--profile out.prof]

Uses bench/verify.py's databases (run that once first: it loads the 1,000,000 people) and its helpers.
This is where a change to the hot path is measured before the end-to-end benchmark: it does not depend
on the load generator or the HTTP server, and on a shared machine CPU time is steadier than wall time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import verify as vb  # noqa: E402
from _common import machine, proc_cpu  # noqa: E402


def environ(line: str, app_id: str) -> dict[str, object]:
    timestamp, nonce, signature, body = line.rstrip("\n").split("\t", 3)
    raw = body.encode()
    return {"REQUEST_METHOD": "POST", "PATH_INFO": vb.PATH, "SCRIPT_NAME": "", "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000", "wsgi.url_scheme": "http",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(raw)), "wsgi.input": io.BytesIO(raw),
            "HTTP_X_TONGBAN_APP": app_id, "HTTP_X_TONGBAN_TIMESTAMP": timestamp, "HTTP_X_TONGBAN_NONCE": nonce,
            "HTTP_X_TONGBAN_SIGNATURE": signature, "wsgi.errors": sys.stderr, "wsgi.multithread": False,
            "wsgi.multiprocess": True, "wsgi.run_once": False}


def backend_cpu_fn(connections: object) -> object:
    def cpu() -> float:
        pids = [connections[a].connection.info.backend_pid for a in connections  # type: ignore[index,attr-defined]
                if connections[a].vendor == "postgresql" and connections[a].connection is not None]  # type: ignore[index]
        return sum(proc_cpu(pid) for pid in pids)
    return cpu


def alternate(lines: list[str], calls: dict[str, object], backend_cpu: object, block: int = 100) -> int:
    """Each entry in turn for `block` requests, CPU summed per entry."""
    for line in lines[:200]:
        for call in calls.values():
            call(line)  # type: ignore[operator]  (replayed nonces: warm-up only)
    work = lines[200:]
    spent = {name: [0.0, 0.0, 0] for name in calls}
    names = list(calls)
    for i in range(0, len(work), block):
        name = names[(i // block) % len(names)]
        pg0, cpu0 = backend_cpu(), time.process_time()  # type: ignore[operator]
        for line in work[i:i + block]:
            calls[name](line)  # type: ignore[operator]
        spent[name][0] += time.process_time() - cpu0
        spent[name][1] += backend_cpu() - pg0  # type: ignore[operator]
        spent[name][2] += len(work[i:i + block])
    for name, (cpu, pg, n) in spent.items():
        print(f"{name}: {n} requests: python {cpu / n * 1000:.3f} ms, postgresql {pg / n * 1000:.3f} ms")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--database-url", default=vb.DEFAULT_URL)
    parser.add_argument("--cache", choices=("locmem", "redis"), default="locmem")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--entry", choices=("wsgi", "view", "both"), default="wsgi",
                        help="wsgi: the WSGI application (config.wsgi: the fast lane); view: the view alone, on a "
                             "WSGIRequest; both: the lane, Django's full handler and the view alone, in turn in "
                             "blocks of 100 requests (drift on a shared machine cancels out)")
    parser.add_argument("--profile", help="write a cProfile of the measured requests here")
    args = parser.parse_args()
    print(machine())
    env = vb.server_env(args)
    vb.django_setup(env)
    import logging

    logging.getLogger("tongban.request").setLevel(args.log_level)  # the request line, as the server has it
    app_id, pem = vb.create_app()
    people = vb.pick_people(args.database_url, args.requests + 200, seed=7)
    vb._signer_init(pem)
    lines = vb._sign_chunk((str(int(time.time()) + 60), people))
    from django.core.wsgi import get_wsgi_application
    from django.db import connections

    from tongban.core.fastlane import FastLane

    django_app = get_wsgi_application()
    app = FastLane(django_app)
    statuses: dict[str, int] = {}

    from django.core.handlers.wsgi import WSGIRequest

    from tongban.partners.api import verifications

    def call_view(line: str) -> None:
        response = verifications(WSGIRequest(environ(line, app_id)))
        key = f"{response.status_code}"
        statuses[key] = statuses.get(key, 0) + 1

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> None:
        statuses[status] = statuses.get(status, 0) + 1

    def call_wsgi(line: str) -> None:
        for _chunk in app(environ(line, app_id), start_response):
            pass

    def call_django(line: str) -> None:
        response = django_app(environ(line, app_id), start_response)
        for _chunk in response:
            pass
        response.close()

    if args.entry == "both":
        return alternate(lines, {"lane": call_wsgi, "django": call_django, "view": call_view}, backend_cpu_fn(connections))
    call = call_wsgi if args.entry == "wsgi" else call_view
    for line in lines[:200]:  # warm: connections, prepared statements, caches
        call(line)
    statuses.clear()
    pids = []
    for alias in connections:
        conn = connections[alias]
        if conn.vendor == "postgresql" and conn.connection is not None:
            pids.append(conn.connection.info.backend_pid)
    backend_cpu = lambda: sum(proc_cpu(pid) for pid in pids)  # noqa: E731
    work = lines[200:]
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    pg0, cpu0, wall0 = backend_cpu(), time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for line in work:
        call(line)
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    cpu, wall, pg = time.process_time() - cpu0, time.perf_counter() - wall0, backend_cpu() - pg0
    n = len(work)
    print(f"{n} requests {statuses}: python {cpu / n * 1000:.3f} ms, postgresql {pg / n * 1000:.3f} ms, "
          f"wall {wall / n * 1000:.3f} ms per request")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
