"""`tongban serve` starts a real server (granian by default, gunicorn on request) that answers through
the WSGI application and writes its own lines as JSON."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
def test_serve_answers_and_logs_json(server, tmp_path):
    port = _free_port()
    env = {**os.environ, "TONGBAN_ENV": "development", "DJANGO_SETTINGS_MODULE": "config.settings.development",
           "TONGBAN_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}", "TONGBAN_INPROCESS_WORKER": "false",
           "TONGBAN_LOG_LEVEL": "INFO"}
    log = open(tmp_path / "server.log", "wb")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "tongban"), "serve", "--server", server, "--port",
                             str(port), "--workers", "1"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline, answer = time.monotonic() + 60, None
        while time.monotonic() < deadline and answer is None:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    answer = (r.status, json.loads(r.read()), r.headers.get("X-Request-ID"))
            except OSError:
                time.sleep(0.3)
        assert answer is not None and answer[0] == 200 and answer[1] == {"status": "ok"} and answer[2]
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)
        log.close()
    lines = [line for line in (tmp_path / "server.log").read_text().splitlines() if line.startswith("{")]
    events = [json.loads(line) for line in lines]
    assert any(server in e.get("logger", "") for e in events), lines  # the server's own lines, as JSON
    assert all("event" in e and "level" in e for e in events)


def test_several_processes_on_local_memory_are_warned_about_and_the_demo_runs_one(monkeypatch, settings):
    import io

    from django.core.management import call_command

    from tongban.core.management.commands import serve
    from tongban.demo.management.commands import demo

    started: list[dict] = []
    monkeypatch.setattr(serve, "_serve_granian", lambda options: started.append(options))
    settings.CACHES = {"default": {"BACKEND": "tongban.core.cache.LocMemCache", "LOCATION": "t"}}
    err = io.StringIO()
    call_command("serve", workers=2, stdout=io.StringIO(), stderr=err)
    assert "TONGBAN_REDIS_URL" in err.getvalue() and "重放" in err.getvalue() and started[-1]["workers"] == 2
    err = io.StringIO()
    call_command("serve", workers=1, stdout=io.StringIO(), stderr=err)
    assert err.getvalue() == ""
    assert demo.serve_layout() == {"workers": 1, "threads": 4}

    settings.CACHES = {"default": {"BACKEND": "tongban.core.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/15"}}
    err = io.StringIO()
    call_command("serve", workers=2, stdout=io.StringIO(), stderr=err)
    assert err.getvalue() == "" and demo.serve_layout() == {}
