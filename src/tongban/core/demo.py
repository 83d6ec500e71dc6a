"""Demo accounts for `tongban demo`: a citizen, a Hong Kong resident, an officer and a system admin.

Only for the embedded demo; `tongban demo` refuses to run in production. Passwords are fixed and printed
so a newcomer can sign in. The two citizens are real citizen accounts: registered with a phone (shown in
the `username` column, since citizens sign in by phone) and verified to L2 against people of the
generated registry (a mainland resident with a valid card, a Hong Kong resident with a valid permit). Staff accounts also need their second factor: each gets a TOTP device, and
`tongban staff totp-code officer` prints the current code (demo accounts only, refused in production);
add `--uri` for an otpauth:// address to put into an authenticator app.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

DEMO_REGION = "330100"  # 浙江省杭州市, the demo city


@dataclass(frozen=True)
class DemoAccount:
    role: str
    username: str  # what to type at the login page: the phone number for citizens
    password: str
    where: str
    second_factor: str = ""  # how to get the TOTP code, for staff
    account: str = ""  # the account's username when it differs from what is typed (citizens)

    @property
    def account_name(self) -> str:
        return self.account or self.username


_TOTP_HINT = "动态口令：tongban staff totp-code {username}"

DEMO_ACCOUNTS = (
    DemoAccount("群众（内地居民）", "13800000001", "Citizen@2026demo", "/login/", account="citizen"),
    DemoAccount("港澳居民", "13800000002", "HongKong@2026demo", "/login/", account="hkresident"),
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


def demo_accounts_ensure() -> tuple[DemoAccount, ...]:
    """Create or reset the demo accounts (idempotent). A staff account keeps its TOTP device across runs,
    so an authenticator set up once goes on working. The citizens are verified to L2 when the
    generated registry is there (after `tongban registry generate`); without it they stay unverified."""
    _accounts_ensure()
    for account in DEMO_ACCOUNTS:
        if account.account_name in _CITIZEN_IDENTITIES:
            _citizen_verify(account)
    return DEMO_ACCOUNTS


@transaction.atomic
def _accounts_ensure() -> None:
    from tongban.accounts.models import CitizenProfile, StaffTOTPDevice

    User = get_user_model()
    for account in DEMO_ACCOUNTS:
        name = account.account_name
        kind, roles, department, region = _SHAPES[name]
        user = User.objects.filter(username=name).first() or User(username=name)
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
        if kind == "staff" and not StaffTOTPDevice.objects.filter(user=user, confirmed=True).exists():
            StaffTOTPDevice.objects.filter(user=user).delete()
            StaffTOTPDevice.objects.create(user=user, name="演示身份验证器", confirmed=True)
        if kind == "citizen":
            profile = CitizenProfile.objects.filter(user=user).first() or CitizenProfile(user=user)
            if profile.closed_at is not None:  # closed in an earlier demo session: start again
                profile = CitizenProfile(pk=profile.pk, user=user)
            holder = CitizenProfile.objects.blind_filter(phone=account.username).exclude(user=user).first()
            if holder is not None:  # someone registered the demo phone in the browser: it goes back to the demo
                holder.phone = None
                holder.save()
            profile.phone = account.username
            profile.save()


# account -> which kind of generated person it is verified as
_CITIZEN_IDENTITIES = {"citizen": "mainland", "hkresident": "hk_macao"}


def _citizen_verify(account: DemoAccount) -> None:
    """Verify a demo citizen to L2 against a person picked from the generated registry (best effort)."""
    from tongban.accounts.citizens import citizen_verify_identity
    from tongban.accounts.models import CitizenProfile
    from tongban.core.errors import TongbanError
    from tongban.registry.samples import sample

    user = get_user_model().objects.get(username=account.account_name)
    profile = CitizenProfile.objects.get(user=user)
    if profile.level >= 2:
        return
    try:
        picked = sample(2, seed=2026)
    except Exception:  # no generated registry (yet): the account stays unverified
        return
    try:
        if _CITIZEN_IDENTITIES[account.account_name] == "mainland":
            people = [p for p in picked["people"] if p.get("card") and p["card"]["status"] == "valid"]
            if not people:
                return
            person, card = people[0], people[0]["card"]
            long_term = card["valid_to"] == "长期"
            citizen_verify_identity(
                user=user, id_type="resident_id", id_number=person["id_number"], name=person["name"], level=2,
                card_valid_from=dt.date.fromisoformat(card["valid_from"]),
                card_valid_to=None if long_term else dt.date.fromisoformat(card["valid_to"]),
                card_long_term=long_term)
        else:
            permits = [p for p in picked["hk_macao"] if p["status"] == "valid" and p["region"] == "HK"]
            if not permits:
                return
            permit = permits[0]
            citizen_verify_identity(user=user, id_type="hk_macao_permit",
                                    id_number=permit["permit_number_with_count"],
                                    name=permit["name_zh"] or permit["name_en"], level=2)
    except TongbanError:
        return  # e.g. that person registered an account of their own in this demo database
