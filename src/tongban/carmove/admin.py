"""Configuration screens only: bans can be lifted early by an administrator; requests are not listed here
(their pages are the back office's, with the officer's region applied)."""

from __future__ import annotations

from django.contrib import admin

from tongban.carmove.models import Ban


@admin.register(Ban)
class BanAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("id", "user", "starts_at", "ends_at")
    readonly_fields = ("user", "starts_at", "reason", "created_by")
