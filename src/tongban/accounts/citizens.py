"""Citizen accounts: register by phone, verify identity (L1/L2), log in by password or code, recover,
change phone, close. Every change and every read of personal data is audited (docs/accounts.md).
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from django.contrib.auth import login as django_login
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from tongban.accounts.auditing import account_subject, audit_account_event
from tongban.accounts.conf import security
from tongban.accounts.events import SecurityEvent, record_security_event
from tongban.accounts.lockout import (
    address_blocked,
    code_failure_record,
    counter_name,
    locked_error,
    login_counters_clear,
    login_failure_record,
    login_locked,
    login_success_record,
    password_recheck,
    second_factor_required,
)
from tongban.accounts.models import CitizenProfile, IdType, OneTimeCode, OtpPurpose, User, UserKind
from tongban.accounts.otp import OtpWrongCode, otp_verify, phone_ref, profile_for_phone
from tongban.audit.actions import Outcome
from tongban.audit.services import Actor
from tongban.core import ratelimit
from tongban.core.errors import TongbanError
from tongban.core.identifiers import validate_mobile, validate_resident_id, validate_travel_permit
from tongban.core.masking import mask_id_number, mask_name, mask_name_en, mask_permit, mask_phone
from tongban.core.security import address_network, client_ip
from tongban.crypto.fields import blind_lookup
from tongban.notifications.services import sms_queue
from tongban.verification.engine import IdentityClaim, VerificationOutcome
from tongban.verification.levels import AssuranceLevel
from tongban.verification.reasons import ReasonCode

BACKEND = "tongban.accounts.backends.TongbanBackend"
LOGIN_METHOD_ATTR = "tongban_login_method"
VERIFY_PURPOSE = "account_identity"

LEVEL_LABELS = {0: gettext_noop("未认证"), 1: gettext_noop("实名 L1"), 2: gettext_noop("实证 L2"),
                3: gettext_noop("实人 L3")}  # shown through gettext


def _error(code: str, zh: str, en: str, *, field: str | None = None, status: int = 422) -> TongbanError:
    return TongbanError(code, message_zh=zh, message_en=en, status=status,
                        details=[{"field": field, "type": code}] if field else None)


def phone_taken_error() -> TongbanError:
    return _error("phone_taken", "该手机号已注册，请直接登录或找回密码。",
                  "This phone number already has an account: sign in or recover it.", field="phone", status=409)


def _generated_username() -> str:
    """A citizen's account name: random, not personal, never a run of digits that looks like a number."""
    for _ in range(10):
        candidate = "yw" + secrets.token_hex(5)
        if not User.objects.filter(username=candidate).exists():
            return candidate
    raise RuntimeError("could not generate a free username")


def password_check_policy(password: str, user: Any = None) -> None:
    try:
        password_validation.validate_password(password, user or User(kind=UserKind.CITIZEN))
    except ValidationError as exc:
        raise TongbanError("password_rejected", details=[{"field": "password", "message": m} for m in exc.messages],
                           message_zh="；".join(exc.messages)) from exc


def login_key(phone: str) -> str:
    """The lockout counters' name for a phone without an account: a keyed reference, so logs and counters
    hold no number. (A phone's account is counted under its account name: lockout.counter_name.)"""
    return f"phone:{phone_ref(phone)}"


# -- registration -------------------------------------------------------------------------------------


def citizen_register(*, ticket_id: int | None, code: str, password: str, request: HttpRequest | None = None
                     ) -> User:
    """Create a citizen account (level 0) for the phone the code was sent to, with a password."""
    password_check_policy(password)
    otp = otp_verify(ticket_id=ticket_id, purpose=OtpPurpose.REGISTER, code=code, request=request)
    phone = otp.phone
    try:
        with transaction.atomic():
            if profile_for_phone(phone) is not None:
                raise phone_taken_error()
            user = User(username=_generated_username(), kind=UserKind.CITIZEN)
            user.set_password(password)
            user.save()
            CitizenProfile(user=user, phone=phone).save()
            audit_account_event("citizen_registered", actor=user, subject=account_subject(user), request=request,
                                details={"phone": mask_phone(phone), "username": user.username})
    except IntegrityError:
        raise phone_taken_error() from None
    return user


