"""Accounts: one user table for citizens and staff; staff carry their roles and their scope.

No personal data on the user row: staff sign in with a username such as the police number (警号);
a citizen's username is generated, and their phone and identity sit field-encrypted in CitizenProfile.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from base64 import b32encode
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP

from tongban.accounts.roles import CONFLICTS, ROLE_FIELDS, Department, StaffRole
from tongban.crypto.fields import (
    BlindIndexField,
    EncryptedBinaryField,
    EncryptedDateField,
    EncryptedModel,
    EncryptedTextField,
)


class UserKind(models.TextChoices):
    CITIZEN = "citizen", "群众"
    STAFF = "staff", "工作人员"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, username: str, password: str | None = None, **extra: Any) -> User:
        if not username:
            raise ValueError("username is required")
        user = self.model(username=self.model.normalize_username(username), **extra)
        if password is None:
            user.set_unusable_password()
        else:
            user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, password: str | None = None, **extra: Any) -> User:
        """There is no all-powerful account (三权分立): `createsuperuser` makes a system admin. An operator at the
        console made it: audited (`staff_created`, actor the console) in the account's transaction."""
        from django.db import transaction

        from tongban.accounts.events import SecurityEvent, record_security_event

        extra.update(kind=UserKind.STAFF, role_system_admin=True, is_superuser=False, must_change_password=True)
        with transaction.atomic(using=self._db):
            user = self.create_user(username, password, **extra)
            record_security_event(SecurityEvent.STAFF_CREATED, user=user, actor="cli",
                                  details={"roles": sorted(r.value for r in user.roles), "department": user.department,
                                           "region_code": user.region_code, "via": "createsuperuser"})
        return user


def _no_role() -> Q:
    q = Q()
    for field in ROLE_FIELDS.values():
        q &= Q(**{field: False})
    return q


def _role_constraints() -> list[models.BaseConstraint]:
    constraints: list[models.BaseConstraint] = []
    order = list(StaffRole)
    for pair in sorted(CONFLICTS, key=lambda p: sorted(order.index(r) for r in p)):
        first, second = sorted(pair, key=order.index)
        constraints.append(models.CheckConstraint(
            condition=~(Q(**{ROLE_FIELDS[first]: True}) & Q(**{ROLE_FIELDS[second]: True})),
            name=f"accounts_user_not_{first.value}_and_{second.value}",
            violation_error_message=f"职责分离：{first.label}与{second.label}不得由同一账号兼任",
        ))
    return constraints


