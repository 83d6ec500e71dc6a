"""Forms of the citizen pages: shapes and lengths only; the services decide the rest (and say why)."""

from __future__ import annotations

from typing import Any

from django import forms

from tongban.accounts.models import IdType


def _text(label: str, *, max_length: int, required: bool = True, help_text: str = "", **attrs: Any) -> forms.CharField:
    return forms.CharField(label=label, max_length=max_length, required=required, help_text=help_text,
                           widget=forms.TextInput(attrs=attrs),
                           error_messages={"required": f"请填写{label}。",
                                           "max_length": f"{label}不能超过 %(limit_value)d 个字符。"})


def _phone(label: str = "手机号码") -> forms.CharField:
    return _text(label, max_length=20, inputmode="tel", autocomplete="tel", placeholder="11 位手机号码")


def _code() -> forms.CharField:
    return _text("短信验证码", max_length=6, inputmode="numeric", autocomplete="one-time-code",
                 placeholder="6 位数字", pattern="[0-9]*")


def _password(label: str = "密码", *, new: bool = False, help_text: str = "") -> forms.CharField:
    return forms.CharField(label=label, max_length=128, strip=False, help_text=help_text,
                           widget=forms.PasswordInput(attrs={"autocomplete": "new-password" if new else
                                                             "current-password"}),
                           error_messages={"required": f"请填写{label}。", "max_length": "密码过长。"})


PASSWORD_HELP = "至少 10 位，包含小写字母、大写字母、数字、符号中的至少 3 类。"  # noqa: S105  (help text)


class PasswordLoginForm(forms.Form):
    username = _text("手机号码", max_length=150, autocomplete="username", inputmode="tel",
                     placeholder="注册时使用的手机号码")
    password = _password()


class PhoneForm(forms.Form):
    phone = _phone()


class CodeForm(forms.Form):
    code = _code()


class NewPasswordMixin(forms.Form):
    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("password") and data.get("password2") is not None and data["password"] != data["password2"]:
            self.add_error("password2", "两次输入的密码不一致。")
        return data


class CodePasswordForm(NewPasswordMixin):
    code = _code()
    password = _password("设置密码", new=True, help_text=PASSWORD_HELP)
    password2 = _password("确认密码", new=True)


class IdentityForm(forms.Form):
    id_type = forms.ChoiceField(label="证件类型", choices=IdType.choices, widget=forms.RadioSelect,
                                initial=IdType.RESIDENT_ID, error_messages={"required": "请选择证件类型。",
                                                                            "invalid_choice": "请选择证件类型。"})
    id_number = _text("证件号码", max_length=32, autocomplete="off",
                      help_text="居民身份证 18 位；港澳居民填写来往内地通行证号码（H/M 开头，可带 2 位换证次数）。")
    name = _text("姓名", max_length=100, autocomplete="name",
                 help_text="与证件一致；港澳居民可填写中文或英文姓名。")
    level = forms.TypedChoiceField(label="认证等级", coerce=int, choices=[(2, "实证 L2（推荐）"), (1, "实名 L1")],
                                   initial=2, widget=forms.RadioSelect,
                                   error_messages={"required": "请选择认证等级。", "invalid_choice": "请选择认证等级。"})
    card_valid_from = forms.DateField(label="身份证有效期起", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                      help_text="实证 L2 的内地居民填写；港澳居民无需填写。",
                                      error_messages={"invalid": "日期格式应为 YYYY-MM-DD。"})
    card_valid_to = forms.DateField(label="身份证有效期止", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                    error_messages={"invalid": "日期格式应为 YYYY-MM-DD。"})
    card_long_term = forms.BooleanField(label="长期有效", required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("id_type") == IdType.RESIDENT_ID and data.get("level") == 2:
            if not data.get("card_valid_from"):
                self.add_error("card_valid_from", "实证 L2 需填写身份证有效期起始日期。")
            if not data.get("card_valid_to") and not data.get("card_long_term"):
                self.add_error("card_valid_to", "请填写有效期截止日期，或勾选“长期有效”。")
            if data.get("card_valid_to") and data.get("card_long_term"):
                self.add_error("card_valid_to", "已勾选“长期有效”时请勿填写截止日期。")
        return data


class ChangePhoneForm(forms.Form):
    phone = _phone("新手机号码")
    password = _password("登录密码")


class PasswordConfirmForm(forms.Form):
    password = _password("登录密码")
    confirm = forms.BooleanField(label="我已知晓：注销后个人信息将被删除，账号不可恢复。",
                                 error_messages={"required": "请勾选确认。"})


class ChangePasswordForm(NewPasswordMixin):
    old_password = _password("当前密码")
    password = _password("新密码", new=True, help_text=PASSWORD_HELP)
    password2 = _password("确认新密码", new=True)


class EnterpriseForm(forms.Form):
    uscc = _text("统一社会信用代码", max_length=30, autocomplete="off", placeholder="18 位")
    name = _text("企业名称", max_length=100, autocomplete="organization")
    representative_name = _text("法定代表人姓名", max_length=100, help_text="须与您实名认证的姓名一致。")
    declared = forms.BooleanField(label="本人声明：我是该企业的法定代表人，所填信息真实，并承担相应法律责任。",
                                  error_messages={"required": "请确认声明。"})


class AgentForm(forms.Form):
    agent_phone = _text("经办人手机号码", max_length=20, inputmode="tel", autocomplete="off",
                        help_text="我们将向该号码发送邀请短信；对方登录一网通办（须至少完成实名 L1 认证）并确认后，即成为经办人。")
    scope = _text("授权范围", max_length=200, required=False, help_text="例如：企业证照办理、车辆业务（可留空）。")
    valid_until = forms.DateField(label="授权截止日期", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                  help_text="留空表示长期，直至撤销。",
                                  error_messages={"invalid": "日期格式应为 YYYY-MM-DD。"})
