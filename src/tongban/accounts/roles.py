"""Staff roles, departments and the separation of duties (MLPS 2.0 level 3: 三权分立).

Roles are few and fixed by the standard, so each is a boolean column on the user row; the database
refuses a row that combines separated duties (see `User.Meta.constraints`), and `staff_roles_set`
refuses it first with a clear message.
"""

from __future__ import annotations

from itertools import combinations

from django.db import models


class StaffRole(models.TextChoices):
    SYSTEM_ADMIN = "system_admin", "系统管理员"
    SECURITY_ADMIN = "security_admin", "安全管理员"
    AUDIT_ADMIN = "audit_admin", "审计管理员"
    KEY_ADMIN = "key_admin", "密钥管理员"
    OFFICER = "officer", "业务民警"
    CATALOG_EDITOR = "catalog_editor", "事项编辑"
    CATALOG_REVIEWER = "catalog_reviewer", "事项审核"
    SUPERVISOR = "supervisor", "好差评监督员"
    FINANCE = "finance", "财务人员"  # non-tax payments: reconciliation differences, refund approval


class Department(models.TextChoices):
    HUKOU = "hukou", "户政"
    EXIT_ENTRY = "exit_entry", "出入境"
    TRAFFIC = "traffic", "交管"
    PUBLIC_ORDER = "public_order", "治安"
    CRIMINAL = "criminal", "刑侦"
    CYBER = "cyber", "网安"
    SUPERVISION = "supervision", "监管"


# The user column that holds each role.
ROLE_FIELDS: dict[StaffRole, str] = {role: f"role_{role.value}" for role in StaffRole}

ADMIN_ROLES = frozenset({StaffRole.SYSTEM_ADMIN, StaffRole.SECURITY_ADMIN, StaffRole.AUDIT_ADMIN,
                         StaffRole.KEY_ADMIN})

# Pairs no one account may hold together. The three separated duties are pairwise exclusive; the key
# admin is not the auditor; an officer handling cases holds no administrative role (least privilege).
CONFLICTS: frozenset[frozenset[StaffRole]] = frozenset(
    {frozenset(pair) for pair in combinations(
        (StaffRole.SYSTEM_ADMIN, StaffRole.SECURITY_ADMIN, StaffRole.AUDIT_ADMIN), 2)}
    | {frozenset({StaffRole.KEY_ADMIN, StaffRole.AUDIT_ADMIN})}
    | {frozenset({StaffRole.OFFICER, admin}) for admin in ADMIN_ROLES}
    # Catalog work is business work (least privilege), and four eyes: who edits items does not publish them.
    | {frozenset({StaffRole.CATALOG_EDITOR, admin}) for admin in ADMIN_ROLES}
    | {frozenset({StaffRole.CATALOG_REVIEWER, admin}) for admin in ADMIN_ROLES}
    | {frozenset({StaffRole.CATALOG_EDITOR, StaffRole.CATALOG_REVIEWER})}
    # The evaluation supervisor visits back and verifies bad reviews of others' work: never an officer who
    # handles cases (so never the handler), and no administrative role.
    | {frozenset({StaffRole.SUPERVISOR, admin}) for admin in ADMIN_ROLES}
    | {frozenset({StaffRole.SUPERVISOR, StaffRole.OFFICER})}
    # Money is business work too: finance staff hold no administrative role.
    | {frozenset({StaffRole.FINANCE, admin}) for admin in ADMIN_ROLES}
)

# Roles that act inside one department and region (a scope is required).
SCOPED_ROLES = frozenset({StaffRole.OFFICER, StaffRole.CATALOG_EDITOR, StaffRole.CATALOG_REVIEWER,
                          StaffRole.SUPERVISOR})


def role_conflicts(roles: set[StaffRole] | frozenset[StaffRole]) -> list[tuple[StaffRole, StaffRole]]:
    """The conflicting pairs inside `roles`, in a stable order (empty when the set is allowed)."""
    order = list(StaffRole)
    found: list[tuple[StaffRole, StaffRole]] = []
    for pair in CONFLICTS:
        if pair <= set(roles):
            first, second = sorted(pair, key=order.index)
            found.append((first, second))
    return sorted(found, key=lambda p: (order.index(p[0]), order.index(p[1])))


# What each administrative role may do in Django admin (the configuration screens), by app label.
# Fail closed: an app not listed here is reachable by no role; add each new app's label deliberately.
# "view" grants only the view_* permissions.
ROLE_ADMIN_APPS: dict[StaffRole, dict[str, str]] = {
    StaffRole.SYSTEM_ADMIN: {"jobs": "all", "partners": "all", "sso": "all"},
    StaffRole.SECURITY_ADMIN: {"accounts": "all", "partners": "view"},
    StaffRole.AUDIT_ADMIN: {"audit": "view"},
    StaffRole.KEY_ADMIN: {"crypto": "all"},
    StaffRole.OFFICER: {},
    StaffRole.CATALOG_EDITOR: {},
    StaffRole.CATALOG_REVIEWER: {},
    StaffRole.SUPERVISOR: {},
    StaffRole.FINANCE: {},
}
