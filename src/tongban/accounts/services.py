"""Writes on accounts: staff creation, roles, unlock, disabling, passwords, the second factor.

`actor` is the staff user doing it, or None for an operator at the console (`tongban staff`).

Whatever shuts an account out — disabling it, a password reset, a second-factor reset — ends all of the
account's sessions (and the single sign-on they carry) in the same transaction, audited. The automatic
lock after failed attempts does not (tongban.accounts.lockout says why).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from tongban.accounts.auditing import account_subject, audit_account_event, staff_actor
from tongban.accounts.events import SecurityEvent, record_security_event
from tongban.accounts.lockout import login_counters_clear, password_recheck
from tongban.accounts.models import CitizenProfile, StaffTOTPDevice, User, UserKind
from tongban.accounts.regions import region_exists
from tongban.accounts.roles import ROLE_FIELDS, SCOPED_ROLES, Department, StaffRole, role_conflicts
from tongban.accounts.sessions import account_sessions_end
from tongban.core.errors import TongbanError

CLI = "cli"


def _actor_name(actor: Any) -> str:
    return getattr(actor, "username", None) or CLI


def _require_security_admin(actor: Any) -> None:
    """Account administration belongs to the security admin (or the console operator)."""
    if actor is not None and not actor.has_role(StaffRole.SECURITY_ADMIN):
        raise TongbanError("not_found")


def roles_validate(roles: Iterable[StaffRole | str], *, department: str, region_code: str) -> frozenset[StaffRole]:
    """Parse and check a role set with its scope; raise TongbanError naming what is wrong."""
    try:
        parsed = frozenset(StaffRole(role) for role in roles)
    except ValueError as exc:
        raise TongbanError("invalid_staff_scope", details=[{"field": "roles", "error": str(exc)}]) from exc
    conflicts = role_conflicts(parsed)
    if conflicts:
        first, second = conflicts[0]
        raise TongbanError(
            "separation_of_duties",
            message_zh=f"职责分离：{first.label}与{second.label}不得由同一账号兼任。",
            message_en=f"Separation of duties: {first.value} and {second.value} may not be held by one account.",
            details=[{"roles": [a.value, b.value]} for a, b in conflicts])
    if parsed & SCOPED_ROLES:
        if department not in Department.values:
            raise TongbanError("invalid_staff_scope", details=[{"field": "department"}])
        if not region_exists(region_code):
            raise TongbanError("invalid_staff_scope", details=[{"field": "region_code"}])
    elif department or region_code:
        if department and department not in Department.values:
            raise TongbanError("invalid_staff_scope", details=[{"field": "department"}])
        if region_code and not region_exists(region_code):
            raise TongbanError("invalid_staff_scope", details=[{"field": "region_code"}])
    return parsed


_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_ID_NUMBER_RE = re.compile(r"^(\d{15}|\d{17}[\dXx])$")  # shaped like one, valid check digit or not


def staff_username_validate(username: str) -> str:
    """A staff username is the police number (警号) or another work number: never an ID number or a phone
    number, which would put personal data on the user row (accounts.models). Returns it normalised."""
    username = User.normalize_username((username or "").strip())
    try:
        User._meta.get_field("username").run_validators(username)
    except ValidationError:
        username = ""
    if not username or len(username) > 150:
        raise TongbanError("validation_error", message_zh="警号只能包含字母、数字和 @.+-_，最长 150 个字符。",
                           message_en="Letters, digits and @.+-_ only, at most 150 characters.",
                           details=[{"field": "username", "type": "invalid"}])
    if _MOBILE_RE.match(username) or _ID_NUMBER_RE.match(username):
        raise TongbanError("validation_error", message_zh="账号不能使用身份证号或手机号，请使用警号。",
                           message_en="Use the police number, not an ID or phone number.",
                           details=[{"field": "username", "type": "personal_data"}])
    return username


def _not_on_yourself(actor: Any, user: User, message_zh: str, message_en: str) -> None:
    if actor is not None and actor.pk == user.pk:
        raise TongbanError("forbidden", message_zh=message_zh, message_en=message_en)


def _password_validate(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise TongbanError("password_rejected", details=[{"message": m} for m in exc.messages]) from exc


@transaction.atomic
def staff_create(*, actor: Any, username: str, password: str, roles: Iterable[StaffRole | str],
                 department: str = "", region_code: str = "", request: HttpRequest | None = None) -> User:
    """A new staff account; the password is temporary (changed at first login) and a TOTP device is
    enrolled at first login."""
    _require_security_admin(actor)
    username = staff_username_validate(username)
    parsed = roles_validate(roles, department=department, region_code=region_code)
    if User.objects.filter(username=username).exists():
        raise TongbanError("conflict", message_zh="用户名已存在。", message_en="The username is taken.",
                           details=[{"field": "username", "type": "conflict"}])
    user = User(username=username, kind=UserKind.STAFF, department=department,
                region_code=region_code, must_change_password=True)
    for role in parsed:
        setattr(user, ROLE_FIELDS[role], True)
    _password_validate(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    record_security_event(SecurityEvent.STAFF_CREATED, user=user, actor=actor or CLI, request=request,
                          details={"roles": sorted(r.value for r in parsed), "department": department,
                                   "region_code": region_code})
    return user


@transaction.atomic
def staff_roles_set(*, actor: Any, user: User, roles: Iterable[StaffRole | str], department: str | None = None,
                    region_code: str | None = None, request: HttpRequest | None = None) -> User:
    """Replace a staff account's roles (and scope). Nobody changes their own roles."""
    _require_security_admin(actor)
    if actor is not None and actor.pk == user.pk:
        raise TongbanError("forbidden", message_zh="不能修改自己的角色。", message_en="You cannot change your own roles.")
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.kind != UserKind.STAFF:
        raise TongbanError("invalid_staff_scope", message_zh="群众账号不能授予角色。",
                           message_en="Citizen accounts hold no roles.")
    new_department = locked.department if department is None else department
    new_region = locked.region_code if region_code is None else region_code
    parsed = roles_validate(roles, department=new_department, region_code=new_region)
    old = {"roles": sorted(r.value for r in locked.roles), "department": locked.department,
           "region_code": locked.region_code}
    for role, field in ROLE_FIELDS.items():
        setattr(locked, field, role in parsed)
    locked.department, locked.region_code = new_department, new_region
    locked.save(update_fields=[*ROLE_FIELDS.values(), "department", "region_code"])
    new = {"roles": sorted(r.value for r in parsed), "department": new_department, "region_code": new_region}
    record_security_event(SecurityEvent.ROLE_CHANGED, user=locked, actor=actor or CLI, request=request,
                          details={"old": old, "new": new})
    return locked


