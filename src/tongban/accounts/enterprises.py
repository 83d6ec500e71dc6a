"""Enterprise accounts: the legal representative registers the enterprise and authorises agents.

There is no market-regulation (enterprise registry) source in the platform yet, so the link between
the unified social credit code and the representative cannot be checked against an authority: the
representative — a citizen verified to L2 whose verified name matches the name they give — declares
it, and the platform records the declaration (who, when, audited). docs/accounts.md says what the
registry source will add.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from tongban.accounts.auditing import audit_account_event
from tongban.accounts.citizens import profile_of
from tongban.accounts.models import (
    CitizenProfile,
    Enterprise,
    EnterpriseAgent,
    EnterpriseStatus,
    User,
)
from tongban.accounts.otp import profile_for_phone
from tongban.audit.services import Subject
from tongban.core.errors import TongbanError
from tongban.core.identifiers import validate_mobile, validate_uscc
from tongban.core.masking import mask_name
from tongban.crypto.fields import normalize

ACTING_SESSION_KEY = "tongban_acting_enterprise"
MAX_NAME = 100
MAX_SCOPE = 200


def _error(code: str, zh: str, en: str, *, field: str | None = None, status: int = 422) -> TongbanError:
    return TongbanError(code, message_zh=zh, message_en=en, status=status,
                        details=[{"field": field, "type": code}] if field else None)


def _clean_text(value: str, *, field: str, limit: int, required: bool = True) -> str:
    text = " ".join((value or "").split())
    if required and not text:
        raise _error("validation_error", "此项必填。", "This field is required.", field=field)
    if len(text) > limit:
        raise _error("validation_error", f"不能超过 {limit} 个字。", f"At most {limit} characters.", field=field)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Co", "Cs") for c in text) or any(c in text for c in "<>"):
        raise _error("validation_error", "含有不允许的字符。", "Contains characters that are not allowed.",
                     field=field)
    return text


def _subject(enterprise: Enterprise) -> Subject:
    return Subject("accounts.enterprise", enterprise.pk)


def enterprise_register(*, user: User, uscc: str, name: str, representative_name: str, declared: bool,
                        request: HttpRequest | None = None) -> Enterprise:
    """Register an enterprise; `user` becomes its legal representative (must be verified to L2)."""
    profile = profile_of(user)
    if profile.level < 2:
        raise _error("level_required", "法定代表人须先完成实证（L2）认证。",
                     "The legal representative must be verified to L2 first.", field="uscc", status=403)
    code = validate_uscc(uscc, field="uscc").code
    enterprise_name = _clean_text(name, field="name", limit=MAX_NAME)
    given = _clean_text(representative_name, field="representative_name", limit=MAX_NAME)
    if normalize("name", given).casefold() != normalize("name", profile.name or "").casefold():
        raise _error("representative_mismatch", "法定代表人姓名与您的实名认证信息不一致。",
                     "The name does not match your verified identity.", field="representative_name")
    if not declared:
        raise _error("declaration_required", "请确认您是该企业的法定代表人。",
                     "Confirm that you are the enterprise's legal representative.", field="declared")
    taken = _error("enterprise_taken", "该统一社会信用代码已注册企业账号。",
                   "An enterprise account with this code exists.", field="uscc", status=409)
    if Enterprise.objects.filter(uscc=code).exists():
        raise taken
    try:
        with transaction.atomic():
            now = timezone.now()
            enterprise = Enterprise.objects.create(uscc=code, name=enterprise_name, legal_representative=user,
                                                   declared_at=now, created_at=now)
            audit_account_event("enterprise_registered", actor=user, subject=_subject(enterprise), request=request,
                                details={"uscc": code, "enterprise_name": enterprise_name,
                                         "representative": mask_name(given), "check": "declaration"})
    except IntegrityError:
        raise taken from None
    return enterprise


def enterprises_represented(user: Any) -> QuerySet[Enterprise]:
    return Enterprise.objects.filter(legal_representative_id=getattr(user, "pk", None),
                                     status=EnterpriseStatus.ACTIVE).order_by("name")


def active_agencies(user: Any, today: dt.date | None = None) -> QuerySet[EnterpriseAgent]:
    """The authorisations under which `user` may act for an enterprise today."""
    today = today or timezone.localdate()
    return (EnterpriseAgent.objects.select_related("enterprise")
            .filter(agent_id=getattr(user, "pk", None), revoked_at__isnull=True,
                    enterprise__status=EnterpriseStatus.ACTIVE)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=today)).order_by("enterprise__name"))


def enterprise_for_representative(user: Any, enterprise_id: int) -> Enterprise:
    enterprise = enterprises_represented(user).filter(pk=enterprise_id).first()
    if enterprise is None:
        raise TongbanError("not_found")
    return enterprise


def agents_of(enterprise: Enterprise, *, user: Any = None, request: HttpRequest | None = None
              ) -> list[dict[str, Any]]:
    """The enterprise's agents for its representative: masked names and phones only. Decrypting them
    is a read of the agents' personal data: audited (subject the enterprise, the accounts listed)."""
    rows = list(EnterpriseAgent.objects.filter(enterprise=enterprise).order_by("revoked_at", "-created_at"))
    profiles = {p.user_id: p for p in CitizenProfile.objects.filter(user_id__in=[r.agent_id for r in rows])}
    today = timezone.localdate()
    result = []
    for row in rows:
        profile = profiles.get(row.agent_id)
        result.append({
            "id": row.pk, "scope": row.scope, "valid_until": row.valid_until, "created_at": row.created_at,
            "revoked_at": row.revoked_at, "active": row.is_active(today),
            "name": row_name(profile), "phone": profile.masked("phone") if profile and profile.phone else "",
        })
    if rows:
        with transaction.atomic():
            audit_account_event("personal_data_read", actor=user, subject=_subject(enterprise), request=request,
                                details={"fields": ["name", "phone"], "purpose": "enterprise_agents",
                                         "accounts": sorted({str(r.agent_id) for r in rows}), "masked": True})
    return result


