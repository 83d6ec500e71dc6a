"""Forms of the citizen pages: shapes and lengths only; the services decide the rest (and say why)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from tongban.accounts.models import IdType


def _text(label: Any, *, max_length: int, required: bool = True, help_text: Any = "", **attrs: Any) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, required=required, help_text=help_text,
                           widget=forms.TextInput(attrs=attrs),
                           error_messages={"required": format_lazy(_("请填写{}。"), label),
                                           "max_length": format_lazy(_("{}不能超过 %(limit_value)d 个字符。"), label)})


REGION_CHOICES = [("86", _("+86 内地")), ("852", _("+852 香港")), ("853", _("+853 澳门"))]


def _phone(label: Any = None) -> forms.CharField:
    return _text(label or _("手机号码"), max_length=20, inputmode="tel", autocomplete="tel",
                 placeholder=_("内地 11 位；香港、澳门 8 位"))


def _region() -> forms.ChoiceField:
    return forms.ChoiceField(label=_("号码所属地区"), choices=REGION_CHOICES, initial="86", required=False,
                             error_messages={"required": _("请选择号码所属地区。"),
                                             "invalid_choice": _("请选择号码所属地区。")})


class RegionPhoneMixin(forms.Form):
    """A mobile number with its region: a Hong Kong or Macao number (8 digits) gets its +852 / +853 in
    front unless typed with one; the services validate each region's number plan (validate_mobile)."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        region, phone = data.get("region"), (data.get("phone") or "").strip()
        if phone and region in ("852", "853") and not phone.startswith(("+", "00")):
            digits = "".join(phone.split()).replace("-", "")
            data["phone"] = digits if len(digits) == 11 and digits.startswith(region) else f"+{region}{digits}"
        return data


def _code() -> forms.CharField:
    return _text(_("短信验证码"), max_length=6, inputmode="numeric", autocomplete="one-time-code",
                 placeholder=_("6 位数字"), pattern="[0-9]*")


def _password(label: Any = None, *, new: bool = False, help_text: Any = "") -> forms.CharField:
    label = label or _("密码")
    return forms.CharField(label=label, max_length=128, strip=False, help_text=help_text,
                           widget=forms.PasswordInput(attrs={"autocomplete": "new-password" if new else
                                                             "current-password"}),
                           error_messages={"required": format_lazy(_("请填写{}。"), label), "max_length": _("密码过长。")})


PASSWORD_HELP = _("至少 10 位，包含小写字母、大写字母、数字、符号中的至少 3 类。")  # noqa: S105  (help text)


class PasswordLoginForm(forms.Form):
    username = _text(_("手机号码"), max_length=150, autocomplete="username", inputmode="tel",
                     placeholder=_("注册时使用的手机号码（港澳号码请加 +852 / +853）"))
    password = _password()


class PhoneForm(RegionPhoneMixin):
    region = _region()
    phone = _phone()


class CodeForm(forms.Form):
    code = _code()


class NewPasswordMixin(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password2") is not None and data["password"] != data["password2"]:
            self.add_error("password2", _("两次输入的密码不一致。"))
        return data


class CodePasswordForm(NewPasswordMixin):
    code = _code()
    password = _password(_("设置密码"), new=True, help_text=PASSWORD_HELP)
    password2 = _password(_("确认密码"), new=True)


class IdentityForm(forms.Form):
    id_type = forms.ChoiceField(label=_("证件类型"), choices=IdType.choices, widget=forms.RadioSelect,
                                initial=IdType.RESIDENT_ID, error_messages={"required": _("请选择证件类型。"),
                                                                            "invalid_choice": _("请选择证件类型。")})
    id_number = _text(_("证件号码"), max_length=32, autocomplete="off",
                      help_text=_("居民身份证 18 位；港澳居民填写来往内地通行证号码（H/M 开头，可带 2 位换证次数）。"))
    name = _text(_("姓名"), max_length=100, autocomplete="name",
                 help_text=_("与证件一致；港澳居民可填写中文或英文姓名。"))
    name_en = _text(_("英文姓名"), max_length=100, required=False, autocomplete="off",
                    help_text=_("港澳居民可选填，与通行证上的英文姓名一致（不区分大小写和空格）。"))
    level = forms.TypedChoiceField(label=_("认证等级"), coerce=int, choices=[(2, _("实证 L2（推荐）")), (1, _("实名 L1"))],
                                   initial=2, widget=forms.RadioSelect,
                                   error_messages={"required": _("请选择认证等级。"), "invalid_choice": _("请选择认证等级。")})
    card_valid_from = forms.DateField(label=_("身份证有效期起"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                      help_text=_("实证 L2 的内地居民填写；港澳居民无需填写。"),
                                      error_messages={"invalid": _("日期格式应为 YYYY-MM-DD。")})
    card_valid_to = forms.DateField(label=_("身份证有效期止"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                    error_messages={"invalid": _("日期格式应为 YYYY-MM-DD。")})
    card_long_term = forms.BooleanField(label=_("长期有效"), required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("id_type") == IdType.RESIDENT_ID and data.get("level") == 2:
            if not data.get("card_valid_from"):
                self.add_error("card_valid_from", _("实证 L2 需填写身份证有效期起始日期。"))
            if not data.get("card_valid_to") and not data.get("card_long_term"):
                self.add_error("card_valid_to", _("请填写有效期截止日期，或勾选“长期有效”。"))
            if data.get("card_valid_to") and data.get("card_long_term"):
                self.add_error("card_valid_to", _("已勾选“长期有效”时请勿填写截止日期。"))
        return data


class ChangePhoneForm(RegionPhoneMixin):
    region = _region()
    phone = _phone(_("新手机号码"))
    password = _password(_("登录密码"))


class PasswordConfirmForm(forms.Form):
    password = _password(_("登录密码"))
    confirm = forms.BooleanField(label=_("我已知晓：注销后个人信息将被删除，账号不可恢复。"),
                                 error_messages={"required": _("请勾选确认。")})


class ChangePasswordForm(NewPasswordMixin):
    old_password = _password(_("当前密码"))
    password = _password(_("新密码"), new=True, help_text=PASSWORD_HELP)
    password2 = _password(_("确认新密码"), new=True)


class EnterpriseForm(forms.Form):
    uscc = _text(_("统一社会信用代码"), max_length=30, autocomplete="off", placeholder=_("18 位"))
    name = _text(_("企业名称"), max_length=100, autocomplete="organization")
    representative_name = _text(_("法定代表人姓名"), max_length=100, help_text=_("须与您实名认证的姓名一致。"))
    declared = forms.BooleanField(label=_("本人声明：我是该企业的法定代表人，所填信息真实，并承担相应法律责任。"),
                                  error_messages={"required": _("请确认声明。")})


class AgentForm(forms.Form):
    agent_phone = _text(_("经办人手机号码"), max_length=20, inputmode="tel", autocomplete="off",
                        help_text=_("我们将向该号码发送邀请短信；对方登录一网通办（须至少完成实名 L1 认证）并确认后，即成为经办人。"))
    scope = _text(_("授权范围"), max_length=200, required=False, help_text=_("例如：企业证照办理、车辆业务（可留空）。"))
    valid_until = forms.DateField(label=_("授权截止日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                  help_text=_("留空表示长期，直至撤销。"),
                                  error_messages={"invalid": _("日期格式应为 YYYY-MM-DD。")})
