"""Demo accounts for `tongban demo`: a citizen, a Hong Kong resident, an officer and a system admin; and the
single-sign-on counterparts the demo serves on loopback (demo_sso_ensure, below).

Only for the embedded demo; `tongban demo` refuses to run in production. Passwords are fixed and printed
so a newcomer can sign in. The two citizens are real citizen accounts: registered with a phone (shown in
the `username` column, since citizens sign in by phone) and verified to L2 against people of the
generated registry (a mainland resident with a valid card, a Hong Kong resident with a valid permit). Staff accounts also need their second factor: each gets a TOTP device, and
`tongban demo --totp officer` prints the current code (demo accounts only, refused in production);
add `--uri` for an otpauth:// address to put into an authenticator app.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
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


_TOTP_HINT = "动态口令：tongban demo --totp {username}"

DEMO_ACCOUNTS = (
    DemoAccount("群众（内地居民）", "13800000001", "Citizen@2026demo", "/login/", account="citizen"),
    DemoAccount("港澳居民", "+85291230002", "HongKong@2026demo", "/login/", account="hkresident"),
    DemoAccount("民警（户政，示范市）", "officer", "Officer@2026demo", "/backoffice/login/",
                _TOTP_HINT.format(username="officer")),
    DemoAccount("事项编辑（户政，示范市）", "cateditor", "Editor@2026demo", "/backoffice/catalog/",
                _TOTP_HINT.format(username="cateditor")),
    DemoAccount("事项审核（户政，示范市）", "catreviewer", "Reviewer@2026demo", "/backoffice/catalog/",
                _TOTP_HINT.format(username="catreviewer")),
    DemoAccount("好差评监督员（户政，示范市）", "supervisor", "Supervisor@2026demo", "/backoffice/evaluation/",
                _TOTP_HINT.format(username="supervisor")),
    DemoAccount("好差评监督员（复核人）", "supervisor2", "Supervisor2@2026demo", "/backoffice/evaluation/",
                _TOTP_HINT.format(username="supervisor2")),
    DemoAccount("民警（户政，审批）", "officer2", "Officer2@2026demo", "/backoffice/cases/",
                _TOTP_HINT.format(username="officer2")),
    DemoAccount("民警（交管，一键挪车）", "traffic", "Traffic@2026demo", "/backoffice/carmove/",
                _TOTP_HINT.format(username="traffic")),
    DemoAccount("民警（治安，无犯罪记录证明）", "station", "Station@2026demo", "/backoffice/cases/",
                _TOTP_HINT.format(username="station")),
    DemoAccount("财务人员（缴款对账）", "finance", "Finance@2026demo", "/backoffice/login/",
                _TOTP_HINT.format(username="finance")),
    DemoAccount("安全管理员（人员管理）", "secadmin", "Security@2026demo!", "/backoffice/staff/",
                _TOTP_HINT.format(username="secadmin")),
    DemoAccount("系统管理员", "admin", "Admin@2026demo!", "/backoffice/login/", _TOTP_HINT.format(username="admin")),
)

# username -> (kind, role fields, department, region)
_SHAPES: dict[str, tuple[str, dict[str, bool], str, str]] = {
    "citizen": ("citizen", {}, "", ""),
    "hkresident": ("citizen", {}, "", ""),
    "officer": ("staff", {"role_officer": True}, "hukou", DEMO_REGION),
    "cateditor": ("staff", {"role_catalog_editor": True}, "hukou", DEMO_REGION),
    "catreviewer": ("staff", {"role_catalog_reviewer": True}, "hukou", DEMO_REGION),
    "supervisor": ("staff", {"role_supervisor": True}, "hukou", DEMO_REGION),
    "supervisor2": ("staff", {"role_supervisor": True}, "hukou", DEMO_REGION),
    "officer2": ("staff", {"role_officer": True}, "hukou", DEMO_REGION),  # the second step of a two-step review
    "traffic": ("staff", {"role_officer": True}, "traffic", DEMO_REGION),  # 一键挪车's queue and reviews
    "station": ("staff", {"role_officer": True}, "public_order", DEMO_REGION),  # 无犯罪记录证明
    "finance": ("staff", {"role_finance": True}, "", ""),
    "secadmin": ("staff", {"role_security_admin": True}, "", ""),
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
                      "role_officer", "role_catalog_editor", "role_catalog_reviewer", "role_supervisor",
                      "role_finance"):
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


def _picked() -> dict[str, list[dict[str, Any]]] | None:
    """The generated people the demo's identities come from (always the same ones), None without a registry."""
    from tongban.registry.samples import sample

    try:
        return sample(2, seed=2026)
    except Exception:  # no generated registry (yet)
        return None


