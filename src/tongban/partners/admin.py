"""Configuration screens for partner organisations, apps and purpose codes (system admin; security admin
may view). Usage counters are read-only; abuse alerts are handled in the back office
(/backoffice/partners/alerts/). Every change is audited."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from tongban.audit.actions import Action
from tongban.audit.admin_deletes import AuditedDeletes
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core.errors import TongbanError
from tongban.partners.models import (
    LEVEL_CODES,
    AbuseAlert,
    PartnerApp,
    PartnerOrganisation,
    PurposeCode,
    UsageCounter,
)
from tongban.partners.selectors import forget_apps
from tongban.partners.services import parse_public_key


def _audit_change(request: HttpRequest, obj: Any, change: bool, fields: list[str], action: Action) -> None:
    audit_record(action=action, actor=Actor.user(request.user), subject=Subject.of(obj), request=request,
                 details={"change": "update" if change else "create", "fields": sorted(fields)})


class _Audited(AuditedDeletes, admin.ModelAdmin):  # type: ignore[type-arg]
    audit_action = Action.CONFIG_CHANGE

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        _audit_change(request, obj, change, list(form.changed_data), self.audit_action)
        forget_apps()

    def audit_deleted(self, request: HttpRequest, obj: Any, *, bulk: bool) -> None:
        audit_record(action=self.audit_action, actor=Actor.user(request.user), subject=Subject.of(obj),
                     request=request, details={"change": "delete", **({"bulk": True} if bulk else {})})

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        super().delete_model(request, obj)
        forget_apps()

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        super().delete_queryset(request, queryset)
        forget_apps()


@admin.register(PartnerOrganisation)
class PartnerOrganisationAdmin(_Audited):
    list_display = ("name", "kind", "region_code", "created_at")
    list_filter = ("kind",)
    search_fields = ("name", "region_code")


@admin.register(PurposeCode)
class PurposeCodeAdmin(_Audited):
    list_display = ("code", "name", "active")
    list_filter = ("active",)


class PartnerAppForm(forms.ModelForm):  # type: ignore[type-arg]
    public_key_text = forms.CharField(
        label=_("SM2 公钥"), widget=forms.Textarea(attrs={"rows": 4, "cols": 70}),
        help_text=_("PEM（-----BEGIN PUBLIC KEY-----）或 130 位十六进制（04||X||Y）。"), required=False)
    allowed_levels = forms.MultipleChoiceField(label=_("允许的认证等级"), choices=[(c, c) for c in LEVEL_CODES],
                                               widget=forms.CheckboxSelectMultiple)
    purposes = forms.MultipleChoiceField(label=_("允许的用途"), choices=(), widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = PartnerApp
        fields = ("organisation", "name", "allowed_levels", "purposes", "daily_quota", "rate_per_second",
                  "rate_per_minute", "status", "contacts")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["purposes"].choices = [  # type: ignore[attr-defined]
            (p.code, f"{p.code} {p.name}") for p in PurposeCode.objects.filter(active=True)]
        if self.instance.pk and self.instance.public_key:
            self.fields["public_key_text"].initial = bytes(self.instance.public_key).hex()

    def clean_public_key_text(self) -> bytes | None:
        text = self.cleaned_data.get("public_key_text", "").strip()
        if not text:
            if not (self.instance.pk and self.instance.public_key):
                raise forms.ValidationError(_("请填写应用的 SM2 公钥。"))
            return None
        try:
            return parse_public_key(text)
        except TongbanError:
            raise forms.ValidationError(_("不是有效的 SM2 公钥。")) from None

    def save(self, commit: bool = True) -> PartnerApp:
        key = self.cleaned_data.get("public_key_text")
        if key:
            self.instance.public_key = key
        instance: PartnerApp = super().save(commit=commit)
        return instance


@admin.register(PartnerApp)
class PartnerAppAdmin(_Audited):
    form = PartnerAppForm
    audit_action = Action.PARTNER_APP_CHANGE
    list_display = ("name", "app_id", "organisation", "status", "daily_quota", "rate_per_second", "created_at")
    list_filter = ("status", "organisation__kind")
    search_fields = ("name", "app_id", "organisation__name")
    readonly_fields = ("app_id", "created_at", "updated_at")
    list_select_related = ("organisation",)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ["app_id", "organisation", "name", "public_key_text", "allowed_levels", "purposes", "daily_quota",
                "rate_per_second", "rate_per_minute", "status", "contacts", "created_at", "updated_at"]


class _ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UsageCounter)
class UsageCounterAdmin(_ReadOnly):
    list_display = ("day", "app_key", "organisation", "level", "outcome", "count")
    list_filter = ("level", "outcome", "day")
    search_fields = ("app_key",)
    date_hierarchy = "day"


@admin.register(AbuseAlert)
class AbuseAlertAdmin(_ReadOnly):
    list_display = ("created_at", "kind", "app_key", "subject_ref", "count", "ratio", "acknowledged")
    list_filter = ("kind", "acknowledged")
    search_fields = ("app_key", "subject_ref")
    date_hierarchy = "created_at"
