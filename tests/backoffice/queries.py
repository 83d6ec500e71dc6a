"""Counting the SQL statements a request runs, through the connection's execute wrapper (the statements a
request makes are seen however the query log is reset or capped)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import connections


@contextmanager
def statements(alias: str = "default") -> Iterator[list[str]]:
    seen: list[str] = []

    def wrapper(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        seen.append(sql)
        return execute(sql, params, many, context)

    with connections[alias].execute_wrapper(wrapper):
        yield seen