def profile_of(user: Any) -> CitizenProfile:
    """The signed-in citizen's profile (not found for anyone else, and for closed accounts)."""
    profile = CitizenProfile.objects.filter(user_id=getattr(user, "pk", None) or 0, closed_at__isnull=True).first()
    if profile is None:
        raise TongbanError("not_found")
    return profile


# -- identity verification ---------------------------------------------------------------------------


def person_key_for(id_type: str, id_number: str) -> tuple[str, str]:
    """(the number as stored, the person key): a resident ID is its own key; a travel permit's key is
    its first nine characters, the same across the holder's renewed permits."""
    if id_type == IdType.RESIDENT_ID:
        number = validate_resident_id(id_number, field="id_number").number
        return number, number
    if id_type == IdType.HK_MACAO_PERMIT:
        permit = validate_travel_permit(id_number, field="id_number")
        return permit.number, permit.person_key
    raise _error("validation_error", "请选择证件类型。", "Choose the document type.", field="id_type")


def _perform(claim: IdentityClaim, level: AssuranceLevel, user: User, request: HttpRequest | None
             ) -> VerificationOutcome:
    from tongban.verification.services import verification_perform

    return verification_perform(claim=claim, level=level, purpose=VERIFY_PURPOSE, actor=Actor.user(user),
                                request=request, channel="portal")


def _identity_checks_hit(user: User, request: HttpRequest | None) -> None:
    """Each check asks the authoritative sources: at most TONGBAN_IDENTITY_CHECKS_PER_ACCOUNT_PER_HOUR per
    account and TONGBAN_IDENTITY_CHECKS_PER_ADDRESS_PER_HOUR per client address (an IPv6 /64) — one
    unverified account had made 62 checks in a second, an oracle for name and number pairs. The address is
    counted first, so a refused address does not use up the account's allowance. A refusal is audited."""
    conf = security()
    network = address_network(client_ip(request)) if request is not None else "-"
    for key, limit in ((f"idv:net:{network}", conf.identity_checks_per_address),
                       (f"idv:acct:{user.pk}", conf.identity_checks_per_account)):
        result = ratelimit.hit(key, limit=limit, window=3600)
        if not result.allowed:
            with transaction.atomic():
                audit_account_event("identity_refused", actor=user, subject=account_subject(user), request=request,
                                    outcome=Outcome.DENIED,
                                    details={"reason": "rate_limited", "per": key.split(":")[1]})
            raise TongbanError("rate_limited", message_zh="实名认证尝试过于频繁，请稍后再试。",
                               message_en="Too many identity checks; try again later.", status=429,
                               headers={"Retry-After": str(result.retry_after)},
                               details=[{"field": "id_number", "type": "rate_limited"}])


def identity_taken_error() -> TongbanError:
    return _error("identity_taken", "该身份已注册，请找回账号。",
                  "This identity already has an account: recover that account instead.", field="id_number",
                  status=409)


