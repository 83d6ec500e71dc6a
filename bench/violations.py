"""Violations: the cost of computing a licence's points from its records on every page view (rules.standing),
for a driver with a long history — 10 years, N violations a year, some fines paid late, some study reductions.
No stored running total exists, so this is what the overview and every online handling pay.

    .venv/bin/python bench/violations.py                 # 10 years x 12 violations, 20,000 computations
    .venv/bin/python bench/violations.py --per-year 50 --runs 5000

Results are kept in docs/performance.md ("Violations").
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

from _common import machine_line

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "src")]


def history(years: int, per_year: int, seed: int) -> tuple[dt.date, list]:
    from tongban.violations.rules import PointEvent

    rng = random.Random(seed)  # noqa: S311  (synthetic data)
    anchor = dt.date(2016, 5, 20)
    events = []
    for _ in range(years * per_year):
        on = anchor + dt.timedelta(days=rng.randrange(years * 365))
        late = rng.random() < 0.2
        paid = None if late and rng.random() < 0.5 else on + dt.timedelta(days=rng.randrange(400 if late else 15))
        events.append(PointEvent(on=on, points=rng.choice([0, 1, 1, 3]), fine_paid_on=paid))
    for _ in range(years):
        events.append(PointEvent(on=anchor + dt.timedelta(days=rng.randrange(years * 365)), points=-1, kind="study"))
    return anchor, events


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--per-year", type=int, default=12)
    parser.add_argument("--runs", type=int, default=20_000)
    args = parser.parse_args()
    from tongban.violations.rules import standing

    anchor, events = history(args.years, args.per_year, 2026)
    on = anchor + dt.timedelta(days=args.years * 365 + 10)
    samples = []
    start = time.perf_counter()
    for _ in range(args.runs):
        t0 = time.perf_counter()
        standing(events, anchor=anchor, on=on)
        samples.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    samples.sort()
    print(machine_line())
    print(f"violations: standing over {len(events)} events ({args.years} cycles), {args.runs} runs: "
          f"{args.runs / total:,.0f}/s, median {statistics.median(samples) * 1e6:.0f} µs, "
          f"p99 {samples[int(len(samples) * 0.99)] * 1e6:.0f} µs")


if __name__ == "__main__":
    main()
