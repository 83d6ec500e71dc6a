"""Benchmark: generate N people (cards, vehicles, licences, HK/Macao permits) into the source databases.

The claim (docs/performance.md): 1,000,000 people with their cards into PostgreSQL in at most
30 seconds. Prints the figures and the machine they were measured on.

    .venv/bin/python bench/registry_generate.py                       # 1M people, PostgreSQL
    .venv/bin/python bench/registry_generate.py --people 10000 \\
        --database-url sqlite:////tmp/bench/tongban.sqlite3           # the demo's size, on SQLite
"""

from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time
from pathlib import Path

from _common import machine

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/tongban_regbench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--runs", type=int, default=3, help="repeat and report each run, the best and the median")
    parser.add_argument("--database-url", default=os.environ.get("TONGBAN_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--sequential", action="store_true", help="load the sources one after another")
    parser.add_argument("--lookups", type=int, default=5000, help="then time this many calls of each interface")
    args = parser.parse_args()

    os.environ["TONGBAN_DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
    os.environ.setdefault("TONGBAN_LOG_LEVEL", "WARNING")
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from config.env import SOURCE_ALIASES
    from tongban.core.management.commands.setup import ensure_postgres_databases
    from tongban.registry.generator import generate

    ensure_postgres_databases()
    for alias in SOURCE_ALIASES:
        if str(settings.DATABASES[alias]["ENGINE"]).endswith("sqlite3"):
            Path(str(settings.DATABASES[alias]["NAME"])).parent.mkdir(parents=True, exist_ok=True)
        call_command("migrate", "registry", database=alias, verbosity=0)

    info = machine()
    with connections["population"].cursor() as cursor:
        if connections["population"].vendor == "postgresql":
            cursor.execute("SHOW server_version")
            info["database"] = f"PostgreSQL {cursor.fetchone()[0]}"
        else:
            cursor.execute("SELECT sqlite_version()")
            info["database"] = f"SQLite {cursor.fetchone()[0]}"
    import numpy

    info["numpy"] = numpy.__version__
    print("machine:", ", ".join(f"{k} {v}" for k, v in info.items()))
    print(f"people {args.people:,}, seed {args.seed}, runs {args.runs}, database {args.database_url}")

    totals: list[float] = []
    for run in range(1, args.runs + 1):
        started = time.perf_counter()
        result = generate(
            people=args.people,
            seed=args.seed,
            as_of=datetime.date(2026, 6, 1),
            parallel=False if args.sequential else None,
        )
        elapsed = time.perf_counter() - started
        totals.append(elapsed)
        rows = sum(result.counts[k] for k in ("people", "cards", "licences", "vehicles", "hk_macao"))
        timings = " ".join(f"{k}={v:.2f}s" for k, v in result.timings.items() if k != "total")
        print(
            f"run {run}: {elapsed:.2f} s total, {rows:,} rows ({rows / elapsed:,.0f} rows/s), "
            f"parallel={result.parallel}; {timings}"
        )
    counts = result.counts
    with connections["idcard"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM idcard_card")
        assert cursor.fetchone()[0] == counts["cards"]
    print(
        f"rows: people {counts['people']:,}, cards {counts['cards']:,} ({counts['card_holders']:,} holders), "
        f"licences {counts['licences']:,}, vehicles {counts['vehicles']:,}, HK/Macao {counts['hk_macao']:,}"
    )
    print(f"best {min(totals):.2f} s, median {statistics.median(totals):.2f} s")
    if args.lookups:
        lookups(args.lookups)
    return 0


def lookups(n: int) -> None:
    """Calls per second of the compare-style interfaces (one thread, one connection, warm cache)."""
    import random

    from django.db import connections

    from tongban.registry import interfaces

    with connections["idcard"].cursor() as cursor:
        cursor.execute("SELECT id_number, valid_from, valid_to FROM idcard_card ORDER BY id LIMIT %s", [n * 7])
        cards = random.Random(1).sample(cursor.fetchall(), n)
    with connections["traffic"].cursor() as cursor:
        cursor.execute("SELECT plate FROM traffic_vehicle LIMIT %s", [n])
        plates = [row[0] for row in cursor.fetchall()]
    population, idcard, traffic = interfaces.population(), interfaces.idcard(), interfaces.traffic()
    criminal = interfaces.criminal_records()
    calls = {
        "population.compare": lambda i: population.compare(cards[i][0], "张三"),
        "idcard.current_card_check": lambda i: idcard.current_card_check(*cards[i]),
        "idcard.card_photo": lambda i: idcard.card_photo(cards[i][0]),
        "traffic.owner_contact_for_plate": lambda i: traffic.owner_contact_for_plate(plates[i % len(plates)]),
        "criminal.record_check": lambda i: criminal.record_check(cards[i][0]),
    }
    for name, call in calls.items():
        started = time.perf_counter()
        for i in range(n):
            call(i)
        elapsed = time.perf_counter() - started
        print(f"{name}: {n / elapsed:,.0f} calls/s ({elapsed / n * 1e6:.0f} µs each, {n:,} calls)")


if __name__ == "__main__":
    raise SystemExit(main())
