"""Keeps the search index in step with the catalog: a version saved as published is indexed, one saved as
retired (or deleted) is removed, in the same transaction. `tongban search_reindex` rebuilds it all."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.db.backends.signals import connection_created
from django.db.models.signals import post_delete, post_save

from tongban.search import backends

connection_created.connect(backends.configure_connection, dispatch_uid="search_pg_trgm_threshold")


def _on_version_saved(sender: Any, instance: Any, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    from tongban.search import services

    if instance.status == "published":
        services.version_index(version=instance)
    elif instance.status == "retired":
        others = type(instance).objects.filter(implementation_id=instance.implementation_id, status="published")
        if not others.exclude(pk=instance.pk).exists():  # retired, not replaced by a newer publication
            services.document_remove(implementation_id=instance.implementation_id)


def _on_version_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    from tongban.search import services

    if instance.status == "published":
        services.document_remove(implementation_id=instance.implementation_id)


if apps.is_installed("tongban.catalog"):
    post_save.connect(_on_version_saved, sender="catalog.ImplementationVersion", dispatch_uid="search_index")
    post_delete.connect(_on_version_deleted, sender="catalog.ImplementationVersion", dispatch_uid="search_unindex")
