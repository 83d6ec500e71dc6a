"""What every benchmark shares: the machine it ran on, and a steady operations-per-second loop."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path


def _proc_field(path: str, prefixes: tuple[str, ...]) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.lower().startswith(prefixes):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def machine() -> dict[str, str]:
    """CPU model, cores, memory, OS and Python: printed by each benchmark beside its figures."""
    memory = _proc_field("/proc/meminfo", ("memtotal",))
    return {
        "cpu": _proc_field("/proc/cpuinfo", ("model name", "cpu model", "hardware")) or "unknown",
        "cores": str(os.cpu_count()),
        "memory": f"{int(memory.split()[0]) / 1024 / 1024:.1f} GiB" if memory else "unknown",
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def machine_line() -> str:
    info = machine()
    return f"{info['cpu']}, {info['cores']} cores, {info['memory']}, {info['os']}, Python {info['python']}"


def rate(fn: Callable[[], object], seconds: float, batch: int = 100) -> float:
    """Operations per second: the median of three rounds of `seconds`/3 each."""
    rounds = []
    for _ in range(3):
        n = 0
        start = time.perf_counter()
        deadline = start + seconds / 3
        while True:
            for _ in range(batch):
                fn()
            n += batch
            now = time.perf_counter()
            if now >= deadline:
                break
        rounds.append(n / (now - start))
    return statistics.median(rounds)


# -- CPU of processes (bench/verify.py, bench/sso.py: CPU per request, whatever else the machine does) ------

_TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (0.0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK


def process_tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out