def citizen_verify_identity(*, user: User, id_type: str, id_number: str, name: str, level: int,
                            card_valid_from: dt.date | None = None, card_valid_to: dt.date | None = None,
                            card_long_term: bool = False, name_en: str = "", request: HttpRequest | None = None
                            ) -> tuple[CitizenProfile, VerificationOutcome]:
    """Verify the account holder's identity against the authoritative sources, up to `level`.

    The level reached is stored (so L2 asked but only L1 verified stores L1 and says why). An identity
    already held by another open account is refused with identity_taken — told only after the
    sources confirmed the name and number, so it reveals nothing to someone who does not know both.
    Once verified, an account's identity is fixed: a higher level is reached only for the same person.
    A Hong Kong or Macao resident's names are then taken from the permit (exit-entry source): the Chinese
    name in the permit's form (Traditional where it is), the English name in its spelling and case —
    never the typed form (`name_en`, optional, is only compared).
    """
    profile = profile_of(user)
    requested = AssuranceLevel(level) if level in (1, 2) else None
    if requested is None:
        raise _error("level_not_supported", "请选择认证等级。", "Choose a level.", field="level")
    number, person_key = person_key_for(id_type, id_number)
    if profile.level > 0:
        current_type, current_key = profile.id_type, profile.person_key
        if current_type != id_type or (person_key_for(current_type, current_key or "")[1] != person_key):
            raise _error("identity_fixed", "账号已完成实名认证，不能更换为其他身份。",
                         "The account is already verified as another person.", field="id_number", status=409)
    _identity_checks_hit(user, request)
    claim = IdentityClaim(
        id_type=id_type,  # type: ignore[arg-type]
        id_number=number, name=name,
        card_valid_from=card_valid_from if id_type == IdType.RESIDENT_ID else None,
        card_valid_to=None if card_long_term else card_valid_to,
        card_long_term=card_long_term and id_type == IdType.RESIDENT_ID,
        name_en=(name_en or "") if id_type == IdType.HK_MACAO_PERMIT else "")
    outcome = _perform(claim, requested, user, request)
    reached = int(outcome.reached)
    if reached < 1:
        with transaction.atomic():
            audit_account_event("identity_refused", actor=user, subject=account_subject(user), request=request,
                                outcome=Outcome.FAILURE,
                                details={"level_requested": int(requested), "reason": _reason(outcome)})
        return profile, outcome
    owner = (CitizenProfile.objects.filter(**blind_lookup(CitizenProfile, "person_key", person_key),
                                           closed_at__isnull=True).exclude(pk=profile.pk).exists())
    if owner:
        with transaction.atomic():
            audit_account_event("identity_refused", actor=user, subject=account_subject(user), request=request,
                                outcome=Outcome.DENIED, details={"reason": "identity_taken"})
        raise identity_taken_error()
    names: tuple[str, str | None] = (" ".join(name.split()), None)
    if id_type == IdType.HK_MACAO_PERMIT:
        names = _permit_names(number, names[0])
    try:
        with transaction.atomic():
            locked = CitizenProfile.objects.select_for_update().get(pk=profile.pk)
            old_level = locked.level
            new_level = max(old_level, reached)
            locked.id_type = id_type
            locked.id_number = number
            locked.person_key = person_key
            locked.name, locked.name_en = names
            if reached >= 2 and id_type == IdType.RESIDENT_ID:
                locked.card_valid_from = card_valid_from
                locked.card_valid_to = None if card_long_term else card_valid_to
                locked.card_long_term = card_long_term
            locked.level = new_level
            locked.verified_at = timezone.now()
            locked.save()
            audit_account_event("identity_verified", actor=user, subject=account_subject(user), request=request,
                                details={"id_type": id_type, "id_number": masked_id(id_type, number),
                                         "old_level": old_level, "new_level": new_level,
                                         "level_requested": int(requested), "reason": _reason(outcome)})
    except IntegrityError:
        raise identity_taken_error() from None
    if new_level != old_level and request is not None:
        # The session is worth more now (L0 → L2 opens services): a new key, so a key planted or seen before
        # the verification is worth nothing after it (session fixation).
        from tongban.accounts.sessions import session_key_rotate

        session_key_rotate(request, user)
    return locked, outcome


def _permit_names(permit_number: str, typed: str) -> tuple[str, str | None]:
    """(Chinese, English) names as the permit carries them. Asked only after the source confirmed the name
    and number; should the source fail now, the typed name is kept (it matched) and no English name."""
    from tongban.registry import interfaces
    from tongban.registry.interfaces import SourceUnavailable

    try:
        holder = interfaces.exitentry().holder(permit_number)
    except SourceUnavailable:
        holder = None
    if holder is None:
        return typed, None
    return holder.name_zh, holder.name_en


def _reason(outcome: VerificationOutcome) -> str | None:
    return outcome.reason.value if outcome.reason else None


def reason_label(outcome: VerificationOutcome) -> str:
    reason = outcome.reason
    if reason is None:
        return ""
    return str(ReasonCode(reason).label)


def masked_id(id_type: str, number: str | None) -> str:
    if not number:
        return ""
    return mask_permit(number) if id_type == IdType.HK_MACAO_PERMIT else mask_id_number(number)


# -- the account page: a read of personal data, audited ------------------------------------------------


