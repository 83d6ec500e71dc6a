"""Reads of the catalog: published items for the portal, search and the case engine; scoped lists and the
field-by-field diff for the back office."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from tongban.accounts.regions import region_prefix
from tongban.accounts.roles import StaffRole
from tongban.catalog.models import (
    CONTENT_FIELDS,
    BasicItem,
    CatalogChange,
    Implementation,
    ImplementationVersion,
    Organisation,
    VersionStatus,
)

CATALOG_ROLES = (StaffRole.CATALOG_EDITOR, StaffRole.CATALOG_REVIEWER)


# -- public reads (no personal data; anyone may read a published item)

def published_versions() -> QuerySet[ImplementationVersion]:
    """Every version citizens see now, with its implementation, body and basic item loaded."""
    return (ImplementationVersion.objects.filter(status=VersionStatus.PUBLISHED)
            .select_related("implementation", "implementation__organisation", "implementation__basic_item")
            .order_by("implementation__region_code", "implementation__department", "implementation__code"))


def published_version_by_code(code: str) -> ImplementationVersion | None:
    """The published version of the implementation with this code, or None (unknown, never or no longer published)."""
    return published_versions().filter(implementation__code=code).first()


def version_by_id(version_id: int) -> ImplementationVersion | None:
    """Any version by primary key, published or not (the case engine reads the version a case was made under)."""
    return (ImplementationVersion.objects.select_related("implementation", "implementation__organisation",
                                                         "implementation__basic_item")
            .filter(pk=version_id).first())


def published_in_region(region_code: str) -> QuerySet[ImplementationVersion]:
    """Items implemented inside a region or by a body above it (a province's items serve its cities)."""
    prefix = region_prefix(region_code)
    above = [region_code[:2] + "0000", region_code[:4] + "00"]
    return published_versions().filter(Q(implementation__region_code__startswith=prefix)
                                       | Q(implementation__region_code__in=above))


def published_high_frequency() -> QuerySet[ImplementationVersion]:
    return published_versions().filter(high_frequency=True)


def published_by_life_event(code: str) -> list[ImplementationVersion]:
    # A JSON list: filtered in Python, because SQLite has no JSON containment lookup (a few hundred rows).
    return [v for v in published_versions() if code in (v.life_events or [])]


def changes_since(cursor: int, *, limit: int = 500) -> list[CatalogChange]:
    """The publications and retirements after `cursor` (a `seq`; 0 for everything), oldest first.

    A local platform keeps the last `seq` it applied and asks again from there (incremental sync)."""
    return list(CatalogChange.objects.filter(seq__gt=cursor).order_by("seq")
                .select_related("implementation", "version")[:limit])


def latest_change_seq() -> int:
    last = CatalogChange.objects.order_by("-seq").values_list("seq", flat=True).first()
    return int(last or 0)


def organisations() -> QuerySet[Organisation]:
    return Organisation.objects.select_related("parent").all()


def basic_items() -> QuerySet[BasicItem]:
    return BasicItem.objects.all()


# -- back office (scoped to the staff member's department and region)

def catalog_role(user: Any) -> StaffRole | None:
    if user is None or not getattr(user, "is_authenticated", False) or not hasattr(user, "has_role"):
        return None
    for role in CATALOG_ROLES:
        if user.has_role(role) and user.department and user.region_code:
            return role
    return None


def implementations_for_staff(user: Any) -> QuerySet[Implementation]:
    """The implementations a catalog editor or reviewer may see: their department, inside their region."""
    if catalog_role(user) is None:
        return Implementation.objects.none()
    return (Implementation.objects.filter(department=user.department,
                                          region_code__startswith=region_prefix(user.region_code))
            .select_related("basic_item", "organisation", "published_version"))


def implementation_for_staff(user: Any, code: str) -> Implementation | None:
    return implementations_for_staff(user).filter(code=code).first()


def versions_of(implementation: Implementation) -> QuerySet[ImplementationVersion]:
    return implementation.versions.select_related("created_by", "updated_by", "submitted_by",
                                                  "reviewed_by").order_by("-number")


def open_version(implementation: Implementation) -> ImplementationVersion | None:
    """The draft or submitted version of an implementation, if any (there is at most one)."""
    return implementation.versions.filter(status__in=[VersionStatus.DRAFT, VersionStatus.SUBMITTED]).first()


def versions_awaiting_review(user: Any) -> QuerySet[ImplementationVersion]:
    if catalog_role(user) is not StaffRole.CATALOG_REVIEWER:
        return ImplementationVersion.objects.none()
    return (ImplementationVersion.objects.filter(status=VersionStatus.SUBMITTED,
                                                 implementation__in=implementations_for_staff(user))
            .select_related("implementation").order_by("submitted_at"))


def field_label(name: str) -> str:
    """The Chinese label of a version's field (for the diff, the form and the import report)."""
    field = ImplementationVersion._meta.get_field(name)
    return str(getattr(field, "verbose_name", name))


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    old: Any
    new: Any


def version_diff(old: ImplementationVersion | None, new: ImplementationVersion) -> list[FieldChange]:
    """The content fields that differ between two versions, in the model's order (all of them when old is None)."""
    changes: list[FieldChange] = []
    for name in CONTENT_FIELDS:
        before = getattr(old, name) if old is not None else None
        after = getattr(new, name)
        if before != after:
            label = field_label(name)
            changes.append(FieldChange(name, label, before, after))
    return changes


def version_before(version: ImplementationVersion) -> ImplementationVersion | None:
    """The version a draft or submission is compared with: the published one, else the one before it."""
    published = (ImplementationVersion.objects.filter(implementation_id=version.implementation_id,
                                                      status=VersionStatus.PUBLISHED)
                 .exclude(pk=version.pk).first())
    if published is not None:
        return published
    return (ImplementationVersion.objects.filter(implementation_id=version.implementation_id,
                                                 number__lt=version.number).order_by("-number").first())
