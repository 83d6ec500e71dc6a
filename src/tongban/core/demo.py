"""Demo accounts for `tongban demo`: a citizen, a Hong Kong resident, an officer and a system admin.

Only for the embedded demo; `tongban demo` refuses to run in production. Passwords are fixed and printed
so a newcomer can sign in. Staff accounts also need their second factor: each gets a TOTP device, and
`tongban staff totp-code officer` prints the current code (demo accounts only, refused in production);
add `--uri` for an otpauth:// address to put into an authenticator app.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

DEMO_REGION = "330100"  # 浙江省杭州市, the demo city


@dataclass(frozen=True)
class DemoAccount:
    role: str
    username: str
    password: str
    where: str
    second_factor: str = ""  # how to get the TOTP code, for staff


_TOTP_HINT = "动态口令：tongban staff totp-code {username}"

DEMO_ACCOUNTS = (
    DemoAccount("群众（内地居民）", "citizen", "Citizen@2026demo", "/login/"),
    DemoAccount("港澳居民", "hkresident", "HongKong@2026demo", "/login/"),
    DemoAccount("民警（户政，示范市）", "officer", "Officer@2026demo", "/backoffice/login/",
                _TOTP_HINT.format(username="officer")),
    DemoAccount("系统管理员", "admin", "Admin@2026demo!", "/backoffice/login/", _TOTP_HINT.format(username="admin")),
)

# username -> (kind, role fields, department, region)
_SHAPES: dict[str, tuple[str, dict[str, bool], str, str]] = {
    "citizen": ("citizen", {}, "", ""),
    "hkresident": ("citizen", {}, "", ""),
    "officer": ("staff", {"role_officer": True}, "hukou", DEMO_REGION),
    "admin": ("staff", {"role_system_admin": True}, "", ""),
}


@transaction.atomic
def demo_accounts_ensure() -> tuple[DemoAccount, ...]:
    """Create or reset the demo accounts (idempotent). A staff account keeps its TOTP device across runs,
    so an authenticator set up once goes on working."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    User = get_user_model()
    for account in DEMO_ACCOUNTS:
        kind, roles, department, region = _SHAPES[account.username]
        user = User.objects.filter(username=account.username).first() or User(username=account.username)
        user.kind = kind
        for field in ("role_system_admin", "role_security_admin", "role_audit_admin", "role_key_admin",
                      "role_officer"):
            setattr(user, field, roles.get(field, False))
        user.department, user.region_code = department, region
        user.is_active = True
        user.locked_until = None
        user.must_change_password = False
        user.set_password(account.password)  # also restarts the 90-day expiry of the demo staff
        user.save()
        if kind == "staff" and not TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            TOTPDevice.objects.filter(user=user).delete()
            TOTPDevice.objects.create(user=user, name="演示身份验证器", confirmed=True)
    return DEMO_ACCOUNTS
