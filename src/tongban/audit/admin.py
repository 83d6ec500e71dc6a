"""The audit log in Django admin: read-only for audit admins, invisible to everyone else.

No one — not even an audit admin — can add, change or delete rows here (the database refuses too).
Each list or detail view by an auditor is itself audited (action audit.read).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest, HttpResponse

from tongban.audit.actions import Action, action_label
from tongban.audit.models import AuditChain, AuditCheckpoint, AuditEntry
from tongban.audit.selectors import can_read_audit
from tongban.audit.services import Subject, audit_record
from tongban.core.clock import to_local


class ReadOnlyAuditAdmin(admin.ModelAdmin):
    actions = None

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can_read_audit(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can_read_audit(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _audit_read(self, request: HttpRequest, object_id: str | None) -> None:
        if can_read_audit(request.user):
            with transaction.atomic():
                audit_record(action=Action.AUDIT_READ, request=request,
                             subject=Subject(self.model._meta.label_lower, object_id or ""),
                             details={"query": request.GET.urlencode()[:500]})

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        self._audit_read(request, None)
        return super().changelist_view(request, extra_context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "",
                    extra_context: dict[str, Any] | None = None) -> HttpResponse:
        self._audit_read(request, object_id)
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAuditAdmin):
    list_display = ("id", "occurred_local", "action_name", "outcome", "actor_type", "actor_id", "subject_type",
                    "subject_id", "client_ip", "request_id")
    list_filter = ("outcome", "actor_type", "action")
    search_fields = ("=actor_id", "=subject_id", "=request_id", "=client_ip")
    date_hierarchy = "occurred_at"
    show_full_result_count = False
    list_per_page = 100

    @admin.display(description="时间（北京时间）", ordering="occurred_at")
    def occurred_local(self, obj: AuditEntry) -> str:
        return to_local(obj.occurred_at).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="事件", ordering="action")
    def action_name(self, obj: AuditEntry) -> str:
        return action_label(obj.action)


@admin.register(AuditCheckpoint)
class AuditCheckpointAdmin(ReadOnlyAuditAdmin):
    list_display = ("seq", "kind", "created_at", "key_id", "hash")


@admin.register(AuditChain)
class AuditChainAdmin(ReadOnlyAuditAdmin):
    list_display = ("id", "opened_at", "label", "anchor_seq", "key_id")
