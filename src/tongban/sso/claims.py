"""What the provider asserts about a person: the pairwise subject, the assurance level (acr) and the
authentication methods (amr), and the identity claims a person consented to share — decrypted from
their citizen profile, each read audited (invariant 3).
"""

from __future__ import annotations

import base64
import contextvars
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core.masking import mask_id_number, mask_name, mask_permit, mask_phone
from tongban.crypto.sm3 import hmac_sm3
from tongban.verification.levels import AssuranceLevel

# The scopes a client may ask for, as the consent screen names them.
SCOPES: dict[str, str] = {
    "openid": "登录标识（仅在该应用有效的编号，不含个人信息）及认证等级",
    "realname": "真实姓名",
    "idcard_masked": "证件号码（部分隐藏）",
    "idcard": "完整证件号码",
    "phone": "手机号码",
    "api": "系统间接口调用（不涉及个人）",
}
IDENTITY_SCOPES = ("realname", "idcard_masked", "idcard", "phone")
# Claims carried by each identity scope (returned by the userinfo endpoint only).
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "realname": ("name", "family_name", "given_name", "name#en", "family_name#en", "given_name#en"),
    "idcard_masked": ("id_type", "id_number_masked"),
    "idcard": ("id_type", "id_number"),
    "phone": ("phone_number", "phone_number_verified"),
}
# How the person signed in (accounts.LoginSession.method) -> RFC 8176 amr values ("fed": federated).
AMR: dict[str, list[str]] = {
    "password": ["pwd"],
    "sms_code": ["sms", "otp"],
    "register": ["sms", "pwd"],
    "national": ["fed"],
}

http_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar("tongban_sso_request",
                                                                                 default=None)


def issuer(request: HttpRequest | None = None) -> str:
    configured = getattr(settings, "TONGBAN_SSO_ISSUER", "")
    if configured:
        return str(configured).rstrip("/")
    request = request or http_request.get()
    if request is None:
        raise RuntimeError("the issuer is not configured (TONGBAN_SSO_ISSUER) and there is no request")
    return f"{request.scheme}://{request.get_host()}"


def pairwise_sub(*, sector: str, user_id: int) -> str:
    """OIDC Core §8.1: the same person gets unrelated subjects in unrelated sectors, and the same one
    at every client of one sector. 26 characters of base32 (no '0', '1', '8', '9': never mistaken for
    a number)."""
    from tongban.sso.secrets import provider_secret

    digest = hmac_sm3(provider_secret("pairwise"), f"{sector}\x00{user_id}".encode())
    return base64.b32encode(digest[:16]).decode().rstrip("=").lower()


def acr_uri(level: int) -> str | None:
    try:
        return AssuranceLevel(level).uri
    except ValueError:
        return None


def amr_for(method: str) -> list[str]:
    return AMR.get(method, ["pwd"])


def _profile(user: Any) -> Any:
    from tongban.accounts.models import CitizenProfile

    return CitizenProfile.objects.filter(user_id=user.pk, closed_at__isnull=True).first()


def _masked_id(id_type: str, number: str | None) -> str:
    if not number:
        return ""
    return mask_permit(number) if id_type == "hk_macao_permit" else mask_id_number(number)


def available_identity_scopes(profile: Any) -> set[str]:
    """The identity scopes there is something to share for (a name only once verified)."""
    found: set[str] = set()
    if profile is None:
        return found
    if profile.level >= 1 and profile.name:
        found.add("realname")
    if profile.level >= 1 and profile.id_number:
        found |= {"idcard_masked", "idcard"}
    if profile.phone:
        found.add("phone")
    return found