@transaction.atomic
def account_unlock(*, actor: Any, user: User, request: HttpRequest | None = None) -> User:
    _require_security_admin(actor)
    User.objects.filter(pk=user.pk).update(locked_until=None)
    user.locked_until = None
    login_counters_clear(user.username)
    record_security_event(SecurityEvent.ACCOUNT_UNLOCKED, user=user, actor=actor or CLI, request=request)
    return user


@transaction.atomic
def account_active_set(*, actor: Any, user: User, active: bool, request: HttpRequest | None = None) -> User:
    """Disable (`active=False`) or enable again a staff or citizen account: Django admin's 启用 box,
    `tongban staff disable|enable`. Disabling ends every session of the account in the same transaction
    (web sessions deleted from the session store, their single sign-on ended, relying parties told), with
    the change's audit entry `account_disabled` and `sessions_ended`. Nobody disables their own account;
    a closed citizen account stays closed. Setting what is already set changes nothing and records nothing.
    Errors: not_found (the actor is not a security admin), forbidden, conflict."""
    _require_security_admin(actor)
    if not active and actor is not None and actor.pk == user.pk:
        raise TongbanError("forbidden", message_zh="不能停用自己的账号。", message_en="You cannot disable your own account.")
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.is_active == active:
        user.is_active = active
        return locked
    if active and CitizenProfile.objects.filter(user_id=locked.pk, closed_at__isnull=False).exists():
        raise TongbanError("conflict", message_zh="该账号已注销，不能重新启用。",
                           message_en="The account was closed; it cannot be enabled again.")
    locked.is_active = active
    locked.save(update_fields=["is_active"])
    user.is_active = active
    audit_account_event("account_disabled" if not active else "account_enabled", actor=staff_actor(actor),
                        subject=account_subject(locked), request=request,
                        details={"old": {"is_active": not active}, "new": {"is_active": active},
                                 "kind": locked.kind})
    if not active:
        account_sessions_end(user=locked, actor=actor, reason="account_disabled", request=request)
    return locked


@transaction.atomic
def account_username_set(*, actor: Any, user: User, username: str, request: HttpRequest | None = None) -> User:
    """Rename an account (Django admin's 用户名 field): a staff user's username is their police number, no
    personal data (accounts.models), so the audit entry `username_changed` records the old and the new one.
    The failure count kept under the old name is dropped with it. Errors: not_found (the actor is not a
    security admin), validation_error (not a valid username), conflict (taken)."""
    _require_security_admin(actor)
    locked = User.objects.select_for_update().get(pk=user.pk)
    old = locked.username
    if username == old:
        return locked
    try:
        User._meta.get_field("username").run_validators(username)
    except ValidationError:
        raise TongbanError("validation_error", message_zh="用户名只能包含字母、数字和 @.+-_，最长 150 个字符。",
                           message_en="Letters, digits and @.+-_ only, at most 150 characters.",
                           details=[{"field": "username", "type": "invalid"}]) from None
    if not username or len(username) > 150 or User.objects.filter(username=username).exclude(pk=locked.pk).exists():
        raise TongbanError("conflict", message_zh="该用户名已被使用或为空。", message_en="That username is taken or empty.",
                           details=[{"field": "username", "type": "conflict"}])
    locked.username = username
    locked.save(update_fields=["username"])
    user.username = username
    login_counters_clear(old)
    audit_account_event("username_changed", actor=staff_actor(actor), subject=account_subject(locked),
                        request=request, details={"old": {"username": old}, "new": {"username": username}})
    return locked


