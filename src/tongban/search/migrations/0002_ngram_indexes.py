"""The n-gram index beside the search tables: pg_trgm GIN indexes on PostgreSQL, FTS5 tables on SQLite
(the same gram words in both; tongban.search.backends reads them)."""

from django.db import migrations

PG_INDEXES = (("search_searchtitle", "title_grams"), ("search_searchtitle", "keywords_grams"),
              ("search_searchtitle", "pinyin_compact"), ("search_searchtitle", "initials"),
              ("search_searchdocument", "body"))


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for table, column in PG_INDEXES:
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {table}_{column}_trgm "
                                  f"ON {table} USING gin ({column} gin_trgm_ops)")
    elif connection.vendor == "sqlite":
        # Gram words separated by spaces: unicode61 makes each bigram (and each character of a title) a token.
        schema_editor.execute("CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
                              "title, keywords, tokenize = 'unicode61')")
        schema_editor.execute("CREATE VIRTUAL TABLE IF NOT EXISTS search_fts_body USING fts5("
                              "body, tokenize = 'unicode61')")


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        for table, column in PG_INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {table}_{column}_trgm")
    elif connection.vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS search_fts")
        schema_editor.execute("DROP TABLE IF EXISTS search_fts_body")


class Migration(migrations.Migration):
    dependencies = [("search", "0001_search_titles_and_documents")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
