"""Demo accounts for `tongban demo`: a citizen, a Hong Kong resident, an officer and an administrator.

Only for the embedded demo; `tongban demo` refuses to run in production. Passwords are fixed and printed
so a newcomer can sign in.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.db import transaction


@dataclass(frozen=True)
class DemoAccount:
    role: str
    username: str
    password: str
    where: str


DEMO_ACCOUNTS = (
    DemoAccount("群众（内地居民）", "citizen", "Citizen@2026demo", "/login/"),
    DemoAccount("港澳居民", "hkresident", "HongKong@2026demo", "/login/"),
    DemoAccount("民警（户政，示范市）", "officer", "Officer@2026demo", "/admin/"),
    DemoAccount("系统管理员", "admin", "Admin@2026demo!", "/admin/"),
)


@transaction.atomic
def demo_accounts_ensure() -> tuple[DemoAccount, ...]:
    """Create or reset the demo accounts (idempotent)."""
    officers, _ = Group.objects.get_or_create(name="户政民警")
    for account in DEMO_ACCOUNTS:
        user, _ = User.objects.get_or_create(username=account.username)
        user.is_staff = account.username in {"officer", "admin"}
        user.is_superuser = account.username == "admin"
        user.set_password(account.password)
        user.save()
        if account.username == "officer":
            user.groups.add(officers)
    return DEMO_ACCOUNTS
