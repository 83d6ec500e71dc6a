"""Starting a simulator as a subprocess of `tongban demo`: one way for every simulator."""

from __future__ import annotations

import socket
import subprocess
import sys
import time


def start_module(module: str, args: list[str], *, host: str, port: int, label: str, wait: float = 10.0,
                 env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Run `python -m module args…` and return once it listens on host:port; raise RuntimeError (naming the
    simulator by `label`) when it exits or does not listen within `wait` seconds."""
    process = subprocess.Popen([sys.executable, "-m", module, *args], env=env)  # noqa: S603  (our own interpreter and module)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {label} exited with status {process.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError(f"the {label} did not listen on {host}:{port} within {wait:.0f} s")
