"""Benchmark: the backfill of 828,000 case events to the national platform's simulator, signed (SM2, one
signature a batch), personal fields sealed (SM4-GCM under an SM2-wrapped envelope key) and received
(signature verified, envelope opened, every message decrypted and stored once) — with the live flow's
latency (commit to acknowledgement, p50/p99) measured while the backfill runs.

The claim (issue 17; docs/performance.md, "Data exchange"): 828,000 events in ≤ 60 s end to end
(≥ 14,000 messages/s).

In one run, on its own PostgreSQL database (`tongban_exch_bench` unless --database-url says otherwise):
1. migrate, `tongban catalog load` (21 hooked items), then — unless the database already holds them —
   20,000 verified citizens (ORM, encrypted fields) and 207,000 cases of hooked items with four transitions
   each (COPY: 828,000 case events);
2. the simulator as its own process (`python -m sim.national_platform`), trusting our signing key;
3. `backfill(since=…)` in this process (--concurrency sender threads); meanwhile a live thread commits
   --live-rate case transitions a second through the case-event hook and `tongban exchange worker` (its own
   process) sends them;
4. prints the figures and the simulator's counts (records, duplicates, order violations).

    .venv/bin/python bench/exchange.py                       # first run: ~2–3 min of generation
    .venv/bin/python bench/exchange.py --cases 5000          # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/tongban_exch_bench"
STEPS = (("submit", "draft", "submitted", "提交申请"), ("accept", "submitted", "review", "受理"),
         ("pass_review", "review", "decision", "审核通过"), ("approve", "decision", "delivery", "审批通过"))


def setup(args: argparse.Namespace) -> None:
    os.environ.update({
        "TONGBAN_DATABASE_URL": args.database_url, "TONGBAN_ENV": "development", "TONGBAN_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings.development", "TONGBAN_LOG_LEVEL": "WARNING",
        "TONGBAN_INPROCESS_WORKER": "false"})
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("catalog", "load", verbosity=0)


def _copy(cur: Any, table: str, cols: list[str], rows: Any) -> int:
    n = 0
    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def generate(cases: int, citizens: int, seed: int = 2026) -> dict[str, Any]:
    from django.db import connection, transaction

    from tongban.accounts.models import CitizenProfile, User, UserKind
    from tongban.catalog.models import ImplementationVersion
    from tongban.core.ids import EPOCH_MS, SEQUENCE_BITS

    if User.objects.filter(username__startswith="xb-cit-").exists():
        from tongban.cases.models import CaseEvent

        return {"generated": False, "events": CaseEvent.objects.count()}
    rng = random.Random(seed)
    started = time.perf_counter()
    hooked = list(ImplementationVersion.objects.filter(hooked_national=True, status="published")
                  .select_related("implementation").values_list("id", "implementation__code", "name",
                                                                "implementation__department",
                                                                "implementation__region_code"))
    users = [User(username=f"xb-cit-{i:06d}", kind=UserKind.CITIZEN, password="!") for i in range(citizens)]
    User.objects.bulk_create(users, batch_size=5000)
    users = list(User.objects.filter(username__startswith="xb-cit-").order_by("id"))
    profiles = []
    for i, u in enumerate(users):
        number = f"3301061990{(i // 9000) % 12 + 1:02d}{i % 28 + 1:02d}{i % 1000:03d}X"
        profiles.append(CitizenProfile(user=u, phone=f"139{i:08d}", id_type="resident_id", id_number=number,
                                       person_key=f"{number[:14]}{i:04d}", name=f"测试{i % 1000:03d}", level=2))
    CitizenProfile.objects.bulk_create(profiles, batch_size=2000)
    low_user, high_user = users[0].pk, users[-1].pk
    now = dt.datetime.now(dt.UTC)
    since = now - dt.timedelta(days=30)
    with transaction.atomic(), connection.cursor() as django_cursor:
        cur = django_cursor.cursor
        case_rows, event_rows = [], []
        for i in range(cases):
            vid, code, name, department, region = hooked[rng.randrange(len(hooked))]
            submitted = since + dt.timedelta(seconds=rng.randrange(29 * 86400))
            ms = int(submitted.timestamp() * 1000) - EPOCH_MS
            case_id = (ms << SEQUENCE_BITS) | (i & ((1 << SEQUENCE_BITS) - 1))
            number = f"{region}{submitted:%y%m%d}{i:06d}"[:18]
            case_rows.append((case_id, number, code, vid, name[:200], "{}", department, region, "two_review",
                              "delivery", 4, "citizen", rng.randint(low_user, high_user), "[]", "pickup", "窗口",
                              0, "[]", "", 10, 0, submitted, submitted, submitted, submitted))
            for step, (action, before, after, label) in enumerate(STEPS):
                at = submitted + dt.timedelta(hours=step * 5)
                ems = int(at.timestamp() * 1000) - EPOCH_MS
                event_rows.append(((ems << SEQUENCE_BITS) | ((i * 4 + step) & ((1 << SEQUENCE_BITS) - 1)),
                                   case_id, at, "transition", action, label, before, after,
                                   "applicant" if step == 0 else "officer", "{}", True))
        _copy(cur, "cases_case", ["id", "number", "item_code", "item_version_id", "item_title", "item_snapshot",
                                  "department", "region_code", "workflow", "state", "version", "applicant_kind",
                                  "applicant_id", "prefilled", "delivery_method", "pickup_station",
                                  "corrections_used", "correction_items", "decision_reason", "limit_days",
                                  "suspended_days", "state_entered_at", "created_at", "updated_at", "submitted_at"],
              case_rows)
        _copy(cur, "cases_caseevent", ["id", "case_id", "created_at", "kind", "action", "label", "from_state",
                                       "to_state", "actor_kind", "details", "visible_to_applicant"], event_rows)
    with connection.cursor() as cur:
        cur.execute("ANALYZE cases_case")
        cur.execute("ANALYZE cases_caseevent")
    return {"generated": True, "cases": cases, "events": len(event_rows), "citizens": citizens,
            "seconds": round(time.perf_counter() - started, 1), "since": since.date().isoformat()}


def start_simulator(port: int) -> tuple[subprocess.Popen[bytes], str]:
    from sim._process import start_module
    from tongban.crypto.sm2 import SM2PrivateKey

    key = SM2PrivateKey.generate()
    proc = start_module("sim.national_platform", ["--port", str(port), "--exchange-key", key.to_raw().hex()],
                        host="127.0.0.1", port=port, label="national platform simulator",
                        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])})
    return proc, key.public_key().to_raw().hex()


def _post(url: str, data: dict[str, Any]) -> None:
    request = urllib.request.Request(url, data=json.dumps(data).encode(), method="POST",  # noqa: S310
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request, timeout=10).read()  # noqa: S310 (loopback)


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())  # type: ignore[no-any-return]


def live_flow(stop: threading.Event, rate: float, latencies: list[float], worker_env: dict[str, str]) -> None:
    """Commit case transitions through the hook (a message written with each), deliver them with a worker
    thread, and measure commit → acknowledgement from the rows."""
    from django.db import connection, transaction

    from tongban.cases.models import Case, CaseEvent
    from tongban.exchange.models import MessageStatus, OutMessage

    case_ids = list(Case.objects.filter(state="delivery").values_list("id", flat=True)[:5000])
    committed: dict[int, float] = {}

    # The live flow's deliverer is its own process, as in production (`tongban exchange worker`), so it does
    # not share the backfill's interpreter lock.
    worker = subprocess.Popen([sys.executable, "-m", "tongban", "exchange", "worker", "--concurrency", "1",  # noqa: S603
                               "--poll-interval", "0.05"], env={**os.environ, **worker_env})
    try:
        from tongban.exchange.models import BackfillRun

        # Live changes *during* the backfill: from the moment the run is registered (a change sent before a
        # backfill starts is older news to the national side than nothing, but newer than the history the
        # backfill then re-sends — not what is measured here).
        while not stop.is_set() and not BackfillRun.objects.filter(finished_at__isnull=True).exists():
            time.sleep(0.05)
        i = 0
        while not stop.is_set():
            case = Case.objects.get(pk=case_ids[i % len(case_ids)])
            with transaction.atomic():
                event = CaseEvent(case=case, kind="transition", action="deliver", label="送达", from_state="delivery",
                                  to_state="closed", actor_kind="officer")
                event.save()
            committed[event.pk] = time.time()
            i += 1
            time.sleep(1 / rate)
        stop.wait()
        deadline = time.time() + 30
        while time.time() < deadline and OutMessage.objects.filter(source_id__in=list(committed),
                                                                   status__in=["pending", "retrying"]).exists():
            time.sleep(0.2)
        for source_id, sent_at in OutMessage.objects.filter(source_id__in=list(committed), type="case.event",
                                                            status=MessageStatus.SENT).values_list("source_id",
                                                                                                   "sent_at"):
            latencies.append((sent_at.timestamp() - committed[source_id]) * 1000)
    finally:
        worker.terminate()
        worker.wait(20)
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--cases", type=int, default=207_000)
    parser.add_argument("--citizens", type=int, default=20_000)
    parser.add_argument("--port", type=int, default=9150)
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--rate", type=float, default=0, help="backfill messages/s (0: unlimited)")
    parser.add_argument("--live-rate", type=float, default=20)
    args = parser.parse_args()
    print(f"machine: {machine_line()}")
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    setup(args)
    print("generate:", generate(args.cases, args.citizens))
    proc, national_key = start_simulator(args.port)
    try:
        from django.conf import settings

        url = f"http://127.0.0.1:{args.port}"
        settings.TONGBAN_EXCHANGE = {"URL": url, "PEER_PUBLIC_KEY": national_key, "TIMEOUT": 60, "LANES": 16,
                                     "BATCH_SIZE": 200}
        from tongban.exchange import keys
        from tongban.exchange.backfill import backfill, count_events

        signer, private = keys.signer()
        _post(f"{url}/exchange/_faults", {"trust": {signer: private.public_key().to_raw().hex()}})
        since = dt.date.today() - dt.timedelta(days=31)
        total = count_events(since=since)
        stop = threading.Event()
        latencies: list[float] = []
        live = threading.Thread(target=live_flow, args=(stop, args.live_rate, latencies,
                                                        {"TONGBAN_EXCHANGE_URL": url,
                                                         "TONGBAN_EXCHANGE_PEER_PUBLIC_KEY": national_key}))
        live.start()
        started = time.perf_counter()
        result = backfill(since=since, rate=args.rate, batch_size=args.batch_size, concurrency=args.concurrency)
        seconds = time.perf_counter() - started
        stop.set()
        live.join()
        stats = _get(f"{url}/exchange/stats")
        latencies.sort()

        def pct(p: float) -> float:
            return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else -1

        print(json.dumps({
            "events_in_range": total, "backfilled": result.messages, "accepted": result.accepted,
            "duplicates": result.duplicates, "rejected": result.rejected, "batches": result.batches,
            "seconds": round(seconds, 1), "messages_per_second": round(result.messages / seconds),
            "goal_60s_met": seconds <= 60 and result.messages >= 828_000,
            "live": {"messages": len(latencies), "p50_ms": pct(0.5), "p99_ms": pct(0.99),
                     "max_ms": round(max(latencies), 1) if latencies else -1,
                     "mean_ms": round(statistics.fmean(latencies), 1) if latencies else -1},
            "simulator": stats}, ensure_ascii=False, indent=1))
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
