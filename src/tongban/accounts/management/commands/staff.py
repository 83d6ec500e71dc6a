"""`tongban staff`: staff accounts from the console (create, roles, unlock, disable/enable, password, second
factor)."""

from __future__ import annotations

import getpass
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tongban.accounts import services
from tongban.accounts.models import User
from tongban.accounts.roles import Department, StaffRole
from tongban.core.errors import TongbanError


def _user(username: str) -> User:
    try:
        return User.objects.get(username=username)
    except User.DoesNotExist as exc:
        raise CommandError(f"没有用户名为 {username} 的账号") from exc


def _password(options: dict[str, Any]) -> str:
    if options.get("password_stdin"):
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("密码：")
    if first != getpass.getpass("再次输入："):
        raise CommandError("两次输入的密码不一致")
    return first


class Command(BaseCommand):
    help = "工作人员账号：新建、角色、解锁、停用/启用、重置密码、动态口令。"

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="新建工作人员账号（初始密码首次登录须修改）")
        create.add_argument("username")
        create.add_argument("--role", action="append", required=True, choices=StaffRole.values)
        create.add_argument("--department", default="", choices=["", *Department.values])
        create.add_argument("--region", default="", help="GB/T 2260 辖区代码，如 330100")
        create.add_argument("--password-stdin", action="store_true", help="从标准输入读取初始密码")
        roles = sub.add_parser("roles", help="设置账号的全部角色（替换原有角色）")
        roles.add_argument("username")
        roles.add_argument("--role", action="append", default=[], choices=StaffRole.values)
        roles.add_argument("--department")
        roles.add_argument("--region")
        unlock = sub.add_parser("unlock", help="解锁因登录失败被锁定的账号")
        unlock.add_argument("username")
        disable = sub.add_parser("disable", help="停用账号（立即结束其全部会话与单点登录）")
        disable.add_argument("username")
        enable = sub.add_parser("enable", help="重新启用已停用的账号")
        enable.add_argument("username")
        reset = sub.add_parser("password-reset", help="设置临时密码（下次登录须修改）")
        reset.add_argument("username")
        reset.add_argument("--password-stdin", action="store_true")
        totp_reset = sub.add_parser("totp-reset", help="删除动态口令设备（下次登录重新绑定）")
        totp_reset.add_argument("username")
        sub.add_parser("locked", help="列出当前被锁定的账号")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            getattr(self, "_" + action.replace("-", "_"))(options)
        except TongbanError as exc:
            details = "; ".join(str(d.get("message", d)) for d in exc.details or [])
            raise CommandError(exc.message("zh") + (f"（{details}）" if details else "")) from exc

    def _create(self, options: dict[str, Any]) -> None:
        user = services.staff_create(actor=None, username=options["username"], password=_password(options),
                                     roles=options["role"], department=options["department"],
                                     region_code=options["region"])
        self.stdout.write(f"已创建 {user.username}：{'、'.join(r.label for r in user.roles)}")

    def _roles(self, options: dict[str, Any]) -> None:
        user = services.staff_roles_set(actor=None, user=_user(options["username"]), roles=options["role"],
                                        department=options["department"], region_code=options["region"])
        self.stdout.write(f"{user.username} 的角色：{'、'.join(r.label for r in user.roles) or '无'}")

    def _unlock(self, options: dict[str, Any]) -> None:
        user = services.account_unlock(actor=None, user=_user(options["username"]))
        self.stdout.write(f"已解锁 {user.username}")

    def _disable(self, options: dict[str, Any]) -> None:
        user = services.account_active_set(actor=None, user=_user(options["username"]), active=False)
        self.stdout.write(f"已停用 {user.username}，其全部会话已结束")

    def _enable(self, options: dict[str, Any]) -> None:
        user = services.account_active_set(actor=None, user=_user(options["username"]), active=True)
        self.stdout.write(f"已启用 {user.username}")

    def _password_reset(self, options: dict[str, Any]) -> None:
        user = services.password_reset(actor=None, user=_user(options["username"]), new_password=_password(options))
        self.stdout.write(f"已为 {user.username} 设置临时密码，下次登录须修改")

    def _totp_reset(self, options: dict[str, Any]) -> None:
        user = _user(options["username"])
        services.totp_reset(actor=None, user=user)
        self.stdout.write(f"已重置 {user.username} 的动态口令，下次登录重新绑定")

    def _locked(self, options: dict[str, Any]) -> None:
        from django.utils import timezone

        for user in User.objects.filter(locked_until__gt=timezone.now()).order_by("username"):
            self.stdout.write(f"{user.username}\t锁定至 {timezone.localtime(user.locked_until):%Y-%m-%d %H:%M}")