def _mainland(picked: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The picked mainland residents with a valid card: the first is the demo citizen."""
    return [p for p in picked["people"] if p.get("card") and p["card"]["status"] == "valid"]


def _citizen_verify(account: DemoAccount) -> None:
    """Verify a demo citizen to L2 against a person picked from the generated registry (best effort)."""
    from tongban.accounts.citizens import citizen_verify_identity
    from tongban.accounts.models import CitizenProfile
    from tongban.core.errors import TongbanError

    user = get_user_model().objects.get(username=account.account_name)
    profile = CitizenProfile.objects.get(user=user)
    if profile.level >= 2:
        return
    picked = _picked()
    if picked is None:  # the account stays unverified
        return
    try:
        if _CITIZEN_IDENTITIES[account.account_name] == "mainland":
            people = _mainland(picked)
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


def demo_violations() -> int:
    """Traffic violations for the demo citizen's cars (tongban.violations.demo); how many were recorded."""
    from tongban.violations.demo import demo_violations_ensure

    picked = _picked()
    if picked is None:
        return 0
    citizen = get_user_model().objects.filter(username="citizen").first()
    return demo_violations_ensure(_mainland(picked) + [p for p in picked["people"] if p not in _mainland(picked)],
                                  citizen)


# -- single sign-on: the demo's relying parties and the national platform ----------------------------------


@dataclass(frozen=True)
class DemoApp:
    """A relying party the demo registers and serves (sim/demo_rp.py, or the national platform's simulator)."""

    key: str
    name: str
    organisation: str
    scopes: str
    # Its own sector, so that each shows the person under its own pairwise subject (docs/sso.md).
    sector: str


DEMO_APPS = (
    DemoApp("province", "省级政务服务平台", "浙江省政务服务管理办公室（演示）", "openid realname idcard_masked",
            "province.demo.tongban"),
    DemoApp("traffic", "交管业务系统", "杭州市公安局交通警察支队（演示）", "openid realname idcard_masked phone",
            "traffic.demo.tongban"),
)
NATIONAL_APP = DemoApp("national", "国家政务服务平台（模拟）", "国务院办公厅（模拟）", "openid realname idcard_masked",
                       "national.demo.tongban")
NATIONAL_PASSWORD = "National-2026-pw"  # noqa: S105  (the simulator's demo password, printed by the demo)


def _registration(app: DemoApp, base_url: str) -> dict[str, Any]:
    """What `client_create` registers for `app` served at `base_url` (the paths its simulator serves)."""
    if app.key == NATIONAL_APP.key:
        return {"redirect_uris": [f"{base_url}/rp/callback"], "backchannel_logout_uri": f"{base_url}/rp/backchannel-logout",
                "post_logout_redirect_uris": [], "scopes": app.scopes, "sector_identifier": app.sector}
    return {"redirect_uris": [f"{base_url}/callback"], "backchannel_logout_uri": f"{base_url}/backchannel-logout",
            "post_logout_redirect_uris": [f"{base_url}/logged-out"], "scopes": app.scopes,
            "sector_identifier": app.sector}


def demo_clients_path() -> Path:
    return Path(settings.TONGBAN_VAR_DIR) / "demo" / "sso_clients.json"


def demo_clients_ensure(urls: dict[DemoApp, str], *, path: Path | None = None) -> dict[str, tuple[str, str]]:
    """Register each demo application served at its URL through the sso app's `client_create`, unless it is
    registered already: {key: (client_id, client_secret)}. A client secret is shown only once (tongban keeps
    its keyed hash), so the demo keeps the ones it made in var/demo/sso_clients.json (mode 0600, beside the
    demo database) and registers again only when that file, the client or the registration changed."""
    from tongban.audit.services import Actor
    from tongban.sso.models import Client
    from tongban.sso.secrets import verify_secret
    from tongban.sso.services import client_create

    path = path or demo_clients_path()
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    if not isinstance(saved, dict):
        saved = {}
    result: dict[str, tuple[str, str]] = {}
    for app, base_url in urls.items():
        registration = _registration(app, base_url.rstrip("/"))
        fingerprint = hashlib.sha256(json.dumps([app.name, app.organisation, registration], sort_keys=True,
                                                ensure_ascii=False).encode()).hexdigest()
        known = saved.get(app.key)
        if isinstance(known, dict) and known.get("fingerprint") == fingerprint:
            client = Client.objects.filter(client_id=str(known.get("client_id")), is_active=True).first()
            if client is not None and verify_secret(str(known.get("client_secret")), client.client_secret):
                result[app.key] = (client.client_id, str(known["client_secret"]))
                continue
        new = client_create(name=app.name, organisation=app.organisation, actor=Actor.system("demo"),
                            **registration)
        saved[app.key] = {"client_id": new.client.client_id, "client_secret": new.secret, "fingerprint": fingerprint}
        result[app.key] = (new.client.client_id, new.secret)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps(saved, ensure_ascii=False, indent=2))
    return result


