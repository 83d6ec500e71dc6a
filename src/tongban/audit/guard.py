"""The database refuses to change audit rows (append-only), on PostgreSQL and on SQLite.

The triggers themselves are created by migration 0002 (its SQL is frozen there); this module holds
what runs beside them at run time:

* PostgreSQL: a DELETE of `audit_auditentry` rows passes only inside `purge_permit()` (which sets the
  transaction-local variable `tongban.audit_purge`) **and** only for rows older than 180 days — the
  trigger checks the age itself, so even a session that sets the variable by hand cannot delete a
  young row. TRUNCATE passes only in a test database (name starting with `test_`), for Django's flush.
* SQLite: the triggers call `tongban_audit_may_delete(table, old_enough)`, a function this module
  registers on every connection Django opens; the same rules apply. A tool that opens the file
  without it (the sqlite3 shell) cannot delete at all: the unknown function fails the statement.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from django.db import connections
from django.db.backends.signals import connection_created

ENTRY_TABLE = "audit_auditentry"
GUARDED_TABLES = ("audit_auditentry", "audit_auditchain", "audit_auditchainclosure", "audit_auditcheckpoint")
MIN_RETENTION_DAYS = 180  # also written into the triggers

# Trigger names as migration 0002 creates them: (table, name).
POSTGRES_TRIGGERS = [(t, f"{t}_append_only") for t in GUARDED_TABLES] + \
                    [(t, f"{t}_no_truncate") for t in GUARDED_TABLES]
SQLITE_TRIGGERS = [(t, f"{t}_no_update") for t in GUARDED_TABLES] + \
                  [(t, f"{t}_no_delete") for t in GUARDED_TABLES]

_local = threading.local()


def _flag(name: str) -> bool:
    return bool(getattr(_local, name, False))


def _sqlite_may_delete(table: str, old_enough: Any) -> int:
    if _flag("flushing"):
        return 1
    if table == ENTRY_TABLE and _flag("purging") and bool(old_enough):
        return 1
    return 0


def _on_connection_created(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("tongban_audit_may_delete", 2, _sqlite_may_delete)


@contextlib.contextmanager
def purge_permit(using: str = "default") -> Iterator[None]:
    """Inside a transaction: let the retention purge delete audit entries older than 180 days."""
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("purge_permit() must be used inside transaction.atomic()")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('tongban.audit_purge', 'on', true)")
    _local.purging = True
    try:
        yield
    finally:
        _local.purging = False
        if connection.vendor == "postgresql" and connection.connection is not None:
            with contextlib.suppress(Exception), connection.cursor() as cursor:
                cursor.execute("SELECT set_config('tongban.audit_purge', '', true)")


def _allow_test_flush_on_sqlite(ops_class: Any) -> None:
    """Django's test flush empties tables with DELETE on SQLite; let it through, in tests only."""
    original = ops_class.execute_sql_flush
    if getattr(original, "_tongban_audit", False):
        return

    def execute_sql_flush(self: Any, sql_list: Any) -> None:
        _local.flushing = True
        try:
            original(self, sql_list)
        finally:
            _local.flushing = False

    execute_sql_flush._tongban_audit = True  # type: ignore[attr-defined]
    ops_class.execute_sql_flush = execute_sql_flush


def connect_signals() -> None:
    from django.conf import settings

    connection_created.connect(_on_connection_created, dispatch_uid="tongban.audit.guard")
    # Connections opened before this app was ready (rare) get the function too.
    for alias in connections:
        conn = connections[alias]
        if conn.vendor == "sqlite" and conn.connection is not None:
            _on_connection_created(None, conn)
    env = getattr(settings, "ENV", None)
    if env is not None and getattr(env, "environment", "") == "test":
        for alias in connections:
            if connections[alias].vendor == "sqlite":
                _allow_test_flush_on_sqlite(type(connections[alias].ops))


def missing_triggers(using: str = "default") -> list[str]:
    """The guard triggers that should exist and do not (a later migration that rebuilt a table on
    SQLite drops its triggers; an administrator may have dropped one)."""
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND c.relname LIKE 'audit\\_%'")
            present = {(r[0], r[1]) for r in cursor.fetchall()}
            expected = POSTGRES_TRIGGERS
        elif connection.vendor == "sqlite":
            cursor.execute("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'")
            present = {(r[0], r[1]) for r in cursor.fetchall()}
            expected = SQLITE_TRIGGERS
        else:
            return []
    return [f"{table}.{name}" for table, name in expected if (table, name) not in present]