class User(AbstractBaseUser, PermissionsMixin):
    username = models.CharField("用户名", max_length=150, unique=True, validators=[UnicodeUsernameValidator()],
                                help_text=_("工作人员使用警号等工号，不使用身份证号、手机号等个人信息。"))
    kind = models.CharField("账号类型", max_length=16, choices=UserKind.choices, default=UserKind.CITIZEN)
    is_active = models.BooleanField("启用", default=True)
    date_joined = models.DateTimeField("创建时间", default=timezone.now)

    password_changed_at = models.DateTimeField("密码修改时间", null=True, blank=True)
    must_change_password = models.BooleanField("下次登录须修改密码", default=False)
    locked_until = models.DateTimeField("锁定至", null=True, blank=True)

    role_system_admin = models.BooleanField(StaffRole.SYSTEM_ADMIN.label, default=False)
    role_security_admin = models.BooleanField(StaffRole.SECURITY_ADMIN.label, default=False)
    role_audit_admin = models.BooleanField(StaffRole.AUDIT_ADMIN.label, default=False)
    role_key_admin = models.BooleanField(StaffRole.KEY_ADMIN.label, default=False)
    role_officer = models.BooleanField(StaffRole.OFFICER.label, default=False)
    role_catalog_editor = models.BooleanField(StaffRole.CATALOG_EDITOR.label, default=False)
    role_catalog_reviewer = models.BooleanField(StaffRole.CATALOG_REVIEWER.label, default=False)
    role_supervisor = models.BooleanField(StaffRole.SUPERVISOR.label, default=False)
    role_finance = models.BooleanField(StaffRole.FINANCE.label, default=False)
    department = models.CharField("部门警种", max_length=32, choices=Department.choices, blank=True)
    region_code = models.CharField("辖区代码", max_length=6, blank=True,
                                   help_text=_("GB/T 2260 行政区划代码：省 330000、市 330100、区县 330106"))

    objects: ClassVar[UserManager] = UserManager()  # type: ignore[assignment]

    USERNAME_FIELD = "username"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    class Meta:
        verbose_name = "账号"
        verbose_name_plural = "账号"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            *_role_constraints(),
            models.CheckConstraint(condition=Q(kind=UserKind.STAFF) | _no_role(),
                                   name="accounts_user_roles_only_for_staff",
                                   violation_error_message="只有工作人员账号可以授予角色"),
            models.CheckConstraint(condition=Q(role_officer=False) | (~Q(department="") & ~Q(region_code="")),
                                   name="accounts_user_officer_has_scope",
                                   violation_error_message="业务民警须指定部门警种与辖区"),
            models.CheckConstraint(
                condition=(Q(role_catalog_editor=False) & Q(role_catalog_reviewer=False))
                | (~Q(department="") & ~Q(region_code="")),
                name="accounts_user_catalog_role_has_scope",
                violation_error_message="事项编辑与事项审核须指定部门警种与辖区"),
            models.CheckConstraint(condition=Q(role_supervisor=False) | (~Q(department="") & ~Q(region_code="")),
                                   name="accounts_user_supervisor_has_scope",
                                   violation_error_message="好差评监督员须指定部门警种与辖区"),
            models.CheckConstraint(condition=Q(is_superuser=False), name="accounts_user_no_superuser",
                                   violation_error_message="不设超级管理员（三权分立）"),
        ]

    def __str__(self) -> str:
        return self.username

    # Django admin lets in `is_staff` users only: the administrative roles, never officers or citizens.
    @property
    def is_staff(self) -> bool:
        return self.kind == UserKind.STAFF and self.is_active and bool(self.roles & {
            StaffRole.SYSTEM_ADMIN, StaffRole.SECURITY_ADMIN, StaffRole.AUDIT_ADMIN, StaffRole.KEY_ADMIN})

    @property
    def is_staff_account(self) -> bool:
        return self.kind == UserKind.STAFF

    @property
    def roles(self) -> frozenset[StaffRole]:
        return frozenset(role for role, field in ROLE_FIELDS.items() if getattr(self, field))

    def has_role(self, role: StaffRole) -> bool:
        return self.kind == UserKind.STAFF and self.is_active and role in self.roles

    def set_password(self, raw_password: str | None) -> None:
        super().set_password(raw_password)
        self.password_changed_at = timezone.now()

    def is_locked(self, at: dt.datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (at or timezone.now())


class PasswordHistory(models.Model):
    """Hashes of a user's recent passwords, so the last N cannot be reused."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "历史密码"
        verbose_name_plural = "历史密码"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user", "-created_at"], name="accounts_pwhist_user_recent")]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.created_at:%Y-%m-%d}"


# -- citizens and enterprises (issue 4; docs/accounts.md) ------------------------------------------------


class IdType(models.TextChoices):
    RESIDENT_ID = "resident_id", "居民身份证"
    HK_MACAO_PERMIT = "hk_macao_permit", "港澳居民来往内地通行证"


class CitizenProfile(EncryptedModel):
    """A citizen account's phone and verified identity, every personal field SM4-GCM encrypted.

    One person, one account: `person_key_bidx` is unique — the citizen ID number, or for a Hong Kong or
    Macao resident the first nine characters of the permit (the same person across renewed permits).
    Closing an account clears every personal field (and with them the blind indexes).
    """

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="citizen")
    phone = EncryptedTextField("手机号码", max_length=20, mask="phone", null=True, blank=True)
    phone_bidx = BlindIndexField(source="phone", normalizer="phone", unique=True)
    id_type = models.CharField("证件类型", max_length=20, choices=IdType.choices, blank=True)
    id_number = EncryptedTextField("证件号码", max_length=32, mask="id_number", null=True, blank=True)
    person_key = EncryptedTextField("人员标识", max_length=32, mask="id_number", null=True, blank=True)
    person_key_bidx = BlindIndexField(source="person_key", normalizer="id_number", unique=True)
    name = EncryptedTextField("姓名", max_length=100, mask="name", null=True, blank=True)
    # A Hong Kong or Macao resident's English name, in the permit's spelling and case (from the exit-entry
    # source once verified, never as typed); `name` then holds the Chinese name in the permit's form.
    name_en = EncryptedTextField("英文姓名", max_length=100, mask="name", null=True, blank=True)
    level = models.PositiveSmallIntegerField("认证等级", default=0)
    verified_at = models.DateTimeField("认证时间", null=True, blank=True)
    card_valid_from = EncryptedDateField("证件有效期起", null=True, blank=True)
    card_valid_to = EncryptedDateField("证件有效期止", null=True, blank=True)
    card_long_term = models.BooleanField("长期有效", default=False)
    created_at = models.DateTimeField("注册时间", default=timezone.now)
    closed_at = models.DateTimeField("注销时间", null=True, blank=True)

    class Meta:
        verbose_name = "群众账号资料"
        verbose_name_plural = "群众账号资料"

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class OtpPurpose(models.TextChoices):
    REGISTER = "register", "注册"
    LOGIN = "login", "登录"
    CHANGE_PHONE = "change_phone", "更换手机号"
    RECOVER = "recover", "找回密码"


class OneTimeCode(EncryptedModel):
    """A six-digit code sent by SMS: only its HMAC-SM3 is kept; bound to a phone and a purpose."""

    purpose = models.CharField("用途", max_length=16, choices=OtpPurpose.choices)
    phone = EncryptedTextField("手机号码", max_length=20, mask="phone")
    phone_bidx = BlindIndexField(source="phone", normalizer="phone")
    code_mac = models.BinaryField("验证码摘要", max_length=40)
    # The account the code is for, when known at sending (login, recover, change of phone).
    user = models.ForeignKey(User, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField("发送时间", default=timezone.now)
    expires_at = models.DateTimeField("过期时间")
    attempts = models.PositiveSmallIntegerField("已尝试次数", default=0)
    consumed_at = models.DateTimeField("使用时间", null=True, blank=True)

    class Meta:
        verbose_name = "短信验证码"
        verbose_name_plural = "短信验证码"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["purpose", "created_at"], name="accounts_otp_purpose_created")]


class LoginSession(EncryptedModel):
    """One signed-in session (citizens and staff), so the citizen can see where they are signed in and end
    any of them, and so the sessions of an account shut out by staff can be ended.

    The session key is a credential: it is kept encrypted (to delete the session from the store on
    revoke) and found by its SHA-256.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_sessions")
    key_hash = models.CharField("会话摘要", max_length=64, unique=True)
    session_key = EncryptedTextField("会话标识", max_length=64)
    created_at = models.DateTimeField("登录时间", default=timezone.now)
    last_seen_at = models.DateTimeField("最近活动", default=timezone.now)
    user_agent = models.CharField("设备", max_length=64, blank=True)
    ip_masked = models.CharField("来源地址", max_length=64, blank=True)
    method = models.CharField("登录方式", max_length=16, blank=True)

    class Meta:
        verbose_name = "登录会话"
        verbose_name_plural = "登录会话"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["user", "-last_seen_at"], name="accounts_session_user_seen")]


