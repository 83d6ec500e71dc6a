"""Lean prepared statements for the few queries on the partner API's hot path.

    FIND_PERSON = Statement("population", "SELECT name, status FROM population_person WHERE id_number = %s")
    row = FIND_PERSON.one(["110101199003077777"])        # a tuple of str | None, or None

On PostgreSQL, a statement is prepared once per connection and then run with libpq's
`PQexecPrepared` on the psycopg connection Django already holds: parameters and results in text
format, no cursor object, no query conversion, no adaptation machinery. Through a psycopg cursor the
same look-up costs about 75-95 µs of Python; this way about 40 µs, of which libpq's own send and
receive are ~30 (docs/performance.md, "Third pass").

It runs this way only where that is exactly equivalent to a cursor: the connection is in
autocommit (each statement is its own transaction, as the database commits it before answering), no
execute wrapper is installed and queries are not being logged (DEBUG, or a test capturing queries).
Anywhere else — SQLite, an open transaction, a test counting queries — it runs through Django's
cursor with the same SQL, so callers need not care which way it ran.

Errors are Django's: a unique violation raises IntegrityError, a lost connection OperationalError,
anything else DatabaseError; the connection is then marked so that the end of the request closes it
if it is broken (tongban.core.fastlane.release_connections, close_old_connections).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db import DatabaseError, IntegrityError, OperationalError, connections
from psycopg import pq

__all__ = ["Statement", "text_param"]

_names = itertools.count(1)
_names_lock = threading.Lock()

_TUPLES_OK, _COMMAND_OK, _FATAL = (int(pq.ExecStatus.TUPLES_OK), int(pq.ExecStatus.COMMAND_OK),
                                   int(pq.ExecStatus.FATAL_ERROR))
# SQLSTATE classes: 23 integrity constraint violation; 08 connection exception, 57P01-03 the server
# shutting down or the backend terminated, 53 insufficient resources: all "the database is unavailable".
_INTEGRITY = "23"
_ALREADY_PREPARED = "42P05"
_NOT_PREPARED = "26000"
_UNAVAILABLE = ("08", "57P", "53")


def text_param(value: Any) -> bytes | None:
    """A parameter in PostgreSQL's text input format."""
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime passed to a prepared statement")
        return value.isoformat().encode()
    if isinstance(value, dt.date):
        return value.isoformat().encode()
    if isinstance(value, bytes):
        return b"\\x" + value.hex().encode()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    raise TypeError(f"no text form for {type(value).__name__}")


def _placeholders(sql: str) -> bytes:
    """`%s` placeholders (Django's) as `$1`, `$2`, … (PostgreSQL's)."""
    parts = sql.split("%s")
    out = [parts[0]]
    for number, part in enumerate(parts[1:], start=1):
        out.append(f"${number}{part}")
    return "".join(out).encode()


