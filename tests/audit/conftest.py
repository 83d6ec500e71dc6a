"""Fixtures for the audit tests: a clean per-process chain state, and the attacker who bypasses the guard."""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator

import pytest
from django.db import connection

from tongban.audit import chain
from tongban.audit.guard import GUARDED_TABLES

_guard_migration = importlib.import_module("tongban.audit.migrations.0002_append_only_guard")


@pytest.fixture(autouse=True)
def _fresh_chains() -> Iterator[None]:
    chain.reset_local_chains()
    yield
    chain.reset_local_chains()


@contextlib.contextmanager
def attacker_bypass() -> Iterator[None]:
    """What someone with DBA rights does first: switch the append-only triggers off (and back on)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in GUARDED_TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        else:
            for sql in _guard_migration.sqlite_backward_sql():
                cursor.execute(sql)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                for table in GUARDED_TABLES:
                    cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
            else:
                for sql in _guard_migration.sqlite_forward_sql():
                    cursor.execute(sql)


@pytest.fixture
def attacker():
    return attacker_bypass
