"""The n-gram index beside the search documents: pg_trgm GIN indexes on PostgreSQL, an FTS5 table on SQLite
(the same gram words in both; tongban.search.backends reads them)."""

from django.db import migrations

PG_COLUMNS = ("title_grams", "keywords_grams", "body", "pinyin_compact", "initials")


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in PG_COLUMNS:
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS search_doc_{column}_trgm "
                                  f"ON search_searchdocument USING gin ({column} gin_trgm_ops)")
    elif connection.vendor == "sqlite":
        # Gram words separated by spaces: unicode61 makes each bigram (and each character of a title) a token.
        schema_editor.execute("CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5("
                              "title, keywords, body, tokenize = 'unicode61', detail = 'full')")


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        for column in PG_COLUMNS:
            schema_editor.execute(f"DROP INDEX IF EXISTS search_doc_{column}_trgm")
    elif connection.vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS search_fts")


class Migration(migrations.Migration):
    dependencies = [("search", "0001_search_documents")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
