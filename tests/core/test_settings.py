"""Production refuses to start without its secrets and names what is missing; env parsing is strict."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import env

ROOT = Path(__file__).resolve().parents[2]


def _run_production(extra: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TONGBAN_", "DJANGO_"))}
    clean.update({"TONGBAN_ENV": "production", "DJANGO_SETTINGS_MODULE": "config.settings.production", **extra})
    return subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=60)


def test_production_refuses_without_secrets_and_names_them():
    result = _run_production({})
    assert result.returncode != 0
    for name in ("TONGBAN_SECRET_KEY", "TONGBAN_DATABASE_URL", "TONGBAN_REDIS_URL", "TONGBAN_ALLOWED_HOSTS"):
        assert name in result.stderr


def test_production_starts_with_everything_set():
    result = _run_production({
        "TONGBAN_SECRET_KEY": "k" * 64,
        "TONGBAN_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/tongban",
        "TONGBAN_REDIS_URL": "redis://127.0.0.1:6379/0",
        "TONGBAN_ALLOWED_HOSTS": "gov.example.cn",
    })
    assert result.returncode == 0, result.stderr


def test_database_url_parsing():
    pg = env.database_from_url("postgresql://u:p%40ss@db.internal:6543/tb?sslmode=require")
    assert (pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == ("tb", "u", "p@ss", "db.internal", "6543")
    assert pg["OPTIONS"] == {"sslmode": "require"}
    assert env.database_from_url("sqlite:////tmp/x.sqlite3")["NAME"] == Path("/tmp/x.sqlite3")
    with pytest.raises(env.ConfigurationError, match="TONGBAN_DATABASE_URL"):
        env.database_from_url("mysql://x/y")


def test_each_source_gets_its_own_database():
    assert env.source_database_url("postgresql://postgres@127.0.0.1:5432/tongban", "idcard").endswith("/tongban_idcard")
    assert env.source_database_url("sqlite:///var/tongban.sqlite3", "population") == "sqlite:///var/tongban-population.sqlite3"


def test_bad_boolean_is_named(monkeypatch):
    monkeypatch.setenv("TONGBAN_DEBUG", "maybe")
    with pytest.raises(env.ConfigurationError, match="TONGBAN_DEBUG"):
        env.load()


def test_sso_sweep_limit_from_the_environment(monkeypatch):
    monkeypatch.delenv("TONGBAN_SSO_SWEEP_LIMIT", raising=False)
    assert env.load_sso().sweep_limit == 500
    monkeypatch.setenv("TONGBAN_SSO_SWEEP_LIMIT", "2000")
    assert env.load_sso().sweep_limit == 2000
    for bad in ("0", "-5", "many", "1.5"):
        monkeypatch.setenv("TONGBAN_SSO_SWEEP_LIMIT", bad)
        with pytest.raises(env.ConfigurationError, match="TONGBAN_SSO_SWEEP_LIMIT"):
            env.load_sso()


def test_sso_sweep_limit_reaches_the_setting_and_a_bad_one_stops_the_start():
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TONGBAN_", "DJANGO_"))}
    code = "import django; django.setup(); from django.conf import settings; print(settings.TONGBAN_SSO_SWEEP_LIMIT)"

    def start(value: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                              env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.test",
                                   "TONGBAN_SSO_SWEEP_LIMIT": value})

    result = start("40")
    assert result.returncode == 0 and result.stdout.strip() == "40", result.stderr
    result = start("0")
    assert result.returncode != 0 and "TONGBAN_SSO_SWEEP_LIMIT must be greater than zero" in result.stderr


def _production_check_ids(extra: dict[str, str]) -> list[str]:
    code = ("import django; django.setup(); from django.core import checks; "
            "print(' '.join(m.id for m in checks.run_checks()))")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TONGBAN_", "DJANGO_"))}
    clean.update({"TONGBAN_ENV": "production", "DJANGO_SETTINGS_MODULE": "config.settings.production",
                  "TONGBAN_SECRET_KEY": "k" * 64, "TONGBAN_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/tongban",
                  "TONGBAN_REDIS_URL": "redis://127.0.0.1:6379/0", "TONGBAN_ALLOWED_HOSTS": "gov.example.cn", **extra})
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_production_with_hsts_turned_off_warns_at_every_check():
    """Not only `check --deploy`: the checks every command runs (`tongban serve`, `migrate`) say it."""
    assert "tongban.W003" in _production_check_ids({"TONGBAN_HSTS_SECONDS": "0"})
    assert "tongban.W003" not in _production_check_ids({})
