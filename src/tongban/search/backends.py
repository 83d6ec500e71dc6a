"""Candidate retrieval over the n-gram index, one implementation per database.

Both return at most `limit` candidates that the pure ranking (tongban.search.engine.rank) then orders, so
both databases give the same results: PostgreSQL through `pg_trgm` GIN indexes (word similarity of the
query's gram words to an item's gram words; LIKE on the guide text and the pinyin), SQLite through the FTS5
table `search_fts` (any of the query's grams in the title or keywords, the exact phrase in the guide text)
and LIKE on the pinyin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import QuerySet

from tongban.search.engine import Candidate, Term, gram_words, phrase_words

# pg_trgm's threshold for `<%` (word similarity): a query's gram words sharing a third of their trigrams
# with an extent of the title (one wrong character of three) is a candidate. Set on each connection.
WORD_SIMILARITY_THRESHOLD = 0.3
CANDIDATE_LIMIT = 300

_COLUMNS = ("id", "title", "keywords", "body", "pinyin", "initials", "hooked_national", "high_frequency")
# Only constant column names and placeholders are put into the SQL below; every value is a parameter.
_SELECT = ", ".join(f"d.{c}" for c in _COLUMNS)
TABLE = "search_searchdocument"


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _candidates(rows: Sequence[Sequence[Any]]) -> list[Candidate]:
    return [Candidate(key=r[0], title=r[1], keywords=r[2], body=r[3], pinyin=r[4], initials=r[5],
                      hooked=bool(r[6]), high_frequency=bool(r[7])) for r in rows]


def _scope(queryset: QuerySet | None) -> tuple[str, list[Any]]:
    """`AND d.id IN (…)` for the filtered documents, or nothing when there is no filter."""
    if queryset is None:
        return "", []
    sql, params = queryset.values("id").query.sql_with_params()
    return f" AND d.id IN ({sql})", list(params)


def _latin(terms: Sequence[Term]) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for term in terms:
        if term.latin:
            clauses.append(r"d.pinyin_compact LIKE %s ESCAPE '\' OR d.initials LIKE %s ESCAPE '\' "
                           r"OR d.title LIKE %s ESCAPE '\'")
            params += [_like(term.text)] * 3
    return clauses, params


def candidates_postgresql(terms: Sequence[Term], scope: QuerySet | None,
                          limit: int = CANDIDATE_LIMIT) -> list[Candidate]:
    clauses, params = _latin(terms)
    similarity: list[str] = []
    sim_params: list[Any] = []
    for term in terms:
        if term.latin:
            continue
        words = gram_words(term.text, unigrams=len(term.text) <= 2)
        clauses.append("%s <%% d.title_grams OR %s <%% d.keywords_grams")
        params += [words, words]
        similarity.append("word_similarity(%s, d.title_grams)")
        sim_params.append(words)
        if len(term.text) > 1:
            clauses.append(r"d.body LIKE %s ESCAPE '\'")
            params.append(_like(term.text))
    if not clauses:
        return []
    order = f"GREATEST({', '.join(similarity)}) DESC, " if similarity else ""
    scope_sql, scope_params = _scope(scope)
    sql = (f"SELECT {_SELECT} FROM {TABLE} d WHERE ({' OR '.join(clauses)}){scope_sql} "  # noqa: S608
           f"ORDER BY {order}d.hooked_national DESC, d.high_frequency DESC LIMIT %s")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *scope_params, *sim_params, limit])
        return _candidates(cursor.fetchall())


def _fts_query(terms: Sequence[Term]) -> str:
    parts: list[str] = []
    for term in terms:
        if term.latin:
            continue
        grams = gram_words(term.text, unigrams=len(term.text) <= 2).split()
        words = " OR ".join(f'"{g}"' for g in grams)
        parts.append(f"{{title keywords}} : ({words})")
        if len(term.text) > 1:
            parts.append(f'body : "{phrase_words(term.text)}"')
    return " OR ".join(parts)


def candidates_sqlite(terms: Sequence[Term], scope: QuerySet | None,
                      limit: int = CANDIDATE_LIMIT) -> list[Candidate]:
    scope_sql, scope_params = _scope(scope)
    found: dict[int, Candidate] = {}
    with connection.cursor() as cursor:
        match = _fts_query(terms)
        if match:
            cursor.execute(
                f"SELECT {_SELECT} FROM search_fts f JOIN {TABLE} d ON d.id = f.rowid "  # noqa: S608
                f"WHERE search_fts MATCH %s{scope_sql} ORDER BY bm25(search_fts, 10.0, 5.0, 1.0) LIMIT %s",
                [match, *scope_params, limit])
            found.update((c.key, c) for c in _candidates(cursor.fetchall()))
        clauses, params = _latin(terms)
        if clauses:
            cursor.execute(f"SELECT {_SELECT} FROM {TABLE} d WHERE ({' OR '.join(clauses)}){scope_sql} "  # noqa: S608
                           f"ORDER BY d.hooked_national DESC, d.high_frequency DESC LIMIT %s",
                           [*params, *scope_params, limit])
            found.update((c.key, c) for c in _candidates(cursor.fetchall()))
    return list(found.values())


def candidates(terms: Sequence[Term], scope: QuerySet | None, limit: int = CANDIDATE_LIMIT) -> list[Candidate]:
    if connection.vendor == "postgresql":
        return candidates_postgresql(terms, scope, limit)
    return candidates_sqlite(terms, scope, limit)


# -- writing the database-specific half of the index


def fts_write(document_id: int, *, title_grams: str, keywords_grams: str, body_grams: str) -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM search_fts WHERE rowid = %s", [document_id])
        cursor.execute("INSERT INTO search_fts (rowid, title, keywords, body) VALUES (%s, %s, %s, %s)",
                       [document_id, title_grams, keywords_grams, body_grams])


def fts_delete(document_id: int) -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM search_fts WHERE rowid = %s", [document_id])


def configure_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Set pg_trgm's word-similarity threshold on each new PostgreSQL connection (connection_created)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, false)",
                           [str(WORD_SIMILARITY_THRESHOLD)])
