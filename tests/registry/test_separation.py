"""Each source's tables exist only in its own database; the platform's database holds none of them."""

from __future__ import annotations

import pytest
from django.db import connections, router

from config.env import SOURCE_ALIASES
from tongban.registry.models import SOURCE_MODELS

pytestmark = pytest.mark.django_db(databases="__all__")


def _tables(alias: str) -> set[str]:
    with connections[alias].cursor() as cursor:
        return set(connections[alias].introspection.table_names(cursor))


def test_every_source_model_routes_to_its_own_alias():
    assert set(SOURCE_MODELS) == set(SOURCE_ALIASES)
    for alias, models in SOURCE_MODELS.items():
        for model in models:
            assert model.source_alias == alias
            assert router.db_for_read(model) == alias
            assert router.db_for_write(model) == alias
            for other in ["default", *SOURCE_ALIASES]:
                assert router.allow_migrate_model(other, model) == (other == alias)


def test_source_tables_exist_only_in_their_own_database():
    for alias, models in SOURCE_MODELS.items():
        for model in models:
            table = model._meta.db_table
            assert table in _tables(alias)
            for other in ["default", *SOURCE_ALIASES]:
                if other != alias:
                    assert table not in _tables(other), f"{table} found in {other}"


def test_platform_database_has_no_source_tables_and_sources_no_platform_tables():
    source_tables = {model._meta.db_table for models in SOURCE_MODELS.values() for model in models}
    assert not source_tables & _tables("default")
    platform = _tables("default") - {"django_migrations"}
    assert "django_session" in platform
    for alias in SOURCE_ALIASES:
        assert not (_tables(alias) - {"django_migrations"}) & platform


def test_no_foreign_keys_between_sources():
    for models in SOURCE_MODELS.values():
        for model in models:
            for field in model._meta.get_fields():
                if field.is_relation and field.related_model is not None:
                    assert getattr(field.related_model, "source_alias", None) == model.source_alias
