"""Routes each reference source's models to that source's own database, and nothing else there.

A model of the registry app names its database in a class attribute `source_alias`. Nothing of
the platform is migrated into a source database and no source table into the platform's, so a
query can never join across them.
"""

from __future__ import annotations

from typing import Any

from config.env import SOURCE_ALIASES


def _alias_of(model: Any) -> str | None:
    return getattr(model, "source_alias", None)


class SourceRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        return _alias_of(model)

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return _alias_of(model)

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        a1, a2 = _alias_of(type(obj1)), _alias_of(type(obj2))
        if a1 or a2:
            return a1 == a2
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        if app_label == "registry":
            if model_name is None:
                return db in SOURCE_ALIASES
            from django.apps import apps

            model = apps.get_model(app_label, model_name)
            return _alias_of(model) == db
        # Only the platform's own apps live in the default database; sources hold only their tables.
        return db == "default"
