"""Read-only admin screens for data keys and rotations: states and progress, never key material.

Keys are created and rotated only through `tongban keys` (services.key_rotate), by a key
administrator; the admin shows them to holders of crypto.administer_keys.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from tongban.crypto.models import DataKey, KeyRotation


class _ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        user = request.user
        return bool(user.is_active and user.has_perm("crypto.administer_keys"))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)


@admin.register(DataKey)
class DataKeyAdmin(_ReadOnly):
    list_display = ("purpose", "version", "state", "algorithm", "master_key_id", "created_by", "created_at",
                    "retired_at")
    list_filter = ("purpose", "state")
    fields = ("purpose", "version", "state", "algorithm", "master_key_id", "created_by", "created_at", "retired_at")


@admin.register(KeyRotation)
class KeyRotationAdmin(_ReadOnly):
    list_display = ("id", "purpose", "to_version", "state", "phase", "done_rows", "total_rows", "rewritten_rows",
                    "failed_rows", "operator", "created_at", "finished_at")
    list_filter = ("purpose", "state")
    readonly_fields = [f.name for f in KeyRotation._meta.fields]