class Statement:
    """One SQL statement with `%s` placeholders, on one database alias."""

    def __init__(self, alias: str, sql: str) -> None:
        if "%%" in sql:
            raise ValueError("a literal % is not supported in a lean statement")
        self.alias = alias
        self.sql = sql
        self._pg_sql = _placeholders(sql)
        with _names_lock:
            self._name = f"tb_lean_{next(_names)}".encode()
        self._decoders: list[Callable[[bytes], Any]] | None = None  # by column, from the first result

    def __repr__(self) -> str:
        return f"Statement({self.alias!r}, {self.sql!r})"

    # -- running ------------------------------------------------------------------------------------

    def rows(self, params: Sequence[Any], *,
             cursor_params: Callable[[], Sequence[Any]] | None = None) -> list[tuple[Any, ...]]:
        """All rows as tuples. On the lean path booleans, integers, dates and bytea are decoded as a
        cursor would; other types come back as their text. `cursor_params`, if given, makes the
        parameters for the cursor path (e.g. adapted by model fields) only when that path runs."""
        wrapper = connections[self.alias]
        lean = self._lean_connection(wrapper)
        if lean is None:
            with wrapper.cursor() as cursor:
                cursor.execute(self.sql, params if cursor_params is None else cursor_params())
                return list(cursor.fetchall()) if cursor.description is not None else []
        return self._exec(wrapper, lean, params)

    def one(self, params: Sequence[Any], *,
            cursor_params: Callable[[], Sequence[Any]] | None = None) -> tuple[Any, ...] | None:
        rows = self.rows(params, cursor_params=cursor_params)
        return rows[0] if rows else None

    # -- internals ----------------------------------------------------------------------------------

    @staticmethod
    def _lean_connection(wrapper: Any) -> Any:
        # The same conditions as get_autocommit() and queries_logged, read as attributes (this runs
        # three times per partner verification).
        if wrapper.vendor != "postgresql" or wrapper.execute_wrappers or wrapper.force_debug_cursor \
                or settings.DEBUG:
            return None
        if wrapper.connection is None:
            wrapper.ensure_connection()
        if not wrapper.autocommit or wrapper.in_atomic_block:
            return None
        return wrapper.connection

    def _exec(self, wrapper: Any, conn: Any, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        pgconn = conn.pgconn
        if getattr(wrapper, "_tongban_lean_pgconn", None) is not pgconn:
            wrapper._tongban_lean_prepared = set()
            wrapper._tongban_lean_pgconn = pgconn
        prepared: set[bytes] = wrapper._tongban_lean_prepared
        values = [text_param(p) for p in params]
        if self._name not in prepared:
            result = self._call(wrapper, pgconn.prepare, self._name, self._pg_sql)
            if result.status == _FATAL and _sqlstate(result) == _ALREADY_PREPARED:
                pass  # prepared earlier in this session (our bookkeeping was reset): fine
            else:
                self._check(wrapper, pgconn, result)
            prepared.add(self._name)
        result = self._call(wrapper, pgconn.exec_prepared, self._name, values)
        status = result.status
        if status == _FATAL and _sqlstate(result) == _NOT_PREPARED:  # the session forgot it (DEALLOCATE)
            self._check(wrapper, pgconn, self._call(wrapper, pgconn.prepare, self._name, self._pg_sql))
            result = self._call(wrapper, pgconn.exec_prepared, self._name, values)
            status = result.status
        if status == _TUPLES_OK:
            ntuples = result.ntuples
            if not ntuples:
                return []
            decoders = self._decoders
            if decoders is None or len(decoders) != result.nfields:
                decoders = self._decoders = [_DECODERS.get(result.ftype(c), _text) for c in range(result.nfields)]
            get = result.get_value
            columns = tuple(enumerate(decoders))
            return [tuple([None if (v := get(r, c)) is None else decode(v) for c, decode in columns])
                    for r in range(ntuples)]
        if status != _COMMAND_OK:
            self._check(wrapper, pgconn, result)
        return []

    @staticmethod
    def _call(wrapper: Any, function: Callable[..., Any], *args: Any) -> Any:
        try:
            # The connection's budget (tongban.core.pgbackend): the client-side deadline in web processes.
            budget = getattr(wrapper.connection, "_tongban_budget", None)
            if budget is not None:
                return budget.run(wrapper.connection.pgconn.socket, function, *args)
            return function(*args)
        except psycopg.Error as exc:  # libpq gave no result at all: the connection is gone
            wrapper.errors_occurred = True
            raise OperationalError(str(exc)) from exc

    @staticmethod
    def _check(wrapper: Any, pgconn: Any, result: Any) -> None:
        if result.status in (_COMMAND_OK, _TUPLES_OK):
            return
        wrapper.errors_occurred = True
        state = _sqlstate(result)
        message = (result.error_field(pq.DiagnosticField.MESSAGE_PRIMARY) or pgconn.error_message or b"").decode(
            "utf-8", "replace")
        if state.startswith(_INTEGRITY):
            raise IntegrityError(message or state)
        if not state or state.startswith(_UNAVAILABLE) or pgconn.status != pq.ConnStatus.OK:
            raise OperationalError(message or "the database connection was lost")
        raise DatabaseError(message or state)


def _sqlstate(result: Any) -> str:
    return (result.error_field(pq.DiagnosticField.SQLSTATE) or b"").decode()


def _text(value: bytes) -> str:
    return value.decode()


def _bytea(value: bytes) -> bytes:
    return bytes.fromhex(value[2:].decode())  # the hex format ("\\x…"), PostgreSQL's default output


# Result columns in text format, decoded to what a psycopg cursor returns for the same types
# (type OIDs from pg_type); any other type comes back as its text.
_DECODERS: dict[int, Callable[[bytes], Any]] = {
    16: lambda v: v == b"t",  # bool
    17: _bytea,
    20: int, 21: int, 23: int,  # int8, int2, int4
    1082: lambda v: dt.date.fromisoformat(v.decode()),  # date
}

