"""Authentication with lockout, and Django permissions derived from staff roles only.

Groups, per-user permissions and superusers are not used: what an administrator may touch in Django
admin follows from the role (tongban.accounts.roles.ROLE_ADMIN_APPS), so separation of duties cannot be
undone by ticking a permission box.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission
from django.http import HttpRequest

from tongban.accounts.lockout import address_blocked, login_failure_record, login_locked, login_success_record
from tongban.accounts.models import UserKind
from tongban.accounts.roles import ROLE_ADMIN_APPS
from tongban.core.security import client_ip

# Why the last authenticate() on this request returned None, for the login pages to word their answer.
REFUSAL_ATTR = "tongban_login_refusal"


class TongbanBackend(ModelBackend):
    def authenticate(self, request: HttpRequest | None, username: str | None = None,
                     password: str | None = None, **kwargs: Any) -> Any:
        if username is None or password is None:
            return None
        User = get_user_model()
        ip = client_ip(request) if request is not None else "-"
        user = User._default_manager.filter(username=username).first()
        if address_blocked(ip) or login_locked(username, user):
            User().set_password(password)  # the same work as a real check, so timing tells nothing
            if request is not None:
                setattr(request, REFUSAL_ATTR, "locked")
            from tongban.accounts.events import SecurityEvent, record_security_event, username_digest

            record_security_event(SecurityEvent.LOGIN_REFUSED, user=user, request=request, outcome="refused",
                                  details={"username_digest": username_digest(username)})
            return None
        if user is None:
            User().set_password(password)
            ok = False
        else:
            ok = user.check_password(password) and self.user_can_authenticate(user)
        if user is None or not ok:
            locked = login_failure_record(username=username, ip=ip, user=user, request=request)
            if request is not None:
                setattr(request, REFUSAL_ATTR, "locked" if locked else "bad_credentials")
            return None
        if getattr(user, "kind", None) != UserKind.STAFF:
            login_success_record(username=username, user=user)
        # A staff password is half a sign-in: the failures counted so far (wrong passwords and wrong
        # second-factor codes) stand until the second factor succeeds too (backoffice.views.login_totp
        # calls login_success_record then). Clearing them here would let rounds of the right password and
        # four wrong codes go on for ever without a lock.
        return user

    # Permissions: from roles, never from groups, user permissions or a superuser flag.
    def get_user_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if getattr(user_obj, "kind", None) != "staff":
            return set()
        cached = getattr(user_obj, "_tongban_role_perms", None)
        if cached is None:
            cached = role_permissions(user_obj.roles)
            user_obj._tongban_role_perms = cached
        return set(cached)

    def get_group_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return self.get_user_permissions(user_obj, obj)

    def with_perm(self, *args: Any, **kwargs: Any) -> Any:
        return get_user_model()._default_manager.none()


def role_permissions(roles: frozenset[Any]) -> frozenset[str]:
    """The Django permission names ("app.codename") a set of roles grants."""
    wanted: dict[str, str] = {}
    for role in roles:
        for app, level in ROLE_ADMIN_APPS.get(role, {}).items():
            if wanted.get(app) != "all":
                wanted[app] = level
    if not wanted:
        return frozenset()
    rows = Permission.objects.filter(content_type__app_label__in=list(wanted)).values_list(
        "content_type__app_label", "codename")
    return frozenset(f"{app}.{codename}" for app, codename in rows
                     if wanted[app] == "all" or codename.startswith("view_"))
