"""The client registry in the back office (Django admin, system administrators): organisation,
redirect URIs, scopes, allowed levels, sector, signing algorithm, contacts. Secrets are stored hashed;
the plaintext of a new secret is shown once, on the add form."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from tongban.audit.actions import Action
from tongban.audit.admin_deletes import AuditedDeletes
from tongban.audit.services import Actor, Subject, audit_record
from tongban.sso.models import CLIENT_TYPE_CHOICES, GRANT_CHOICES, Client, SigningKey


class ClientForm(forms.ModelForm):  # type: ignore[type-arg]
    """The registry's form in Chinese, offering only what the provider supports: django-oauth-toolkit's own
    choices also list the implicit, password, hybrid and device-code grants, which tongban does not serve."""

    authorization_grant_type = forms.ChoiceField(
        label=_("授权方式"), choices=GRANT_CHOICES, initial=Client.GRANT_AUTHORIZATION_CODE,
        help_text=_("授权码模式：用户经本平台登录后回到应用（PKCE，含刷新令牌）。客户端凭证模式：仅系统间调用，无用户登录。"
                  "授权码模式的应用如还需系统间调用，勾选下方“允许客户端凭证模式”。"))
    client_type = forms.ChoiceField(label=_("客户端类型"), choices=CLIENT_TYPE_CHOICES, initial=Client.CLIENT_CONFIDENTIAL)

    class Meta:
        model = Client
        fields = ()  # the admin's fieldsets choose them (and build them with its formfield_overrides)
        labels = {  # noqa: RUF012 - Django's own shape
            "name": "应用名称",
            "client_id": "客户端标识（client_id）",
            "redirect_uris": "回调地址",
            "post_logout_redirect_uris": "退出后返回地址",
            "skip_authorization": "跳过授权确认",
        }
        help_texts = {  # noqa: RUF012 - Django's own shape
            "redirect_uris": "完整地址，多个以空格或换行分隔；登录请求中的回调地址须与其中之一完全一致（不可含通配符）。",
            "post_logout_redirect_uris": "退出登录后可返回的完整地址，多个以空格或换行分隔。",
            "skip_authorization": "勾选后不再向用户展示授权确认页（仅限本机关自有应用）。",
        }


class ClientAdmin(AuditedDeletes, admin.ModelAdmin):  # type: ignore[type-arg]
    form = ClientForm
    list_display = ("name", "organisation", "client_id", "client_type", "algorithm", "allowed_levels", "is_active")
    list_filter = ("client_type", "algorithm", "is_active")
    search_fields = ("name", "organisation", "client_id")
    readonly_fields = ("created", "updated")
    # An address typed without a scheme is an https one (Django 6's default; said now, not warned about).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}  # noqa: RUF012 - Django's own shape
    fieldsets = (
        ("应用", {"fields": ("name", "organisation", "contacts", "is_active")}),
        ("接入", {"fields": ("client_id", "client_secret", "client_type", "token_endpoint_auth_method", "jwks",
                           "authorization_grant_type", "allow_client_credentials")}),
        ("回调与退出", {"fields": ("redirect_uris", "post_logout_redirect_uris", "backchannel_logout_uri")}),
        ("身份信息", {"fields": ("allowed_scopes", "allowed_levels", "sector_identifier", "algorithm",
                             "skip_authorization")}),
        ("记录", {"fields": ("created", "updated")}),
    )

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(action=Action.CONFIG_CHANGE, actor=Actor.user(request.user), subject=Subject.of(obj),
                     request=request, details={"event": "sso_client_changed" if change else "sso_client_created",
                                               "client_id": obj.client_id,
                                               "fields": sorted(form.changed_data) if form else []})

    # Deleting a client (its page, or the list's bulk action) takes its consents and tokens with it: audited per
    # client, in the admin's transaction of the delete (AuditedDeletes).
    def audit_deleted(self, request: HttpRequest, obj: Any, *, bulk: bool) -> None:
        audit_record(action=Action.CONFIG_CHANGE, actor=Actor.user(request.user), subject=Subject.of(obj),
                     request=request, details={"event": "sso_client_deleted", "client_id": obj.client_id})


@admin.register(SigningKey)
class SigningKeyAdmin(AuditedDeletes, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("kid", "alg", "state", "created_at", "publish_until")
    list_filter = ("alg", "state")
    fields = ("kid", "alg", "state", "public_jwk", "created_at", "retiring_at", "publish_until")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    # A key deleted stops verifying what it signed: audited, in the admin's transaction of the delete.
    def audit_deleted(self, request: HttpRequest, obj: Any, *, bulk: bool) -> None:
        audit_record(action=Action.KEY_DELETE, actor=Actor.user(request.user),
                     subject=Subject("sso.signingkey", obj.kid), request=request,
                     details={"event": "sso_signing_key_deleted", "kid": obj.kid, "alg": obj.alg, "state": obj.state})


__all__ = ["Client", "ClientAdmin"]
