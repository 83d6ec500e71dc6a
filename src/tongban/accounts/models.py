"""Accounts: one user table for citizens and staff; staff carry their roles and their scope.

No personal data here: staff sign in with a username such as the police number (警号); citizens'
identity fields arrive, field-encrypted, with the identity issue.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tongban.accounts.roles import CONFLICTS, ROLE_FIELDS, Department, StaffRole


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
        """There is no all-powerful account (三权分立): `createsuperuser` makes a system admin."""
        extra.update(kind=UserKind.STAFF, role_system_admin=True, is_superuser=False, must_change_password=True)
        return self.create_user(username, password, **extra)


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
                                help_text="工作人员使用警号等工号，不使用身份证号、手机号等个人信息。")
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
    department = models.CharField("部门警种", max_length=32, choices=Department.choices, blank=True)
    region_code = models.CharField("辖区代码", max_length=6, blank=True,
                                   help_text="GB/T 2260 行政区划代码：省 330000、市 330100、区县 330106")

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
