"""Create the databases if needed and migrate the platform's and every source's database."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


def ensure_postgres_databases() -> list[str]:
    """CREATE DATABASE for each configured PostgreSQL database that does not exist yet."""
    import psycopg
    from psycopg import sql

    from config.env import POSTGRESQL_ENGINES

    created = []
    for conf in settings.DATABASES.values():
        if conf["ENGINE"] not in POSTGRESQL_ENGINES:
            continue
        name = str(conf["NAME"])
        conninfo = {"host": conf["HOST"], "port": conf["PORT"], "user": conf["USER"], "dbname": "postgres"}
        if conf.get("PASSWORD"):
            conninfo["password"] = conf["PASSWORD"]
        with psycopg.connect(**conninfo, autocommit=True) as conn:  # type: ignore[arg-type]
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                created.append(name)
    return created


class Command(BaseCommand):
    help = "创建数据库（PostgreSQL），迁移平台库与各权威数据源库，并加载随软件发布的事项目录。"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-catalog", action="store_true", help="不加载事项目录数据文件")

    def handle(self, *args: Any, **options: Any) -> None:
        for path in {settings.TONGBAN_VAR_DIR}:
            path.mkdir(parents=True, exist_ok=True)
        for name in ensure_postgres_databases():
            self.stdout.write(f"created database {name}")
        verbosity = max(0, options["verbosity"] - 1)
        for alias in settings.DATABASES:
            if alias == "default":
                call_command("migrate", database=alias, interactive=False, verbosity=verbosity)
            else:
                # A source database holds only its own tables: record nothing of the platform's apps there.
                call_command("migrate", "registry", database=alias, interactive=False, verbosity=verbosity)
            self.stdout.write(f"migrated {alias}")
        if not options["no_catalog"]:
            # The shipped catalog (src/tongban/catalog/data): loading again changes nothing.
            call_command("catalog", "load", verbosity=verbosity, stdout=self.stdout)