def consent_items(*, user: Any, client: Any, scopes: list[str], request: HttpRequest | None = None
                  ) -> list[dict[str, str]]:
    """The lines of the consent screen: each scope with the (masked) value that would be shared.
    Showing the masked values is a read of personal data: audited."""
    profile = _profile(user)
    items: list[dict[str, str]] = []
    read: list[str] = []
    for scope in scopes:
        if scope == "openid":
            level = profile.level if profile else 0
            label = f"{AssuranceLevel(level).label}" if level else "未认证"
            items.append({"scope": scope, "label": SCOPES[scope], "value": f"认证等级：{label}"})
        elif scope == "realname" and profile is not None and profile.name:
            items.append({"scope": scope, "label": SCOPES[scope], "value": mask_name(profile.name)})
            read.append("name")
        elif scope in ("idcard_masked", "idcard") and profile is not None and profile.id_number:
            shown = _masked_id(profile.id_type, profile.id_number)
            value = shown if scope == "idcard_masked" else f"{shown}（将提供完整号码）"
            items.append({"scope": scope, "label": SCOPES[scope], "value": value})
            read.append("id_number")
        elif scope == "phone" and profile is not None and profile.phone:
            items.append({"scope": scope, "label": SCOPES[scope], "value": mask_phone(profile.phone)})
            read.append("phone")
        elif scope == "api":
            items.append({"scope": scope, "label": SCOPES[scope], "value": ""})
    if read:
        with transaction.atomic():
            audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.user(user),
                         subject=Subject("accounts.user", str(user.pk)), request=request,
                         details={"fields": sorted(set(read)), "purpose": "sso_consent_screen",
                                  "client": client.client_id, "masked": True})
    return items


def name_claims(name: str, name_en: str | None) -> dict[str, str]:
    """`name`, `family_name`, `given_name` (OIDC Core 5.1) from the verified Chinese name — the surname is its
    first character, or two for a compound surname (欧阳, 司徒…) — and, for a Hong Kong or Macao resident, the
    English name in the permit's spelling and case as `name#en` / `family_name#en` / `given_name#en` (OIDC
    Core 5.2 language tags). The permit writes the English surname first (`CHAN Tai Man`)."""
    family = name[:2] if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES else name[:1]
    claims = {"name": name, "family_name": family, "given_name": name[len(family):]}
    if name_en:
        surname, *given = name_en.split()
        claims |= {"name#en": name_en, "family_name#en": surname, "given_name#en": " ".join(given)}
    return claims


COMPOUND_SURNAMES = frozenset({"欧阳", "歐陽", "司马", "司馬", "上官", "诸葛", "諸葛", "东方", "東方", "皇甫", "尉迟",
                               "尉遲", "公孙", "公孫", "慕容", "令狐", "司徒", "夏侯", "长孙", "長孫", "宇文", "轩辕",
                               "軒轅", "端木", "西门", "西門", "南宫", "南宮", "独孤", "獨孤"})


def identity_claims(*, user: Any, client: Any, scopes: set[str] | frozenset[str],
                    request: HttpRequest | None = None) -> dict[str, Any]:
    """The identity claims for the granted scopes (decrypted; the read is audited with the client as
    the actor, the account as the subject)."""
    wanted = set(scopes) & set(IDENTITY_SCOPES)
    if not wanted:
        return {}
    profile = _profile(user)
    if profile is None:
        return {}
    claims: dict[str, Any] = {}
    read: list[str] = []
    if "realname" in wanted and profile.level >= 1 and profile.name:
        claims.update(name_claims(profile.name, profile.name_en))
        read.append("name")
        if profile.name_en:
            read.append("name_en")
    if wanted & {"idcard", "idcard_masked"} and profile.level >= 1 and profile.id_number:
        claims["id_type"] = profile.id_type
        if "idcard" in wanted:
            claims["id_number"] = profile.id_number
        if "idcard_masked" in wanted:
            claims["id_number_masked"] = _masked_id(profile.id_type, profile.id_number)
        read.append("id_number")
    if "phone" in wanted and profile.phone:
        claims["phone_number"] = profile.phone if profile.phone.startswith("+") else f"+86{profile.phone}"
        claims["phone_number_verified"] = True
        read.append("phone")
    if read:
        with transaction.atomic():
            audit_record(action=Action.PERSONAL_DATA_READ, actor=Actor.partner_app(f"oidc:{client.client_id}"),
                         subject=Subject("accounts.user", str(user.pk)), request=request,
                         details={"fields": sorted(set(read)), "purpose": "oidc_userinfo",
                                  "scopes": sorted(wanted), "full_id_number": "idcard" in wanted})
    return claims
