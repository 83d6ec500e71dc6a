"""tongban.core.statements: the lean prepared statements of the hot path, against a real database."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from tongban.core.statements import Statement, text_param

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "population"])

TABLE = "tb_statement_test"


@pytest.fixture
def table():
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        if connection.vendor == "postgresql":
            cursor.execute(f"CREATE TABLE {TABLE} (id serial PRIMARY KEY, k text UNIQUE NOT NULL, n integer, "
                           "flag boolean, day date, raw bytea, note text)")
        else:
            cursor.execute(f"CREATE TABLE {TABLE} (id integer PRIMARY KEY AUTOINCREMENT, k text UNIQUE NOT NULL, "
                           "n integer, flag boolean, day date, raw blob, note text)")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")


def _insert() -> Statement:
    return Statement("default", f"INSERT INTO {TABLE} (k, n, flag, day, raw, note) "  # noqa: S608
                                "VALUES (%s, %s, %s, %s, %s, %s) RETURNING id")


def _select() -> Statement:
    return Statement("default", f"SELECT id, k, n, flag, day, raw, note FROM {TABLE} WHERE k = %s")  # noqa: S608


def _lean_used(*statements: Statement) -> bool:
    prepared = getattr(connection, "_tongban_lean_prepared", None) or set()
    return all(statement._name in prepared for statement in statements)


def test_rows_come_back_typed_as_a_cursor_returns_them(table):
    insert, select = _insert(), _select()
    new_id = insert.one(["a", 7, True, dt.date(2026, 2, 28), b"\x00\xff\\x", "名字 é"])[0]
    insert.one(["b", None, False, None, None, None])
    assert isinstance(new_id, int)
    assert select.one(["a"]) == (new_id, "a", 7, True, dt.date(2026, 2, 28), b"\x00\xff\\x", "名字 é")
    _, k, n, flag, day, raw, note = select.one(["b"])
    assert (k, n, day, raw, note) == ("b", None, None, None, None) and not flag
    assert select.one(["nobody"]) is None
    with connection.cursor() as cursor:  # what Django's own cursor reads back is the same
        cursor.execute(f"SELECT id, k, n, flag, day, raw, note FROM {TABLE} WHERE k = %s", ["a"])  # noqa: S608
        via_cursor = cursor.fetchone()
    assert (via_cursor[:5], bytes(via_cursor[5]), via_cursor[6]) == (select.one(["a"])[:5], b"\x00\xff\\x", "名字 é")
    assert _lean_used(insert, select) == (connection.vendor == "postgresql")


def test_a_unique_violation_is_an_integrity_error_and_the_connection_carries_on(table):
    insert, select = _insert(), _select()
    insert.one(["dup", 1, True, None, None, None])
    with pytest.raises(IntegrityError):
        insert.one(["dup", 2, True, None, None, None])
    assert select.one(["dup"])[2] == 1  # nothing half-written, and the next statement runs
    insert.one(["other", 3, False, None, None, None])
    assert select.one(["other"])[2] == 3


def test_inside_a_transaction_it_runs_in_that_transaction(table):
    insert, select = _insert(), _select()
    with pytest.raises(RuntimeError), transaction.atomic():
        insert.one(["rolled-back", 1, True, None, None, None])
        assert select.one(["rolled-back"]) is not None  # visible inside
        raise RuntimeError("roll back")
    assert select.one(["rolled-back"]) is None  # and gone with the rollback
    assert not _lean_used(insert)  # the cursor ran it: in the transaction, not as a statement of its own


def test_captured_queries_are_seen(table):
    select = _select()
    with CaptureQueriesContext(connection) as captured:
        select.one(["x"])
    assert any(TABLE in q["sql"] for q in captured.captured_queries)


def test_text_parameters():
    assert text_param(None) is None and text_param(True) == b"t" and text_param(False) == b"f"
    assert text_param(12) == b"12" and text_param("中") == "中".encode()
    assert text_param(dt.date(2026, 1, 2)) == b"2026-01-02"
    assert text_param(dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)) == b"2026-01-02T03:04:05+00:00"
    assert text_param(b"\x01\xab") == b"\\x01ab"
    assert text_param({"b": [1, "二"]}) == '{"b":[1,"二"]}'.encode()
    with pytest.raises(ValueError, match="naive"):
        text_param(dt.datetime(2026, 1, 2))  # noqa: DTZ001
    with pytest.raises(TypeError):
        text_param(1.5)


def test_a_literal_percent_is_refused():
    with pytest.raises(ValueError, match="literal %"):
        Statement("default", "SELECT '100%%'")


# -- PostgreSQL only: the lean path's own edge cases --------------------------------------------------


def _postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the lean path is PostgreSQL's")


def test_a_statement_is_prepared_again_after_discard_all(table):
    _postgresql()
    insert, select = _insert(), _select()
    insert.one(["p", 1, True, None, None, None])
    assert select.one(["p"])[2] == 1
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # the session forgets every prepared statement
    assert select.one(["p"])[2] == 1


def test_a_statement_prepared_by_an_earlier_wrapper_state_is_reused(table):
    _postgresql()
    select = _select()
    select.one(["q"])
    connection._tongban_lean_prepared = set()  # our bookkeeping lost, the session still has it
    assert select.one(["q"]) is None


def test_a_killed_backend_is_an_operational_error_and_the_connection_is_marked(table):
    _postgresql()
    select = _select()
    select.one(["k"])
    pid = connection.connection.info.backend_pid
    with connections["population"].cursor() as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    with pytest.raises(OperationalError):
        select.one(["k"])
    assert connection.errors_occurred
    connection.close_if_unusable_or_obsolete()  # what the end of the request does
    assert select.one(["k"]) is None  # a new connection, prepared anew
