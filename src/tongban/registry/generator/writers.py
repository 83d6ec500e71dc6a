"""Bulk writers that load generated tables into a source's own database alias.

PostgreSQL: drop the table's indexes and key constraints, TRUNCATE, COPY text in large chunks,
then rebuild the indexes and ANALYZE (building a key over loaded rows is far cheaper than keeping
it up to date row by row). SQLite: executemany in one transaction, with secondary indexes rebuilt
after the load. Both go through Django's connection for the alias, so they work on test databases.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from django.db import connections, transaction

from tongban.registry.generator.dataset import Table
from tongban.registry.generator.photos import Photo

CHUNK_ROWS = 100_000


class DataExists(Exception):
    """A table already holds rows and the caller asked not to replace them."""
Advance = Callable[[int], None]


def _text_chunks(table: Table) -> Iterable[tuple[str, int]]:
    """COPY text format, one chunk of rows at a time (\\N for NULL; values hold no tab or newline)."""
    columns = [[r"\N" if v is None else v for v in column] if None in column else column for column in table.data]
    for start in range(0, table.rows, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, table.rows)
        part = [column[start:stop] for column in columns]
        yield "\n".join(map("\t".join, zip(*part, strict=True))) + "\n", stop - start  # type: ignore[arg-type]


def _write_photos(cursor: Any, photos: Sequence[Photo]) -> None:
    cursor.execute("DELETE FROM idcard_photo")
    cursor.executemany(
        "INSERT INTO idcard_photo (id, origin, image, width, height) VALUES (%s, %s, %s, %s, %s)",
        [(p.id, p.origin, p.image, p.width, p.height) for p in photos],
    )


def _check_empty(cursor: Any, table: Table) -> None:
    cursor.execute(f"SELECT 1 FROM {table.name} LIMIT 1")  # noqa: S608 (our own table names)
    if cursor.fetchone() is not None:
        raise DataExists(f"{table.name} 已有数据")


def load_postgres(
    alias: str, tables: Sequence[Table], *, replace: bool, photos: Sequence[Photo] = (), advance: Advance | None = None
) -> None:
    connection = connections[alias]
    step = advance or (lambda _rows: None)
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")
        # Source connections carry a short statement timeout for the hot path; a bulk load is not that.
        cursor.execute("SET LOCAL statement_timeout = 0")
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        if photos:
            _write_photos(cursor, photos)
        for table in tables:
            if not replace:
                _check_empty(cursor, table)
            cursor.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('p', 'u')",
                [table.name],
            )
            constraints = cursor.fetchall()
            for name, _definition in constraints:
                cursor.execute(f'ALTER TABLE {table.name} DROP CONSTRAINT "{name}"')
            cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s", [table.name])
            indexes = cursor.fetchall()
            for name, _definition in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            cursor.execute(f"TRUNCATE {table.name}")
            columns = ", ".join(table.columns)
            with cursor.cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
                for text, rows in _text_chunks(table):
                    copy.write(text)
                    step(rows)
            for name, definition in constraints:
                cursor.execute(f'ALTER TABLE {table.name} ADD CONSTRAINT "{name}" {definition}')
            for _name, definition in indexes:
                cursor.execute(definition)
            if "id" in table.columns:
                # Keep the identity sequence ahead of the loaded ids, so later inserts do not collide.
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                    f"GREATEST((SELECT max(id) FROM {table.name}), 1))"
                )
            cursor.execute(f"ANALYZE {table.name}")


def load_sqlite(
    alias: str, tables: Sequence[Table], *, replace: bool, photos: Sequence[Photo] = (), advance: Advance | None = None
) -> None:
    connection = connections[alias]
    step = advance or (lambda _rows: None)
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        if photos:
            _write_photos(cursor, photos)
        raw = connection.connection  # the sqlite3 connection, for executemany without Django's wrapping
        for table in tables:
            if not replace:
                _check_empty(cursor, table)
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                [table.name],
            )
            indexes = cursor.fetchall()
            for name, _sql in indexes:
                cursor.execute(f'DROP INDEX "{name}"')
            cursor.execute(f"DELETE FROM {table.name}")  # noqa: S608
            placeholders = ", ".join("?" for _ in table.columns)
            statement = f"INSERT INTO {table.name} ({', '.join(table.columns)}) VALUES ({placeholders})"  # noqa: S608
            for start in range(0, table.rows, CHUNK_ROWS):
                stop = min(start + CHUNK_ROWS, table.rows)
                raw.executemany(statement, zip(*(column[start:stop] for column in table.data), strict=True))
                step(stop - start)
            for _name, sql in indexes:
                cursor.execute(sql)
        cursor.execute("ANALYZE")


def load(
    alias: str, tables: Sequence[Table], *, replace: bool, photos: Sequence[Photo] = (), advance: Advance | None = None
) -> None:
    """Load `tables` (and the card photos, for the idcard source) into the database `alias`."""
    vendor = connections[alias].vendor
    if vendor == "postgresql":
        load_postgres(alias, tables, replace=replace, photos=photos, advance=advance)
    elif vendor == "sqlite":
        load_sqlite(alias, tables, replace=replace, photos=photos, advance=advance)
    else:
        raise NotImplementedError(f"no bulk writer for {vendor}")
