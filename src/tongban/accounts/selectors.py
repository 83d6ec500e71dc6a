"""Reads with the actor's permissions applied: an officer sees only their department and region.

Other apps restrict what officers see with `scope_filter` and fetch one object with `get_in_scope_or_404`:

    cases = scope_filter(Case.objects.all(), request.user, region_field="region_code",
                         department_field="department")
    case = get_in_scope_or_404(Case.objects.all(), request.user, pk=case_id)

Outside the scope an object is simply not there (404, never 403), so its existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, QuerySet
from django.http import Http404

from tongban.accounts.models import User, UserKind
from tongban.accounts.regions import region_covers, region_prefix
from tongban.accounts.roles import ROLE_FIELDS, StaffRole

M = TypeVar("M", bound=Model)


@dataclass(frozen=True)
class OfficerScope:
    department: str
    region_code: str

    @property
    def region_prefix(self) -> str:
        return region_prefix(self.region_code)

    def covers(self, *, department: str, region_code: str) -> bool:
        return department == self.department and region_covers(self.region_code, region_code)


def officer_scope(user: Any) -> OfficerScope | None:
    """The officer's department and region, or None for anyone who is not an active officer."""
    if user is None or not getattr(user, "is_authenticated", False) or not isinstance(user, User):
        return None
    if not user.has_role(StaffRole.OFFICER) or not user.department or not user.region_code:
        return None
    return OfficerScope(department=user.department, region_code=user.region_code)


def officer_can_access(user: Any, *, department: str, region_code: str) -> bool:
    scope = officer_scope(user)
    return scope is not None and scope.covers(department=department, region_code=region_code)


def scope_filter(queryset: QuerySet[M], user: Any, *, region_field: str = "region_code",
                 department_field: str | None = "department") -> QuerySet[M]:
    """Only the rows inside the officer's department and region; nothing for anyone else.

    `region_field` holds a six-digit GB/T 2260 code (a lookup path such as "applicant__region_code" works);
    pass department_field=None for data that belongs to no department.
    """
    scope = officer_scope(user)
    if scope is None:
        return queryset.none()
    filters: dict[str, str] = {f"{region_field}__startswith": scope.region_prefix}
    if department_field is not None:
        filters[department_field] = scope.department
    return queryset.filter(**filters)


def get_in_scope_or_404(queryset: QuerySet[M], user: Any, *, region_field: str = "region_code",
                        department_field: str | None = "department", **lookup: Any) -> M:
    try:
        return scope_filter(queryset, user, region_field=region_field,
                            department_field=department_field).get(**lookup)
    except ObjectDoesNotExist as exc:
        raise Http404 from exc


def staff_visible_to(actor: Any) -> QuerySet[User]:
    """The staff directory: the security admin sees every staff account, an officer the officers of
    their own department and region, anyone else nobody."""
    staff = User.objects.filter(kind=UserKind.STAFF).order_by("username")
    if isinstance(actor, User) and actor.has_role(StaffRole.SECURITY_ADMIN):
        return staff
    return scope_filter(staff.filter(role_officer=True), actor)


def staff_search(actor: Any, *, department: str = "", region_code: str = "", role: str = "",
                 active: bool | None = None) -> QuerySet[User]:
    """The staff directory narrowed by department, region (a region includes the regions inside it: 330100
    finds 330106 too), role and whether the account is enabled; ordered by username."""
    staff = staff_visible_to(actor)
    if department:
        staff = staff.filter(department=department)
    if region_code:
        staff = staff.filter(region_code__startswith=region_prefix(region_code))
    if role:
        staff = staff.filter(**{ROLE_FIELDS[StaffRole(role)]: True})
    if active is not None:
        staff = staff.filter(is_active=active)
    return staff