def citizen_account_view(*, user: User, request: HttpRequest | None = None) -> dict[str, Any]:
    """The masked identity shown on the account page. Decrypting it is a read of personal data: audited."""
    profile = profile_of(user)
    fields = ["phone"]
    view: dict[str, Any] = {
        "username": user.username,
        "level": profile.level,
        "level_label": gettext(LEVEL_LABELS.get(profile.level, LEVEL_LABELS[0])),
        "phone": mask_phone(profile.phone or ""),
        "id_type": profile.id_type,
        "id_type_label": IdType(profile.id_type).label if profile.id_type else "",
        "id_number": "",
        "name": "",
        "verified_at": profile.verified_at,
        "created_at": profile.created_at,
    }
    if profile.level > 0:
        view["id_number"] = masked_id(profile.id_type, profile.id_number)
        view["name"] = mask_name(profile.name or "")
        fields += ["id_number", "name"]
        if profile.name_en:
            view["name_en"] = mask_name_en(profile.name_en)
            fields.append("name_en")
    with transaction.atomic():
        audit_account_event("personal_data_read", actor=user, subject=account_subject(user), request=request,
                            details={"fields": fields, "purpose": "account_page", "masked": True})
    return view


# -- login ---------------------------------------------------------------------------------------------


def _citizen_by_identifier(identifier: str) -> tuple[User | None, str]:
    """The account for a phone number (or, for citizens who know it, their account name) and the
    name its failure counters go by: the account's name, whichever was typed (lockout.counter_name)."""
    identifier = (identifier or "").strip()[:150]
    try:
        phone = validate_mobile(identifier)
    except TongbanError:
        user = User.objects.filter(username=identifier, kind=UserKind.CITIZEN).first()
        return user, counter_name(user, identifier)
    profile = profile_for_phone(phone)
    user = profile.user if profile else None
    return user, counter_name(user, login_key(phone))


def _code_ticket_account(ticket_id: int | None) -> tuple[User | None, str]:
    """The account a login code was sent for (None for a phone without one) and the name its failures
    count under; (None, "") when there is no such login ticket."""
    row = OneTimeCode.objects.select_related("user").filter(pk=ticket_id or 0, purpose=OtpPurpose.LOGIN).first()
    if row is None:
        return None, ""
    if row.user is not None:
        return row.user, counter_name(row.user, "")
    return None, login_key(row.phone or "")


def login_refused_error(locked: bool) -> TongbanError:
    if locked:
        return locked_error()
    return _error("login_failed", "手机号或密码不正确，请重新输入。", "Wrong phone number or password.", status=401)


def citizen_login_password(*, request: HttpRequest, identifier: str, password: str) -> User:
    """Sign a citizen in by phone (or account name) and password, with the accounts lockout."""
    user, key = _citizen_by_identifier(identifier)
    ip = client_ip(request)
    if address_blocked(ip) or login_locked(key, user):
        User().set_password(password)  # the same work as a real check, so timing tells nothing
        record_security_event(SecurityEvent.LOGIN_REFUSED, user=user, request=request, outcome="refused",
                              details={"via": "portal"})
        raise login_refused_error(True)
    ok = False
    if user is None:
        User().set_password(password)
    else:
        ok = user.check_password(password) and user.is_active
    if not ok or user is None:
        locked = login_failure_record(username=key, ip=ip, user=user, request=request)
        raise login_refused_error(locked)
    if second_factor_required(key):
        record_security_event(SecurityEvent.LOGIN_REFUSED, user=user, request=request, outcome="refused",
                              details={"via": "portal", "reason": "second_factor_required"})
        raise _error("second_factor_required", "为保护账号安全，请使用短信验证码登录。",
                     "Please sign in with a code sent to your phone.", status=401)
    _finish_login(request, user, key, "password")
    return user


