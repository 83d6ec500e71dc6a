"""Enterprise accounts: the legal representative registers the enterprise and invites agents, who accept in
their own accounts.

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
from tongban.accounts.conf import security
from tongban.accounts.models import (
    CitizenProfile,
    Enterprise,
    EnterpriseAgent,
    EnterpriseInvitation,
    EnterpriseStatus,
    InvitationStatus,
    User,
)
from tongban.audit.services import Subject
from tongban.core import ratelimit
from tongban.core.errors import TongbanError
from tongban.core.hant import same_name
from tongban.core.identifiers import validate_mobile, validate_uscc
from tongban.core.masking import mask_name, mask_name_partial, mask_phone
from tongban.crypto.fields import blind_lookup
from tongban.notifications.services import sms_queue

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
    if not (same_name(given, profile.name or "") or (profile.name_en and same_name(given, profile.name_en))):
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
    """Surname and first given-name character (`陳大*`): enough for the representative to tell whom they
    authorised, as the national masking rules allow."""
    return mask_name_partial(profile.name) if profile is not None and profile.name else "（已注销）"


INVITATION_TTL = dt.timedelta(days=7)
INVITATION_SMS = ("【一网通办】有企业邀请您作为其经办人。请登录一网通办，在“我的-企业账号-待确认的邀请”中查看并确认；"
                  "未注册请先注册并完成实名认证。邀请 7 天内有效，如与您无关请忽略。")


def _invitation_throttle(user: Any) -> None:
    """A representative may invite TONGBAN_AGENT_INVITATIONS_PER_HOUR numbers an hour and _PER_DAY a day:
    each invitation is a text message to a number of their choosing."""
    conf = security()
    for key, limit, window in ((f"agent-invite:h:{user.pk}", conf.agent_invitations_per_hour, 3600),
                               (f"agent-invite:d:{user.pk}", conf.agent_invitations_per_day, 86400)):
        result = ratelimit.hit(key, limit=limit, window=window)
        if not result.allowed:
            raise TongbanError("rate_limited", message_zh="发送邀请过于频繁，请稍后再试。",
                               message_en="Too many invitations; try again later.", status=429,
                               headers={"Retry-After": str(result.retry_after)},
                               details=[{"field": "agent_phone", "type": "rate_limited"}])


def agent_invite(*, user: User, enterprise_id: int, agent_phone: str, scope: str = "",
                 valid_until: dt.date | None = None, request: HttpRequest | None = None) -> EnterpriseInvitation:
    """The representative invites a phone number to become the enterprise's agent; the number is told by SMS
    (through the outbox) and its holder accepts in their own account (agent_invitation_accept).

    Nothing is looked up by the number: the answer, and the work behind it, are the same whether or not it
    has an account (the agent look-up this replaces told a verified account and its owner's surname, for as
    many numbers as one cared to try). Throttled per representative. A number with an invitation of this
    enterprise still pending is not sent another message. Errors: validation_error, agent_is_representative
    (the representative's own number), rate_limited, not_found."""
    enterprise = enterprise_for_representative(user, enterprise_id)
    phone = validate_mobile(agent_phone, field="agent_phone")
    scope_text = _clean_text(scope, field="scope", limit=MAX_SCOPE, required=False)
    if valid_until is not None and valid_until < timezone.localdate():
        raise _error("validation_error", "授权截止日期不能早于今天。", "The end date is in the past.",
                     field="valid_until")
    if profile_of(user).phone == phone:
        raise _error("agent_is_representative", "法定代表人无需邀请自己。", "You represent the enterprise already.",
                     field="agent_phone")
    _invitation_throttle(user)
    now = timezone.now()
    with transaction.atomic():
        pending = (EnterpriseInvitation.objects.select_for_update()
                   .filter(**blind_lookup(EnterpriseInvitation, "phone", phone), enterprise=enterprise,
                           status=InvitationStatus.PENDING, expires_at__gt=now).first())
        if pending is not None:
            return pending
        invitation = EnterpriseInvitation(enterprise=enterprise, phone=phone, invited_by=user, scope=scope_text,
                                          valid_until=valid_until, created_at=now, expires_at=now + INVITATION_TTL)
        invitation.save()
        sms_queue(phone=phone, text=INVITATION_SMS, purpose="agent_invitation")
        audit_account_event("agent_invited", actor=user, subject=_subject(enterprise), request=request,
                            details={"invitation": invitation.pk, "phone": mask_phone(phone), "scope": scope_text,
                                     "valid_until": valid_until.isoformat() if valid_until else None,
                                     "expires_at": invitation.expires_at.isoformat()})
    return invitation


def invitations_of(enterprise: Enterprise, *, user: Any = None, request: HttpRequest | None = None
                   ) -> list[dict[str, Any]]:
    """The enterprise's invitations still waiting for an answer, for its representative: the masked number
    only. Decrypting the numbers is a read of personal data: audited."""
    now = timezone.now()
    rows = list(EnterpriseInvitation.objects.filter(enterprise=enterprise, status=InvitationStatus.PENDING,
                                                    expires_at__gt=now).order_by("-created_at")[:100])
    result = [{"id": row.pk, "phone": row.masked("phone"), "scope": row.scope, "valid_until": row.valid_until,
               "created_at": row.created_at, "expires_at": row.expires_at} for row in rows]
    if rows:
        with transaction.atomic():
            audit_account_event("personal_data_read", actor=user, subject=_subject(enterprise), request=request,
                                details={"fields": ["phone"], "purpose": "enterprise_invitations",
                                         "invitations": [row.pk for row in rows], "masked": True})
    return result


def invitations_for(user: Any) -> QuerySet[EnterpriseInvitation]:
    """The invitations waiting for the signed-in citizen: those to the phone on their account, still open,
    of an open enterprise that they do not represent."""
    profile = CitizenProfile.objects.filter(user_id=getattr(user, "pk", None) or 0, closed_at__isnull=True).first()
    if profile is None or not profile.phone:
        return EnterpriseInvitation.objects.none()
    return (EnterpriseInvitation.objects.select_related("enterprise")
            .filter(**blind_lookup(EnterpriseInvitation, "phone", profile.phone), status=InvitationStatus.PENDING,
                    expires_at__gt=timezone.now(), enterprise__status=EnterpriseStatus.ACTIVE)
            .exclude(enterprise__legal_representative_id=user.pk).order_by("-created_at"))


def _own_invitation(user: Any, invitation_id: int) -> EnterpriseInvitation:
    """The invitation, locked, if it is open and addressed to the user's phone; not_found otherwise."""
    invitation = invitations_for(user).select_for_update(of=("self",)).filter(pk=invitation_id).first()
    if invitation is None:
        raise TongbanError("not_found")
    return invitation


@transaction.atomic
def agent_invitation_accept(*, user: User, invitation_id: int, request: HttpRequest | None = None
                            ) -> EnterpriseAgent:
    """The invited person accepts in their own account: they become the enterprise's agent (verified to L1
    at least), with the scope and end date of the invitation. Audited as agent_authorised, the agent the
    actor. Errors: not_found (not theirs, answered, lapsed), agent_not_eligible (not verified yet)."""
    invitation = _own_invitation(user, invitation_id)
    if profile_of(user).level < 1 or not user.is_active:
        raise _error("agent_not_eligible", "请先完成实名认证（至少实名 L1），再接受经办人邀请。",
                     "Verify your identity (L1 at least) first.", status=403)
    if invitation.valid_until is not None and invitation.valid_until < timezone.localdate():
        raise TongbanError("not_found")
    enterprise = invitation.enterprise
    agent = (EnterpriseAgent.objects.select_for_update()
             .filter(enterprise=enterprise, agent=user, revoked_at__isnull=True).first())
    created = agent is None
    if agent is None:
        agent = EnterpriseAgent.objects.create(enterprise=enterprise, agent=user, authorised_by=invitation.invited_by,
                                               scope=invitation.scope, valid_until=invitation.valid_until)
    now = timezone.now()
    invitation.status = InvitationStatus.ACCEPTED
    invitation.answered_at = now
    invitation.answered_by = user
    invitation.authorisation = agent
    invitation.save(update_fields=["status", "answered_at", "answered_by", "authorisation"])
    audit_account_event("agent_authorised", actor=user, subject=_subject(enterprise), request=request,
                        details={"agent": str(user.pk), "authorisation": agent.pk, "invitation": invitation.pk,
                                 "authorised_by": str(invitation.invited_by_id), "scope": agent.scope,
                                 "valid_until": agent.valid_until.isoformat() if agent.valid_until else None,
                                 "via": "invitation", "created": created})
    return agent


@transaction.atomic
def agent_invitation_decline(*, user: User, invitation_id: int, request: HttpRequest | None = None) -> None:
    """The invited person declines; the representative sees the invitation no longer pending."""
    invitation = _own_invitation(user, invitation_id)
    invitation.status = InvitationStatus.DECLINED
    invitation.answered_at = timezone.now()
    invitation.answered_by = user
    invitation.save(update_fields=["status", "answered_at", "answered_by"])
    audit_account_event("agent_invitation_declined", actor=user, subject=_subject(invitation.enterprise),
                        request=request, details={"invitation": invitation.pk})


@transaction.atomic
def agent_invitation_cancel(*, user: User, enterprise_id: int, invitation_id: int,
                            request: HttpRequest | None = None) -> None:
    """The representative withdraws an invitation still pending."""
    enterprise = enterprise_for_representative(user, enterprise_id)
    invitation = (EnterpriseInvitation.objects.select_for_update()
                  .filter(pk=invitation_id, enterprise=enterprise, status=InvitationStatus.PENDING).first())
    if invitation is None:
        raise TongbanError("not_found")
    invitation.status = InvitationStatus.CANCELLED
    invitation.answered_at = timezone.now()
    invitation.answered_by = user
    invitation.save(update_fields=["status", "answered_at", "answered_by"])
    audit_account_event("agent_invitation_cancelled", actor=user, subject=_subject(enterprise), request=request,
                        details={"invitation": invitation.pk})


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
