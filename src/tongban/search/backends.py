"""Candidate retrieval over the n-gram index, one implementation per database.

A query is matched against the distinct titles (tongban.search.models.SearchTitle), not against every
implementing body's row, and the pure ranking (tongban.search.engine.score) scores those titles the same way
on both databases: PostgreSQL finds them through `pg_trgm` GIN indexes (word similarity of the query's gram
words to a title's gram words, LIKE on the pinyin), SQLite through the FTS5 table `search_fts` (any of the
query's grams) and LIKE on the pinyin. Only when the titles give few candidates is the guide text searched
(an exact phrase: LIKE with pg_trgm, a phrase query on `search_fts_body`).
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
CANDIDATE_LIMIT = 200
# The guide text is searched only when the titles and keywords gave fewer candidates than this: a match there
# ranks below any title match anyway, and a phrase common in guides ("居民身份证") would cost a scan of most rows.
BODY_FALLBACK = 8
# Only constant names and placeholders are put into the SQL below; every value is a parameter.
TITLES = "search_searchtitle"
DOCUMENTS = "search_searchdocument"
_SELECT = "t.id, t.title, t.keywords, t.pinyin, t.initials"


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _latin(terms: Sequence[Term]) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for term in terms:
        if term.latin:
            clauses.append(r"t.pinyin_compact LIKE %s ESCAPE '\' OR t.initials LIKE %s ESCAPE '\' "
                           r"OR t.title LIKE %s ESCAPE '\'")
            params += [_like(term.text)] * 3
    return clauses, params


def _phrases(terms: Sequence[Term]) -> list[str]:
    return [t.text for t in terms if not t.latin and len(t.text) > 1]


def _candidates(rows: Sequence[Sequence[Any]], body_hit: bool = False) -> list[Candidate]:
    return [Candidate(key=r[0], title=r[1], keywords=r[2], body="", pinyin=r[3], initials=r[4], body_hit=body_hit)
            for r in rows]


def _scope(queryset: QuerySet | None) -> tuple[str, list[Any]]:
    if queryset is None:
        return "", []
    sql, params = queryset.values("id").query.sql_with_params()
    return f" AND d.id IN ({sql})", list(params)


def _body_titles(cursor: Any, where: str, params: list[Any], scope: QuerySet | None,
                 exclude: set[int], limit: int) -> list[Candidate]:
    """The titles of the documents whose guide text has the phrase, each with those documents' ids (a title
    is shared by many bodies; only those whose own guide says it are a match)."""
    scope_sql, scope_params = _scope(scope)
    cursor.execute(f"SELECT d.id, d.title_ref_id FROM {DOCUMENTS} d WHERE {where}{scope_sql} "  # noqa: S608
                   f"LIMIT %s", [*params, *scope_params, limit * 10])
    documents: dict[int, list[int]] = {}
    for pk, title_id in cursor.fetchall():
        if title_id not in exclude:
            documents.setdefault(title_id, []).append(pk)
    if not documents:
        return []
    keys = list(documents)[:limit]
    cursor.execute(f"SELECT {_SELECT} FROM {TITLES} t WHERE t.id IN ({', '.join(['%s'] * len(keys))})",  # noqa: S608
                   keys)
    found = _candidates(cursor.fetchall(), body_hit=True)
    for candidate in found:
        candidate.documents = documents[candidate.key]
    return found


def candidates_postgresql(terms: Sequence[Term], scope: QuerySet | None = None,
                          limit: int = CANDIDATE_LIMIT) -> list[Candidate]:
    clauses, params = _latin(terms)
    similarity: list[str] = []
    sim_params: list[Any] = []
    for term in terms:
        if term.latin:
            continue
        words = gram_words(term.text, unigrams=len(term.text) <= 2)
        clauses.append("%s <%% t.title_grams OR %s <%% t.keywords_grams")
        params += [words, words]
        similarity.append("word_similarity(%s, t.title_grams)")
        sim_params.append(words)
    found: list[Candidate] = []
    with connection.cursor() as cursor:
        if clauses:
            order = f"GREATEST({', '.join(similarity)}) DESC" if similarity else "t.id"
            cursor.execute(f"SELECT {_SELECT} FROM {TITLES} t WHERE {' OR '.join(clauses)} "  # noqa: S608
                           f"ORDER BY {order} LIMIT %s", [*params, *sim_params, limit])
            found = _candidates(cursor.fetchall())
        phrases = _phrases(terms)
        if phrases and len(found) < BODY_FALLBACK:
            where = " OR ".join([r"d.body LIKE %s ESCAPE '\'"] * len(phrases))
            found += _body_titles(cursor, f"({where})", [_like(p) for p in phrases], scope,
                                  {c.key for c in found}, limit)
    return found


def candidates_sqlite(terms: Sequence[Term], scope: QuerySet | None = None,
                      limit: int = CANDIDATE_LIMIT) -> list[Candidate]:
    found: dict[int, Candidate] = {}
    with connection.cursor() as cursor:
        grams = [g for t in terms if not t.latin for g in gram_words(t.text, unigrams=len(t.text) <= 2).split()]
        if grams:
            match = " OR ".join(f'"{g}"' for g in dict.fromkeys(grams))
            cursor.execute(f"SELECT {_SELECT} FROM search_fts f JOIN {TITLES} t ON t.id = f.rowid "  # noqa: S608
                           f"WHERE search_fts MATCH %s ORDER BY bm25(search_fts, 10.0, 5.0) LIMIT %s", [match, limit])
            found.update((c.key, c) for c in _candidates(cursor.fetchall()))
        clauses, params = _latin(terms)
        if clauses:
            cursor.execute(f"SELECT {_SELECT} FROM {TITLES} t WHERE {' OR '.join(clauses)} LIMIT %s",  # noqa: S608
                           [*params, limit])
            found.update((c.key, c) for c in _candidates(cursor.fetchall()))
        phrases = _phrases(terms)
        if phrases and len(found) < BODY_FALLBACK:
            match = " OR ".join(f'"{phrase_words(p)}"' for p in phrases)
            for c in _body_titles(cursor, "d.id IN (SELECT rowid FROM search_fts_body WHERE search_fts_body MATCH %s)",
                                  [match], scope, set(found), limit):
                found[c.key] = c
    return list(found.values())


def candidates(terms: Sequence[Term], scope: QuerySet | None = None, limit: int = CANDIDATE_LIMIT) -> list[Candidate]:
    """The titles that may answer the query (with `body_hit` for those found only in the guide text)."""
    if connection.vendor == "postgresql":
        return candidates_postgresql(terms, scope, limit)
    return candidates_sqlite(terms, scope, limit)


# -- writing the database-specific half of the index (SQLite; pg_trgm indexes the columns themselves)


def fts_write_title(title_id: int, *, title_grams: str, keywords_grams: str) -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM search_fts WHERE rowid = %s", [title_id])
        cursor.execute("INSERT INTO search_fts (rowid, title, keywords) VALUES (%s, %s, %s)",
                       [title_id, title_grams, keywords_grams])


def fts_delete_title(title_id: int) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM search_fts WHERE rowid = %s", [title_id])


def fts_write_body(document_id: int, body_grams: str) -> None:
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM search_fts_body WHERE rowid = %s", [document_id])
        cursor.execute("INSERT INTO search_fts_body (rowid, body) VALUES (%s, %s)", [document_id, body_grams])


def fts_delete_body(document_id: int) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM search_fts_body WHERE rowid = %s", [document_id])


def configure_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Set pg_trgm's word-similarity threshold on each new PostgreSQL connection (connection_created)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, false)",
                           [str(WORD_SIMILARITY_THRESHOLD)])