def citizen_login_code(*, request: HttpRequest, ticket_id: int | None, code: str, reason: str = "sms_code"
                       ) -> User:
    """Sign a citizen in by a code sent to their phone (the portal's /login/code/, and the SSO sign-in-again
    page through tongban.sso.services.reauth_code_check).

    A code is a challenge of its own, bound to the request that asked for it: a wrong code uses up one of
    its five tries (the fifth burns it) and counts against the client address that sent it
    (lockout.code_failure_record, the address's failure counter and the per-network check limit) — never
    against the account. Anyone who knows a phone number can ask for a code and guess wrong, so counting
    those guesses in the account's lockout let a stranger lock the owner out (issue 11, item 17); and the
    account's password lock does not stop a sign-in by code either, since whoever holds the phone can
    recover the account by code anyway. What bounds guessing is the code: 10^6 values, five tries each,
    and the codes a phone can be sent (TONGBAN_SMS_* caps: at most 50 guesses a day at one phone's codes).
    The address's refusal (too many failures from it) still applies, before the code is checked.

    A sign-in by code does not reset the account's password failures: it proves the phone, not the
    password. `reason` goes into the audit entry of a failure. Errors: otp_invalid, otp_expired,
    rate_limited, login_locked (the address)."""
    user, _key = _code_ticket_account(ticket_id)
    ip = client_ip(request)
    if address_blocked(ip):
        record_security_event(SecurityEvent.LOGIN_REFUSED, user=user, request=request, outcome="refused",
                              details={"via": reason})
        raise login_refused_error(True)
    try:
        otp = otp_verify(ticket_id=ticket_id, purpose=OtpPurpose.LOGIN, code=code, request=request)
    except OtpWrongCode:
        code_failure_record(ip=ip, user=user, request=request, reason=reason)
        raise
    profile = profile_for_phone(otp.phone)
    if profile is None or not profile.user.is_active or otp.user_id != profile.user_id:
        raise _error("otp_expired", "验证码已失效，请重新获取。", "The code no longer works.", field="code")
    _finish_login(request, profile.user, profile.user.username, "sms_code", password=False)
    return profile.user


def _finish_login(request: HttpRequest, user: User, key: str, method: str, *, password: bool = True) -> None:
    if password:  # the right password: the account starts again from zero (password) failures
        login_counters_clear(key)
        login_success_record(username=user.username, user=user)
    setattr(request, LOGIN_METHOD_ATTR, method)
    django_login(request, user, backend=BACKEND)


# -- recovery, phone, closing ----------------------------------------------------------------------------


def citizen_recover(*, ticket_id: int | None, code: str, new_password: str, request: HttpRequest | None = None
                    ) -> User:
    """Forgot password: a code to the account's phone, then a new password. Lifts a lockout and ends
    every session of the account."""
    from tongban.accounts.sessions import sessions_end_all

    otp = otp_verify(ticket_id=ticket_id, purpose=OtpPurpose.RECOVER, code=code, request=request)
    profile = profile_for_phone(otp.phone)
    if profile is None or otp.user_id != profile.user_id:
        raise _error("otp_expired", "验证码已失效，请重新获取。", "The code no longer works.", field="code")
    user = profile.user
    password_check_policy(new_password, user)
    with transaction.atomic():
        user.set_password(new_password)
        user.locked_until = None
        user.save(update_fields=["password", "password_changed_at", "locked_until"])
        sessions_end_all(user)
        audit_account_event("password_recovered", actor=user, subject=account_subject(user), request=request,
                            details={"via": "sms_code"})
    login_counters_clear(login_key(otp.phone))
    login_counters_clear(user.username)
    return user


def change_phone_start(*, user: User, new_phone: str, password: str, request: HttpRequest | None = None) -> Any:
    """Step one of changing phone: the password again, then a code to the new number."""
    from tongban.accounts.otp import otp_send

    profile = profile_of(user)
    password_recheck(user=user, password=password, request=request)
    phone = validate_mobile(new_phone, field="phone")
    if phone == profile.phone:
        raise _error("phone_same", "新手机号与当前手机号相同。", "That is the current number.", field="phone")
    return otp_send(phone=phone, purpose=OtpPurpose.CHANGE_PHONE, request=request, user=user)


