"""Password policy: complexity (length and character classes), history, and expiry for staff.

The validators sit in AUTH_PASSWORD_VALIDATORS, so every path that validates a password (the back
office, admin, `tongban staff`, later citizen registration) applies them. Figures come from
TONGBAN_SECURITY (config/env.py) unless a validator is given OPTIONS.
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any

from django.contrib.auth import password_validation
from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _

from tongban.accounts.conf import security


def _is_staff(user: Any) -> bool:
    return getattr(user, "kind", None) == "staff"


def character_classes(password: str) -> int:
    """How many of lower case, upper case, digits and other characters the password uses."""
    return sum((
        any(c in string.ascii_lowercase for c in password),
        any(c in string.ascii_uppercase for c in password),
        any(c.isdigit() for c in password),
        any(not (c.isascii() and c.isalnum()) for c in password),
    ))


class ComplexityValidator:
    """At least `min_classes` of the four character classes; staff passwords also a minimum length."""

    def __init__(self, min_classes: int | None = None, staff_min_length: int | None = None) -> None:
        self._min_classes = min_classes
        self._staff_min_length = staff_min_length

    @property
    def min_classes(self) -> int:
        return self._min_classes if self._min_classes is not None else security().password_min_classes

    @property
    def staff_min_length(self) -> int:
        return self._staff_min_length if self._staff_min_length is not None else security().staff_password_min_length

    def validate(self, password: str, user: Any = None) -> None:
        errors: list[ValidationError] = []
        if _is_staff(user) and len(password) < self.staff_min_length:
            errors.append(ValidationError(_("工作人员密码至少 %(n)d 位。") % {"n": self.staff_min_length},
                                          code="password_too_short_staff"))
        if character_classes(password) < self.min_classes:
            errors.append(ValidationError(
                _("密码须包含小写字母、大写字母、数字、符号中的至少 %(n)d 类。") % {"n": self.min_classes},
                code="password_too_simple"))
        if errors:
            raise ValidationError(errors)

    def get_help_text(self) -> str:
        return _("密码须包含小写字母、大写字母、数字、符号中的至少 %(n)d 类；工作人员密码至少 %(m)d 位。") % {
            "n": self.min_classes, "m": self.staff_min_length}


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """Django's, with its message in this project's catalogs: Django's own Simplified Chinese catalog lacks
    the plural "too short" message, so it was shown in English."""

    def get_error_message(self) -> str:
        return _("密码太短，至少需要 %(min_length)d 个字符。") % {"min_length": self.min_length}

    def get_help_text(self) -> str:
        return _("密码至少需要 %(min_length)d 个字符。") % {"min_length": self.min_length}


class HistoryValidator:
    """The last N passwords (the current one included) may not be used again."""

    def __init__(self, count: int | None = None) -> None:
        self._count = count

    @property
    def count(self) -> int:
        return self._count if self._count is not None else security().password_history

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or getattr(user, "pk", None) is None or self.count <= 0:
            return
        from tongban.accounts.models import PasswordHistory

        recent = PasswordHistory.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")
        hashes = list(recent.values_list("password", flat=True)[: self.count])
        if user.password and user.has_usable_password():
            hashes.append(user.password)
        if any(check_password(password, encoded) for encoded in hashes):
            raise ValidationError(_("新密码不能与最近 %(count)s 次使用过的密码相同。") % {"count": self.count},
                                  code="password_reused")

    def password_changed(self, password: str, user: Any = None) -> None:
        """Called by Django after a new password is saved: remember its hash, forget the oldest."""
        if user is None or getattr(user, "pk", None) is None or not user.has_usable_password():
            return
        from tongban.accounts.models import PasswordHistory

        PasswordHistory.objects.create(user_id=user.pk, password=user.password)
        keep = list(PasswordHistory.objects.filter(user_id=user.pk).order_by("-created_at", "-pk")
                    .values_list("pk", flat=True)[: max(self.count, 1)])
        PasswordHistory.objects.filter(user_id=user.pk).exclude(pk__in=keep).delete()

    def get_help_text(self) -> str:
        return _("新密码不能与最近 %(count)s 次使用过的密码相同。") % {"count": self.count}


def password_expires_at(user: Any) -> dt.datetime | None:
    """When a staff password expires (None: never, e.g. citizens or expiry switched off)."""
    days = security().staff_password_max_age_days
    if not _is_staff(user) or days <= 0:
        return None
    changed = user.password_changed_at or user.date_joined
    return changed + dt.timedelta(days=days)


def password_expired(user: Any, at: dt.datetime | None = None) -> bool:
    expires = password_expires_at(user)
    return expires is not None and expires <= (at or timezone.now())


def password_change_required(user: Any) -> bool:
    return bool(getattr(user, "must_change_password", False)) or password_expired(user)


# No look-alikes (0/O, 1/l/I) in a password someone reads out or types from a slip of paper.
_TEMPORARY_ALPHABETS = ("abcdefghijkmnpqrstuvwxyz", "ABCDEFGHJKLMNPQRSTUVWXYZ", "23456789", "-#%+=@")


def temporary_password(length: int = 16) -> str:
    """A temporary password for a new staff account or a reset: random (the secrets module), every
    character class present, at least 16 characters; its holder must change it at the first sign-in."""
    import secrets

    length = max(length, 16, security().staff_password_min_length)
    chars = [secrets.choice(alphabet) for alphabet in _TEMPORARY_ALPHABETS]
    everything = "".join(_TEMPORARY_ALPHABETS)
    chars += [secrets.choice(everything) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)
