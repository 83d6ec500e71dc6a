from typing import Any

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "tongban.accounts"
    label = "accounts"
    verbose_name = "账号与权限"

    def ready(self) -> None:
        from tongban.accounts import checks, signals  # noqa: F401  (registers checks and signal receivers)
        from tongban.crypto.services import register_key_admin_check

        register_key_admin_check(_holds_key_admin)  # crypto asks; it does not import accounts


def _holds_key_admin(user: Any) -> bool:
    from tongban.accounts.roles import StaffRole

    has_role = getattr(user, "has_role", None)
    return bool(has_role is not None and has_role(StaffRole.KEY_ADMIN))