def citizen_change_phone(*, user: User, ticket_id: int | None, code: str, request: HttpRequest | None = None
                         ) -> CitizenProfile:
    """Step two: the code sent to the new number. The old number is told by SMS."""
    otp = otp_verify(ticket_id=ticket_id, purpose=OtpPurpose.CHANGE_PHONE, code=code, request=request, user=user)
    try:
        with transaction.atomic():
            profile = CitizenProfile.objects.select_for_update().get(pk=profile_of(user).pk)
            old = profile.phone or ""
            if profile_for_phone(otp.phone) is not None:
                raise _error("phone_taken", "该手机号已绑定其他账号。", "That number belongs to another account.",
                             field="code", status=409)
            profile.phone = otp.phone
            profile.save()
            if old:
                sms_queue(phone=old, purpose="phone_changed",
                          text=f"【一网通办】您的账号已将绑定手机号更换为 {mask_phone(otp.phone)}。如非本人操作，请立即找回账号。")
            audit_account_event("phone_changed", actor=user, subject=account_subject(user), request=request,
                                details={"old_phone": mask_phone(old), "new_phone": mask_phone(otp.phone)})
    except IntegrityError:
        raise _error("phone_taken", "该手机号已绑定其他账号。", "That number belongs to another account.",
                     field="code", status=409) from None
    return profile


def citizen_close(*, user: User, password: str, request: HttpRequest | None = None) -> None:
    """Close the account: every personal field is erased (and its blind index with it), the account is
    deactivated, its sessions and agent authorisations end. The audit log keeps what was done, masked."""
    from tongban.accounts.models import Enterprise, EnterpriseAgent, EnterpriseStatus
    from tongban.accounts.sessions import sessions_end_all

    profile = profile_of(user)
    password_recheck(user=user, password=password, request=request)
    if Enterprise.objects.filter(legal_representative=user, status=EnterpriseStatus.ACTIVE).exists():
        raise _error("enterprise_open", "您是企业账号的法定代表人，请先注销或变更企业账号。",
                     "You represent an enterprise account: close it first.", field="password", status=409)
    with transaction.atomic():
        locked = CitizenProfile.objects.select_for_update().get(pk=profile.pk)
        old_level = locked.level
        masked_before = {"phone": mask_phone(locked.phone or ""),
                         "id_number": masked_id(locked.id_type, locked.id_number)}
        for field in ("phone", "id_number", "person_key", "name", "card_valid_from", "card_valid_to"):
            setattr(locked, field, None)
        locked.card_long_term = False
        locked.level = 0
        locked.closed_at = timezone.now()
        locked.save()
        now = timezone.now()
        EnterpriseAgent.objects.filter(agent=user, revoked_at__isnull=True).update(revoked_at=now, revoked_by=user)
        User.objects.filter(pk=user.pk).update(is_active=False, password=make_password(None))
        sessions_end_all(user)
        audit_account_event("account_closed", actor=user, subject=account_subject(user), request=request,
                            details={**masked_before, "old_level": old_level, "erased": True})


def citizen_level_raise_l3(*, user: Any, actor: Any, request: HttpRequest | None = None,
                           check_id: int | None = None) -> CitizenProfile:
    """Record that the account holder passed real-person verification (实人, L3: tongban.face).

    Only an account already at L2 with a resident ID can reach L3 (the face is matched against that
    card's photo). Call inside the transaction that records the face check; audited there.
    `actor` is the citizen (an accepted check) or the second reviewer (an approved review)."""
    locked = CitizenProfile.objects.select_for_update().filter(user_id=getattr(user, "pk", None) or 0,
                                                                closed_at__isnull=True).first()
    if locked is None or locked.level < 2 or locked.id_type != IdType.RESIDENT_ID:
        raise _error("level_not_supported", "实人认证需先完成实证（L2）认证。",
                     "Real-person verification needs level 2 first.", field="level", status=409)
    old_level = locked.level
    locked.level = 3
    locked.verified_at = timezone.now()
    locked.save(update_fields=["level", "verified_at"])
    audit_account_event("identity_verified", actor=actor, subject=account_subject(locked.user), request=request,
                        details={"id_type": locked.id_type, "id_number": masked_id(locked.id_type, locked.id_number),
                                 "old_level": old_level, "new_level": 3, "level_requested": 3,
                                 "face_check": check_id})
    return locked