def password_change(*, user: User, old_password: str, new_password: str,
                    request: HttpRequest | None = None) -> User:
    """The user changes their own password (also how an expired or temporary one is replaced).

    The current password is checked by the lockout's `password_recheck`: a wrong one counts towards the
    account lockout as a failed login does, and a locked account cannot change its password. The check
    is outside the transaction, so a failure's count, lock and audit entries stay when the change is
    refused. Errors: login_locked, password_wrong, password_rejected."""
    password_recheck(user=user, password=old_password, request=request, field="old_password",
                     wrong_message="当前密码不正确。", reason="password_change")
    if old_password == new_password:
        raise TongbanError("password_rejected", details=[{"message": "新密码不能与当前密码相同。"}])
    _password_validate(new_password, user)
    with transaction.atomic():
        user.set_password(new_password)
        user.must_change_password = False
        user.save(update_fields=["password", "password_changed_at", "must_change_password"])
        record_security_event(SecurityEvent.PASSWORD_CHANGED, user=user, request=request)
    return user


@transaction.atomic
def password_reset(*, actor: Any, user: User, new_password: str, request: HttpRequest | None = None) -> User:
    """A security admin sets a temporary password; the user must change it at the next login. The old
    password no longer signs anyone in, so the sessions it opened end too (in this transaction)."""
    _require_security_admin(actor)
    _not_on_yourself(actor, user, "不能重置自己的密码，请使用“修改密码”。",
                     "You cannot reset your own password; change it instead.")
    _password_validate(new_password, user)
    user.set_password(new_password)
    user.must_change_password = True
    user.save(update_fields=["password", "password_changed_at", "must_change_password"])
    record_security_event(SecurityEvent.PASSWORD_RESET, user=user, actor=actor or CLI, request=request)
    account_sessions_end(user=user, actor=actor, reason="password_reset", request=request)
    return user


def totp_device_for_enrolment(user: User, request: HttpRequest | None = None) -> StaffTOTPDevice:
    """The user's unconfirmed device (made once, so a reload shows the same QR code). Making it — a new
    secret — is audited (`totp_enrolment_started`) in its transaction; confirming it is `totp_enrolled`."""
    device = StaffTOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        with transaction.atomic():
            device = StaffTOTPDevice.objects.create(user=user, name="身份验证器", confirmed=False)
            record_security_event(SecurityEvent.TOTP_ENROLMENT_STARTED, user=user, request=request,
                                  details={"device": device.pk})
    return device


def totp_device_confirmed(user: User) -> StaffTOTPDevice | None:
    return StaffTOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def totp_verify(*, user: User, device: StaffTOTPDevice, token: str, request: HttpRequest | None = None) -> bool:
    """Check a code against the device, under a row lock. A code already used (or an older one) is refused:
    django-otp keeps the last accepted time step. A first good code confirms an enrolment."""
    token = (token or "").strip().replace(" ", "")
    if not token.isdigit() or len(token) != device.digits:
        record_security_event(SecurityEvent.TOTP_FAILED, user=user, request=request, outcome="failure",
                              details={"reason": "malformed"})
        return False
    with transaction.atomic():
        locked = StaffTOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
        ok = bool(locked.verify_token(token))
        if ok and not locked.confirmed:
            locked.confirmed = True
            locked.save(update_fields=["confirmed"])
            StaffTOTPDevice.objects.filter(user=user).exclude(pk=locked.pk).delete()
            record_security_event(SecurityEvent.TOTP_ENROLLED, user=user, request=request)
    device.refresh_from_db()
    record_security_event(SecurityEvent.TOTP_VERIFIED if ok else SecurityEvent.TOTP_FAILED, user=user,
                          request=request, outcome="success" if ok else "failure")
    return ok


@transaction.atomic
def totp_reset(*, actor: Any, user: User, request: HttpRequest | None = None) -> None:
    """Remove the user's devices: at the next login they enrol a new one (a lost phone). The sessions the
    old device verified end too (in this transaction): whoever holds the phone may hold them."""
    _require_security_admin(actor)
    _not_on_yourself(actor, user, "不能重置自己的动态口令。", "You cannot reset your own second factor.")
    StaffTOTPDevice.objects.filter(user=user).delete()
    record_security_event(SecurityEvent.TOTP_RESET, user=user, actor=actor or CLI, request=request)
    account_sessions_end(user=user, actor=actor, reason="totp_reset", request=request)