def row_name(profile: CitizenProfile | None) -> str:
    return profile.masked("name") if profile is not None and profile.name else "（已注销）"


def agent_authorise(*, user: User, enterprise_id: int, agent_phone: str, scope: str = "",
                    valid_until: dt.date | None = None, request: HttpRequest | None = None) -> EnterpriseAgent:
    """The representative authorises a citizen (verified to L1 at least), found by phone, as an agent."""
    enterprise = enterprise_for_representative(user, enterprise_id)
    phone = validate_mobile(agent_phone, field="agent_phone")
    scope_text = _clean_text(scope, field="scope", limit=MAX_SCOPE, required=False)
    if valid_until is not None and valid_until < timezone.localdate():
        raise _error("validation_error", "授权截止日期不能早于今天。", "The end date is in the past.",
                     field="valid_until")
    agent_profile = profile_for_phone(phone)
    if agent_profile is None or agent_profile.level < 1 or not agent_profile.user.is_active:
        raise _error("agent_not_eligible", "该手机号未注册，或尚未完成实名认证（经办人须至少完成 L1 认证）。",
                     "No account verified to L1 at least has this number.", field="agent_phone")
    if agent_profile.user_id == user.pk:
        raise _error("agent_is_representative", "法定代表人无需授权自己。", "You represent the enterprise already.",
                     field="agent_phone")
    exists = _error("agent_exists", "该经办人已获授权。", "This agent is authorised already.", field="agent_phone",
                    status=409)
    try:
        with transaction.atomic():
            if EnterpriseAgent.objects.filter(enterprise=enterprise, agent=agent_profile.user,
                                              revoked_at__isnull=True).exists():
                raise exists
            agent = EnterpriseAgent.objects.create(enterprise=enterprise, agent=agent_profile.user,
                                                   authorised_by=user, scope=scope_text, valid_until=valid_until)
            audit_account_event("agent_authorised", actor=user, subject=_subject(enterprise), request=request,
                                details={"agent": str(agent_profile.user_id), "authorisation": agent.pk,
                                         "scope": scope_text,
                                         "valid_until": valid_until.isoformat() if valid_until else None})
    except IntegrityError:
        raise exists from None
    return agent


@transaction.atomic
def agent_revoke(*, user: User, enterprise_id: int, agent_id: int, request: HttpRequest | None = None) -> None:
    enterprise = enterprise_for_representative(user, enterprise_id)
    row = (EnterpriseAgent.objects.select_for_update()
           .filter(pk=agent_id, enterprise=enterprise, revoked_at__isnull=True).first())
    if row is None:
        raise TongbanError("not_found")
    row.revoked_at = timezone.now()
    row.revoked_by = user
    row.save(update_fields=["revoked_at", "revoked_by"])
    audit_account_event("agent_revoked", actor=user, subject=_subject(enterprise), request=request,
                        details={"agent": str(row.agent_id), "authorisation": row.pk})


def acting_enterprise(request: HttpRequest) -> Enterprise | None:
    """The enterprise the signed-in citizen acts for in this session, re-checked on every call: a
    revoked or expired authorisation stops working at once."""
    enterprise_id = request.session.get(ACTING_SESSION_KEY) if hasattr(request, "session") else None
    if not enterprise_id:
        return None
    user = request.user
    enterprise = enterprises_represented(user).filter(pk=enterprise_id).first()
    if enterprise is None:
        agency = active_agencies(user).filter(enterprise_id=enterprise_id).first()
        enterprise = agency.enterprise if agency is not None else None
    if enterprise is None:
        request.session.pop(ACTING_SESSION_KEY, None)
    return enterprise


def enterprise_act_as(*, request: HttpRequest, enterprise_id: int | None) -> Enterprise | None:
    """Switch the session to act for an enterprise (as its representative or an agent), or back (None)."""
    user: Any = request.user
    if enterprise_id is None:
        request.session.pop(ACTING_SESSION_KEY, None)
        return None
    enterprise = enterprises_represented(user).filter(pk=enterprise_id).first()
    role = "representative"
    if enterprise is None:
        agency = active_agencies(user).filter(enterprise_id=enterprise_id).first()
        enterprise = agency.enterprise if agency is not None else None
        role = "agent"
    if enterprise is None:
        raise TongbanError("not_found")
    with transaction.atomic():
        audit_account_event("enterprise_act_as", actor=user, subject=_subject(enterprise), request=request,
                            details={"role": role})
    request.session[ACTING_SESSION_KEY] = enterprise.pk
    return enterprise
