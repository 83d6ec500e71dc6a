"""Forms of the staff site. They parse and check input only; the changes go through tongban.accounts.services
(which check the separation of duties again, and audit)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from tongban.accounts.regions import region_exists, region_name
from tongban.accounts.roles import SCOPED_ROLES, Department, StaffRole

REGION_HELP = _("GB/T 2260 六位行政区划代码：省 330000、市 330100、区县 330106。辖区含其下级区划。")
ROLE_HELP = (_("三权分立：系统管理员、安全管理员、审计管理员三者不得兼任；密钥管理员不兼审计管理员；"
             "业务民警、事项编辑、事项审核不兼任管理员角色；事项编辑与事项审核不得兼任。"))


def _region_clean(value: str) -> str:
    value = (value or "").strip()
    if value and not region_exists(value):
        raise forms.ValidationError(_("辖区代码不存在，请填写 6 位 GB/T 2260 行政区划代码，如 330100。"))
    return value


class StaffFilterForm(forms.Form):
    """The staff list's filters (a GET form: every field optional, a bad value just filters nothing)."""

    department = forms.ChoiceField(label=_("部门警种"), required=False,
                                   choices=[("", _("全部")), *Department.choices])
    region = forms.CharField(label=_("辖区代码"), required=False, max_length=6,
                             help_text=_("如 330100：含其下级区划。"))
    role = forms.ChoiceField(label=_("角色"), required=False, choices=[("", _("全部")), *StaffRole.choices])
    active = forms.ChoiceField(label=_("状态"), required=False,
                               choices=[("", _("全部")), ("1", _("启用")), ("0", _("停用"))])

    def clean_region(self) -> str:
        return _region_clean(self.cleaned_data.get("region", ""))

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data if self.is_valid() else {}
        active = data.get("active")
        return {"department": data.get("department", ""), "region_code": data.get("region", ""),
                "role": data.get("role", ""), "active": None if not active else active == "1"}


class StaffRolesForm(forms.Form):
    """Roles and scope: what the security admin assigns, on a new account or an existing one."""

    roles = forms.MultipleChoiceField(label=_("角色"), choices=StaffRole.choices, widget=forms.CheckboxSelectMultiple,
                                      help_text=ROLE_HELP, error_messages={"required": _("请至少选择一个角色。")})
    department = forms.ChoiceField(label=_("部门警种"), required=False, choices=[("", _("（无）")), *Department.choices],
                                   help_text=_("业务民警、事项编辑、事项审核必填。"))
    region_code = forms.CharField(label=_("辖区代码"), required=False, max_length=6, help_text=REGION_HELP,
                                  widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))

    def clean_region_code(self) -> str:
        return _region_clean(self.cleaned_data.get("region_code", ""))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        scoped = [StaffRole(r) for r in data.get("roles") or [] if StaffRole(r) in SCOPED_ROLES]
        if scoped:
            who = scoped[0].label
            if not data.get("department") and "department" not in self.errors:
                self.add_error("department", f"{who}须指定部门警种。")
            if not data.get("region_code") and "region_code" not in self.errors:
                self.add_error("region_code", f"{who}须指定辖区代码。")
        return data

    def region_label(self) -> str:
        code = self.cleaned_data.get("region_code", "")
        return region_name(code) if code else ""


class StaffCreateForm(StaffRolesForm):
    username = forms.CharField(label=_("警号"), max_length=150,
                               help_text=_("登录账号使用警号（工号），不使用身份证号、手机号。"),
                               widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
                               error_messages={"required": _("请填写警号。")})

    field_order = ("username", "roles", "department", "region_code")

    def clean_username(self) -> str:
        return (self.cleaned_data.get("username") or "").strip()


class ConfirmForm(forms.Form):
    """A one-button form whose only field is a confirmation box (reset a password, disable an account)."""

    confirm = forms.BooleanField(label=_("我已核实本人身份与操作理由"), error_messages={"required": _("请勾选确认。")})
