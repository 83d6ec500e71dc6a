"""Jobs in the admin: read-only, so operators see terminal failures; they may only retry or cancel."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from tongban.core.errors import TongbanError
from tongban.jobs import services
from tongban.jobs.models import Job


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "task", "status", "attempts", "max_attempts", "queue", "run_after", "finished_at",
                    "short_error")
    list_filter = ("status", "queue", "task")
    search_fields = ("=id", "task", "idempotency_key")
    ordering = ("-id",)
    date_hierarchy = "created_at"
    list_per_page = 50
    actions = ["retry_jobs", "cancel_jobs"]
    readonly_fields = ("id", "task", "queue", "payload", "status", "attempts", "max_attempts", "run_after",
                       "expires_at", "locked_by", "lease_expires_at", "last_error", "idempotency_key", "created_at",
                       "updated_at", "finished_at")
    fields = readonly_fields

    @admin.display(description="最近错误")
    def short_error(self, obj: Job) -> str:
        first = (obj.last_error or "").splitlines()[:1]
        return first[0][:120] if first else ""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The list (obj is None) needs it for the actions; a job's own page is view-only.
        return obj is None and super().has_change_permission(request, obj)

    def _apply(self, request: HttpRequest, queryset: QuerySet[Job], action: str) -> None:
        done, refused = 0, 0
        for job_id in queryset.order_by("pk").values_list("pk", flat=True):
            try:
                if action == "retry":
                    services.job_retry(job_id=job_id, actor=f"admin:{request.user.pk}")
                else:
                    services.job_cancel(job_id=job_id, actor=f"admin:{request.user.pk}")
                done += 1
            except TongbanError:
                refused += 1
        verb = "重新排队" if action == "retry" else "取消"
        if done:
            self.message_user(request, f"已{verb} {done} 个任务。", messages.SUCCESS)
        if refused:
            self.message_user(request, f"{refused} 个任务的状态不允许{verb}，未做改动。", messages.WARNING)

    @admin.action(description="重试所选任务（已失败或已取消的）", permissions=["change"])
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._apply(request, queryset, "retry")

    @admin.action(description="取消所选任务（未开始或已失败的）", permissions=["change"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        self._apply(request, queryset, "cancel")
