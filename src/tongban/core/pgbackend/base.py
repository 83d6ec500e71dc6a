"""Django's PostgreSQL backend with every connection under a budget (issue 12; docs/operations.md).

* Connecting: libpq's `connect_timeout` (psycopg enforces it on the client) and TCP keepalive /
  TCP_USER_TIMEOUT come from OPTIONS (config.settings.base puts them there).
* Each round trip — a cursor's execute, a lean prepared statement (tongban.core.statements) — runs under
  the connection's `CallBudget`: in a web process a client-side deadline (the statement timeout plus a
  margin; past it the socket is cut, see tongban.core.resilience.watchdog), and on the platform database
  the `database` dependency: fail fast while it is down, at most T-1 threads waiting on it.

Settings: `DATABASES[alias]["TONGBAN_BUDGET"] = {"dependency": "database" | None, "statement_timeout_ms": …}`.
Off a web process nothing is cut (a migration or a bulk load may run as long as it needs).
"""

from __future__ import annotations

from typing import Any

import psycopg
from django.db.backends.postgresql import base as pg

from tongban.core import resilience


class DatabaseUnavailable(psycopg.OperationalError):
    """The platform database is down (a recent timeout or failures): not asked, fails at once."""


class DatabaseTimeout(psycopg.OperationalError):
    """No answer within the client-side deadline: the connection was cut."""


TIMEOUT_ERRORS = (DatabaseTimeout, psycopg.errors.ConnectionTimeout, psycopg.errors.QueryCanceled)


def classify(exc: BaseException) -> str | None:
    """What a database error says about the database: a timeout, an error of reaching it, or nothing."""
    if isinstance(exc, DatabaseUnavailable):
        return None  # our own refusal, not news about the database
    if isinstance(exc, TIMEOUT_ERRORS):
        return resilience.TIMEOUT
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | OSError):
        return resilience.ERROR
    return None


_database: resilience.Dependency | None = None


def database_dependency() -> resilience.Dependency:
    global _database
    if _database is None:
        _database = resilience.new_dependency(
            "database", classify=classify,
            error=lambda dep: DatabaseUnavailable(f"the platform database is unavailable (retry in {dep.retry_after()} s)"))
    return _database


def _budget_of(connection: Any) -> resilience.CallBudget | None:
    return getattr(connection, "_tongban_budget", None)


class _Budgeted:
    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        budget = _budget_of(self._conn)  # type: ignore[attr-defined]
        if budget is None:
            return super().execute(query, params, **kwargs)  # type: ignore[misc]
        return budget.run(self._conn.pgconn.socket, super().execute, query, params, **kwargs)  # type: ignore[attr-defined,misc]

    def executemany(self, query: Any, params_seq: Any, **kwargs: Any) -> Any:
        budget = _budget_of(self._conn)  # type: ignore[attr-defined]
        if budget is None:
            return super().executemany(query, params_seq, **kwargs)  # type: ignore[misc]
        return budget.run(self._conn.pgconn.socket, super().executemany, query, params_seq, **kwargs)  # type: ignore[attr-defined,misc]


class BudgetedServerBindingCursor(_Budgeted, pg.ServerBindingCursor):  # type: ignore[misc]
    pass


class BudgetedCursor(_Budgeted, pg.Cursor):  # type: ignore[misc]
    pass


class DatabaseWrapper(pg.DatabaseWrapper):
    def _tongban_budget_settings(self) -> dict[str, Any]:
        return dict(self.settings_dict.get("TONGBAN_BUDGET") or {})

    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        factory = params.get("cursor_factory")
        params["cursor_factory"] = BudgetedServerBindingCursor if factory is pg.ServerBindingCursor else BudgetedCursor
        budget = self._tongban_budget_settings()
        statement_ms = int(budget.get("statement_timeout_ms") or 0)
        if budget.get("serving_statement_timeout") and statement_ms and resilience.serving() \
                and "statement_timeout" not in str(params.get("options", "")):
            # The platform database's statement timeout holds in web processes only: a migration or a
            # long report run from the command line is not cut short.
            params["options"] = f"{params.get('options', '')} -c statement_timeout={statement_ms}".strip()
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        budget = self._tongban_budget_settings()
        # The `database` dependency (fail fast while down, T-1 slots) in web processes; a worker or a command
        # waits for the database as it always did.
        serving = resilience.serving() or bool(budget.get("always"))
        dependency = database_dependency() if serving and budget.get("dependency") == "database" else None
        if dependency is None:
            connection = super().get_new_connection(conn_params)
        else:
            connection = dependency.call(super().get_new_connection, conn_params)
        statement_ms = int(budget.get("statement_timeout_ms") or 0)
        # The deadline: only in a web process (a thread stuck there is a request that never answers).
        deadline = (statement_ms + resilience.budgets().db_deadline_margin_ms) / 1000 \
            if serving and statement_ms > 0 else None
        if dependency is not None or deadline is not None:
            connection._tongban_budget = resilience.CallBudget(dependency, deadline, DatabaseTimeout)
        return connection