@dataclass(frozen=True)
class NationalPerson:
    """Someone registered at the national platform's simulator, as the demo prints them."""

    sub: str
    name: str
    id_number: str
    level: int
    known_here: bool  # the demo citizen (linked by the verified ID number) or a newcomer to tongban


def demo_national_people() -> list[NationalPerson]:
    """The demo citizen's own national account (it signs in to the demo citizen's account, linked by the
    verified ID number) and a person tongban does not know yet (an account is opened at their first sign-in)
    — both from the generated registry; none without it. Their `sub` is fixed, so a restarted demo's
    simulator is the same national platform to the links tongban keeps."""
    picked = _picked()
    if picked is None:
        return []
    people = _mainland(picked)[:2]
    return [NationalPerson(sub=f"np-demo-{i + 1}", name=p["name"], id_number=p["id_number"], level=2,
                           known_here=i == 0) for i, p in enumerate(people)]


@dataclass(frozen=True)
class DemoSso:
    """What `tongban demo` serves for single sign-on, and what it prints."""

    config: dict[str, Any]  # for sim.demo_sso (secrets included: handed over on standard input only)
    apps: list[tuple[DemoApp, str]]  # each demo relying party and its URL
    national_url: str
    national_people: list[NationalPerson]
    national_idp: dict[str, str] | None  # TONGBAN_NATIONAL_IDP for the demo, or None if one is configured
    exchange: dict[str, Any] | None = None  # TONGBAN_EXCHANGE for the demo (tongban.exchange.demo)


def demo_sso_ensure(*, base_url: str, host: str, national_port: int, app_ports: list[int]) -> DemoSso:
    """Register the demo's relying parties — the two demo applications and the national platform's simulator
    as a client — and prepare the simulator as the identity provider behind "使用国家政务服务平台账号登录"
    (unless TONGBAN_NATIONAL_IDP_* configure a real one)."""
    national_url = f"http://{host}:{national_port}"
    app_urls = {app: f"http://{host}:{port}" for app, port in zip(DEMO_APPS, app_ports, strict=True)}
    clients = demo_clients_ensure({**app_urls, NATIONAL_APP: national_url})
    people = demo_national_people()
    configured = settings.TONGBAN_NATIONAL_IDP.get("ISSUER")
    idp_secret = secrets.token_urlsafe(32)  # the simulator is new each run: so is tongban's secret there
    idp = None if configured else {"ISSUER": f"{national_url}/idp", "CLIENT_ID": "tongban",
                                   "CLIENT_SECRET": idp_secret, "ALG": "ES256"}
    from tongban.exchange.demo import demo_exchange

    exchange_sim, exchange_settings = demo_exchange(national_url)
    config = {
        "host": host, "issuer": base_url,
        "national": {
            "port": national_port, "idp_client_id": "tongban", "idp_client_secret": idp_secret,
            "idp_redirect_uris": [f"{base_url}/login/national/callback/"],
            "rp": {"client_id": clients[NATIONAL_APP.key][0], "client_secret": clients[NATIONAL_APP.key][1]},
            "people": [{"sub": p.sub, "name": p.name, "id_number": p.id_number, "level": p.level,
                        "password": NATIONAL_PASSWORD} for p in people],
            "exchange": exchange_sim},
        "relying_parties": [{"key": app.key, "name": app.name, "organisation": app.organisation,
                             "port": port, "scope": app.scopes, "client_id": clients[app.key][0],
                             "client_secret": clients[app.key][1]}
                            for app, port in zip(DEMO_APPS, app_ports, strict=True)],
    }
    return DemoSso(config=config, apps=[(app, f"{url}/") for app, url in app_urls.items()],
                   national_url=national_url, national_people=people, national_idp=idp, exchange=exchange_settings)
