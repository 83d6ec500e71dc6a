"""Account screens in Django admin, for the security admin: roles, disable/enable, unlock, second-factor reset.

Changes go through the services, so separation of duties is checked and every change is recorded.
TOTP devices get no admin page: nobody but the owner ever sees a secret.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from tongban.accounts import services
from tongban.accounts.models import User
from tongban.accounts.roles import ROLE_FIELDS, StaffRole
from tongban.core.errors import TongbanError


class StaffForm(forms.ModelForm):
    password1 = forms.CharField(label=_("初始密码"), required=False, widget=forms.PasswordInput,
                                help_text=_("仅新建账号时填写；首次登录须修改并绑定动态口令。"))

    class Meta:
        model = User
        fields = ["username", *ROLE_FIELDS.values(), "department", "region_code", "is_active"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        roles = [role for role, field in ROLE_FIELDS.items() if data.get(field)]
        try:
            services.roles_validate(roles, department=data.get("department") or "",
                                    region_code=data.get("region_code") or "")
        except TongbanError as exc:
            raise ValidationError(exc.message("zh")) from exc
        if self.instance.pk is None and not data.get("password1"):
            self.add_error("password1", "新建账号须设置初始密码。")
        return data


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = StaffForm
    list_display = ("username", "kind", "role_list", "department", "region_code", "is_active", "locked_until")
    list_filter = ("kind", "department", *ROLE_FIELDS.values(), "is_active")
    search_fields = ("username", "region_code")
    ordering = ("username",)
    actions = ("unlock_accounts", "reset_second_factor")
    readonly_fields = ("kind", "locked_until", "password_changed_at", "last_login", "date_joined")

    def get_fieldsets(self, request: HttpRequest, obj: User | None = None) -> Any:
        fields = ["username", *ROLE_FIELDS.values(), "department", "region_code", "is_active"]
        if obj is None:
            return [(None, {"fields": [*fields, "password1"]})]
        return [(None, {"fields": fields}),
                ("状态", {"fields": ["kind", "locked_until", "password_changed_at", "last_login", "date_joined"]})]

    @admin.display(description="角色")
    def role_list(self, obj: User) -> str:
        return "、".join(role.label for role in StaffRole if role in obj.roles) or "—"

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # accounts are disabled, never deleted: their history stays attributable

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        roles = [role for role, field in ROLE_FIELDS.items() if form.cleaned_data.get(field)]
        try:
            if not change:
                created = services.staff_create(actor=request.user, username=obj.username,
                                                password=form.cleaned_data["password1"], roles=roles,
                                                department=obj.department, region_code=obj.region_code,
                                                request=request)
                obj.pk = created.pk
                return
            current = User.objects.get(pk=obj.pk)
            if (current.roles, current.department, current.region_code) != (frozenset(roles), obj.department,
                                                                            obj.region_code):
                services.staff_roles_set(actor=request.user, user=current, roles=roles, department=obj.department,
                                         region_code=obj.region_code, request=request)
            if current.username != obj.username:
                services.account_username_set(actor=request.user, user=current, username=obj.username, request=request)
            if current.is_active != obj.is_active:
                # Disabling ends the account's sessions and single sign-on, audited (the service).
                services.account_active_set(actor=request.user, user=current, active=obj.is_active, request=request)
        except TongbanError as exc:
            messages.error(request, exc.message(get_language()))

    @admin.action(description="解锁所选账号")
    def unlock_accounts(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.account_unlock(actor=request.user, user=user, request=request)
        messages.success(request, _("已解锁 %(count)s 个账号。") % {"count": queryset.count()})

    @admin.action(description="重置动态口令（下次登录重新绑定）")
    def reset_second_factor(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            services.totp_reset(actor=request.user, user=user, request=request)
        messages.success(request, _("已重置 %(count)s 个账号的动态口令。") % {"count": queryset.count()})
