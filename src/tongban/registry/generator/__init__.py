"""Synthetic data for the reference authoritative sources: `generate()` builds and loads all four.

The rows come from dataset.build_dataset (deterministic for a seed and a reference date); the
writers load each source into its own database alias, in parallel threads on PostgreSQL.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from django.utils import timezone

from tongban.registry.generator.dataset import Dataset, build_dataset
from tongban.registry.generator.photos import photos
from tongban.registry.generator.writers import load

# Which generated tables go to which source database, in load order.
SOURCE_TABLES: dict[str, tuple[str, ...]] = {
    "idcard": ("idcard_card",),
    "population": ("population_person",),
    "traffic": ("traffic_vehicle", "traffic_licence"),
    "exitentry": ("exitentry_permit",),
    "criminal": ("criminal_record",),
}
SOURCE_LABELS = {"population": "人口信息", "idcard": "身份证办理信息", "traffic": "交管", "exitentry": "出入境", "criminal": "违法犯罪记录"}
PHASE_LABELS = {"people": "生成人口", "cards": "生成身份证", "traffic": "生成车辆与驾驶证", "hk_macao": "生成港澳居民",
                "criminal": "生成违法犯罪记录"}


@dataclass
class GenerateResult:
    people: int
    seed: int
    as_of: datetime.date
    counts: dict[str, int]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase / per source load
    parallel: bool = False

    @property
    def total_seconds(self) -> float:
        return self.timings.get("total", 0.0)


class _NoProgress:
    def add_task(self, description: str, total: float | None = None, **_: Any) -> int:
        return 0

    def advance(self, task_id: int, advance: float = 1) -> None:
        return None

    def update(self, task_id: int, **_: Any) -> None:
        return None


def _can_run_in_parallel(aliases: list[str]) -> bool:
    """Threads get connections of their own: only safe outside any open transaction (not in tests)."""
    return all(
        connections[a].vendor == "postgresql" and not connections[a].in_atomic_block for a in aliases
    )


def generate(
    *,
    people: int,
    seed: int,
    as_of: datetime.date | None = None,
    replace: bool = True,
    progress: Any = None,
    parallel: bool | None = None,
    on_dataset: Callable[[Dataset], None] | None = None,
) -> GenerateResult:
    """Generate `people` citizens (plus HK/Macao residents) and load them into the source databases.

    `progress` is a rich.progress.Progress (or None); `parallel` defaults to loading the sources in
    parallel threads on PostgreSQL when no transaction is open.
    """
    bar = progress or _NoProgress()
    as_of = as_of or timezone.localdate()
    started = time.perf_counter()
    timings: dict[str, float] = {}

    build_task = bar.add_task("生成数据", total=len(PHASE_LABELS))
    current: dict[str, Any] = {"name": "", "since": time.perf_counter()}

    def phase(name: str) -> None:
        now = time.perf_counter()
        if current["name"]:
            timings[f"build.{current['name']}"] = now - current["since"]
            bar.advance(build_task)
        current.update(name=name, since=now)
        bar.update(build_task, description=PHASE_LABELS.get(name, name))

    dataset = build_dataset(people, seed, as_of, phase)
    phase("")
    bar.update(build_task, description="数据已生成")
    timings["build"] = time.perf_counter() - started
    if on_dataset is not None:
        on_dataset(dataset)

    aliases = list(SOURCE_TABLES)
    use_threads = _can_run_in_parallel(aliases) if parallel is None else parallel
    photo_list = photos()

    def load_source(alias: str) -> None:
        t0 = time.perf_counter()
        tables = [dataset.tables[name] for name in SOURCE_TABLES[alias]]
        task = bar.add_task(f"写入{SOURCE_LABELS[alias]}", total=sum(t.rows for t in tables))
        try:
            load(
                alias,
                tables,
                replace=replace,
                photos=photo_list if alias == "idcard" else (),
                advance=lambda rows: bar.advance(task, rows),
            )
        finally:
            if use_threads:
                connections[alias].close()
        bar.update(task, description=f"{SOURCE_LABELS[alias]} ✓")
        timings[f"load.{alias}"] = time.perf_counter() - t0

    load_started = time.perf_counter()
    if use_threads:
        with ThreadPoolExecutor(max_workers=len(aliases), thread_name_prefix="registry-load") as pool:
            for future in [pool.submit(load_source, alias) for alias in aliases]:
                future.result()
    else:
        for alias in aliases:
            load_source(alias)
    timings["load"] = time.perf_counter() - load_started
    timings["total"] = time.perf_counter() - started
    counts = dict(dataset.counts)
    counts["photos"] = len(photo_list)
    return GenerateResult(people, seed, as_of, counts, timings, use_threads)
