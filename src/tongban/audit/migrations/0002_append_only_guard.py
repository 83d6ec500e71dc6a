"""Append-only audit tables: triggers refuse UPDATE, DELETE and TRUNCATE, on PostgreSQL and SQLite.

The only DELETE that passes is the retention purge of `audit_auditentry` rows older than 180 days,
inside a transaction that set `tongban.audit_purge` (PostgreSQL) or through the purge function
registered by tongban.audit.guard (SQLite). The 180 days are checked here, in the database.
TRUNCATE passes only in a test database (Django's test flush). The SQL is frozen in this file on
purpose: a later change to the rules is a new migration.
"""

from django.db import migrations

TABLES = ("audit_auditentry", "audit_auditchain", "audit_auditchainclosure", "audit_auditcheckpoint")
ENTRY = "audit_auditentry"
MESSAGE = "tongban: the audit log is append-only"

PG_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION tongban_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    IF current_database() LIKE 'test\_%' THEN
      RETURN NULL;
    END IF;
  ELSIF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'audit_auditentry'
        AND current_setting('tongban.audit_purge', true) = 'on' THEN
    IF OLD.occurred_at < now() - interval '180 days' THEN
      RETURN OLD;
    END IF;
    RAISE EXCEPTION '%: entry % is younger than 180 days and cannot be purged', 'tongban', OLD.id
      USING ERRCODE = '42501';
  END IF;
  RAISE EXCEPTION 'tongban: the audit log is append-only (% on % refused)', TG_OP, TG_TABLE_NAME
    USING ERRCODE = '42501';
END
$$;
"""


def pg_forward_sql():
    yield PG_FUNCTIONS
    for table in TABLES:
        yield (f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
               f"FOR EACH ROW EXECUTE FUNCTION tongban_audit_append_only();")
        yield (f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
               f"FOR EACH STATEMENT EXECUTE FUNCTION tongban_audit_append_only();")


def pg_backward_sql():
    for table in TABLES:
        yield f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};"
        yield f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table};"
    yield "DROP FUNCTION IF EXISTS tongban_audit_append_only();"


def sqlite_forward_sql():
    for table in TABLES:
        yield (f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
               f"BEGIN SELECT RAISE(ABORT, '{MESSAGE} (UPDATE on {table} refused)'); END;")
        if table == ENTRY:
            old_enough = "OLD.occurred_at < strftime('%Y-%m-%d %H:%M:%f', 'now', '-180 days')"
        else:
            old_enough = "0"
        yield (f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
               f"WHEN NOT tongban_audit_may_delete('{table}', {old_enough}) "
               f"BEGIN SELECT RAISE(ABORT, '{MESSAGE} (DELETE on {table} refused)'); END;")


def sqlite_backward_sql():
    for table in TABLES:
        yield f"DROP TRIGGER IF EXISTS {table}_no_update;"
        yield f"DROP TRIGGER IF EXISTS {table}_no_delete;"


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = pg_forward_sql() if vendor == "postgresql" else sqlite_forward_sql() if vendor == "sqlite" else ()
    for sql in statements:
        schema_editor.execute(sql, params=None)


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    statements = pg_backward_sql() if vendor == "postgresql" else sqlite_backward_sql() if vendor == "sqlite" else ()
    for sql in statements:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forward, backward, elidable=False),
    ]