class EnterpriseStatus(models.TextChoices):
    ACTIVE = "active", "正常"
    CLOSED = "closed", "已注销"


class Enterprise(models.Model):
    """An enterprise account, registered by its legal representative (a citizen verified to L2).

    The unified social credit code and the enterprise's name are public registration data, not
    personal data: they are stored as they are.
    """

    uscc = models.CharField("统一社会信用代码", max_length=18, unique=True)
    name = models.CharField("企业名称", max_length=100)
    legal_representative = models.ForeignKey(User, on_delete=models.PROTECT, related_name="enterprises_represented")
    status = models.CharField("状态", max_length=16, choices=EnterpriseStatus.choices,
                              default=EnterpriseStatus.ACTIVE)
    declared_at = models.DateTimeField("法定代表人声明时间", default=timezone.now)
    created_at = models.DateTimeField("登记时间", default=timezone.now)

    class Meta:
        verbose_name = "企业账号"
        verbose_name_plural = "企业账号"

    def __str__(self) -> str:
        return f"{self.name}（{self.uscc}）"


class EnterpriseAgent(models.Model):
    """A citizen (verified to L1 at least) authorised to act for an enterprise, until revoked or expired."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="agents")
    agent = models.ForeignKey(User, on_delete=models.PROTECT, related_name="agencies")
    authorised_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    scope = models.CharField("授权范围", max_length=200, blank=True)
    valid_until = models.DateField("授权截止日期", null=True, blank=True)
    created_at = models.DateTimeField("授权时间", default=timezone.now)
    revoked_at = models.DateTimeField("撤销时间", null=True, blank=True)
    revoked_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = "企业经办人"
        verbose_name_plural = "企业经办人"
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["enterprise", "agent"], condition=Q(revoked_at__isnull=True),
                                    name="accounts_agent_one_active_per_enterprise"),
        ]

    def __str__(self) -> str:
        return f"经办人 #{self.pk}"

    def is_active(self, today: dt.date | None = None) -> bool:
        if self.revoked_at is not None:
            return False
        return self.valid_until is None or self.valid_until >= (today or timezone.localdate())


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "待确认"
    ACCEPTED = "accepted", "已接受"
    DECLINED = "declined", "已拒绝"
    CANCELLED = "cancelled", "已撤回"


class EnterpriseInvitation(EncryptedModel):
    """The legal representative's invitation to a phone number to act for the enterprise as its agent.

    It is bound to the number, not to an account: inviting looks nothing up, so no answer (and no timing)
    tells the representative whether the number has an account. The person holding an account with that
    phone sees the invitation in their own account and accepts (an EnterpriseAgent is made then) or
    declines; it lapses at `expires_at`. The phone is encrypted like every phone.
    """

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="invitations")
    phone = EncryptedTextField("被邀请手机号码", max_length=20, mask="phone")
    phone_bidx = BlindIndexField(source="phone", normalizer="phone")
    invited_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    scope = models.CharField("授权范围", max_length=200, blank=True)
    valid_until = models.DateField("授权截止日期", null=True, blank=True)
    created_at = models.DateTimeField("邀请时间", default=timezone.now)
    expires_at = models.DateTimeField("邀请有效期至")
    status = models.CharField("状态", max_length=16, choices=InvitationStatus.choices,
                              default=InvitationStatus.PENDING)
    answered_at = models.DateTimeField("处理时间", null=True, blank=True)
    answered_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    authorisation = models.ForeignKey(EnterpriseAgent, on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+")

    class Meta:
        verbose_name = "经办人邀请"
        verbose_name_plural = "经办人邀请"
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["enterprise", "status"], name="accounts_invite_ent_status")]

    def is_open(self, at: dt.datetime | None = None) -> bool:
        return self.status == InvitationStatus.PENDING and self.expires_at > (at or timezone.now())


# --- The staff second factor -----------------------------------------------------------------------


def _new_totp_secret() -> bytes:
    return secrets.token_bytes(20)


class StaffTOTPDevice(EncryptedModel, TimestampMixin, ThrottlingMixin, Device):
    """A staff member's TOTP authenticator (RFC 6238), its shared secret SM4-GCM encrypted at rest.

    django-otp's own TOTPDevice keeps the secret as plain hex in its table; GB/T 39786 asks that
    authentication secrets be stored under cryptographic protection, so the secret lives in an
    encrypted field bound to this row. Verification follows django-otp's TOTPDevice: a code is
    accepted once (last_t), within `tolerance` steps, with drift tracking and throttling.
    """

    secret = EncryptedBinaryField("共享密钥", default=_new_totp_secret)
    step = models.PositiveSmallIntegerField(default=30)
    t0 = models.BigIntegerField(default=0)
    digits = models.PositiveSmallIntegerField(choices=[(6, 6), (8, 8)], default=6)
    tolerance = models.PositiveSmallIntegerField(default=1)
    drift = models.SmallIntegerField(default=0)
    last_t = models.BigIntegerField(default=-1)

    class Meta(Device.Meta):
        verbose_name = "动态口令设备"
        verbose_name_plural = "动态口令设备"

    @property
    def bin_key(self) -> bytes:
        return bytes(self.secret)

    def totp(self) -> TOTP:
        totp = TOTP(self.bin_key, self.step, self.t0, self.digits, self.drift)
        totp.time = time.time()
        return totp

    def verify_token(self, token: Any) -> bool:
        allowed, _reason = self.verify_is_allowed()
        if not allowed:
            return False
        try:
            value = int(token)
        except (TypeError, ValueError):
            verified = False
        else:
            totp = self.totp()
            verified = bool(totp.verify(value, self.tolerance, self.last_t + 1))
            if verified:
                self.last_t = totp.t()
                self.drift = totp.drift
                self.throttle_reset(commit=False)
                self.set_last_used_timestamp(commit=False)
                self.save()
        if not verified:
            self.throttle_increment(commit=True)
        return verified

    def get_throttle_factor(self) -> int:
        return int(getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1))

    @property
    def config_url(self) -> str:
        """The otpauth:// URI an authenticator app scans (Key Uri Format)."""
        issuer = str(getattr(settings, "OTP_TOTP_ISSUER", "") or "").replace(":", "")
        label = f"{issuer}:{self.user.get_username()}" if issuer else str(self.user.get_username())
        params = urlencode({"secret": b32encode(self.bin_key).decode(), "algorithm": "SHA1",
                            "digits": self.digits, "period": self.step})
        if issuer:
            params += f"&issuer={quote(issuer)}"
        return f"otpauth://totp/{quote(label)}?{params}"
