"""Deletes in Django admin, audited (DESIGN.md §3, invariant 3): a ModelAdmin mixin that writes one audit
entry per object deleted — from its delete page or the list's bulk action — in the delete's transaction.

    class ClientAdmin(AuditedDeletes, admin.ModelAdmin):
        def audit_deleted(self, request, obj, *, bulk):
            audit_record(action=..., actor=Actor.user(request.user), subject=Subject.of(obj), ...)
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest


class AuditedDeletes:
    """Mix in before admin.ModelAdmin; define `audit_deleted`."""

    def audit_deleted(self, request: HttpRequest, obj: Any, *, bulk: bool) -> None:
        raise NotImplementedError

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            self.audit_deleted(request, obj, bulk=False)
            super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        with transaction.atomic():
            for obj in queryset.order_by("pk"):
                self.audit_deleted(request, obj, bulk=True)
            super().delete_queryset(request, queryset)  # type: ignore[misc]
