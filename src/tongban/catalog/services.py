"""Writes to the catalog: implementations and the life cycle of their versions.

draft → submitted → published → retired; a submitted version can be sent back to draft. Only a draft is
edited. Publishing is done by a reviewer who neither created, edited nor submitted the version (four eyes),
after the content rules (`validation`) and the hooks other apps registered (`application`) pass. Every
change writes an audit entry in the same transaction. `actor=None` is the system (the data-file loader
run by an operator), audited as such.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.http import HttpRequest

from tongban.accounts.regions import region_covers
from tongban.accounts.roles import StaffRole
from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.catalog.application import publish_problems
from tongban.catalog.models import (
    CONTENT_FIELDS,
    BasicItem,
    CatalogChange,
    CatalogSequence,
    ChangeKind,
    Implementation,
    ImplementationVersion,
    Organisation,
    VersionStatus,
)
from tongban.catalog.validation import Errors, content_errors
from tongban.core import clock
from tongban.core.errors import TongbanError


class CatalogValidationError(TongbanError):
    """The content breaks rules: `field_errors` maps each field to its messages."""

    def __init__(self, field_errors: Errors) -> None:
        self.field_errors = field_errors
        super().__init__("catalog_invalid",
                         details=[{"field": f, "message": m} for f, msgs in field_errors.items() for m in msgs])


def _actor(actor: Any, request: HttpRequest | None, component: str = "catalog") -> Actor:
    if actor is None:
        return Actor.system(component)
    return Actor.user(actor)


def _user(actor: Any) -> Any:
    return actor if actor is not None and getattr(actor, "is_authenticated", False) else None


def can_act_on(user: Any, implementation: Implementation, role: StaffRole) -> bool:
    """A catalog editor or reviewer acts on the items of their own department inside their region."""
    if user is None or not hasattr(user, "has_role") or not user.has_role(role):
        return False
    return user.department == implementation.department and region_covers(user.region_code,
                                                                           implementation.region_code)


def _require(actor: Any, implementation: Implementation, role: StaffRole) -> None:
    # None is the system (the operator's loader). Not allowed looks the same as not found (STYLE 6).
    if actor is not None and not can_act_on(actor, implementation, role):
        raise TongbanError("not_found")


def _lock_version(version: ImplementationVersion) -> ImplementationVersion:
    Implementation.objects.select_for_update().filter(pk=version.implementation_id).first()
    return ImplementationVersion.objects.select_for_update().select_related("implementation").get(pk=version.pk)


def _normalised(content: dict[str, Any]) -> dict[str, Any]:
    out = dict(content)
    for key in ("name", "name_tc", "visits_reason", "result_name", "result_sample", "fee_basis"):
        if isinstance(out.get(key), str):
            out[key] = out[key].strip()
    return out


def _validate(content: dict[str, Any]) -> None:
    errors = content_errors(content)
    if errors:
        raise CatalogValidationError(errors)


def _audit(action: Action, actor: Any, version: ImplementationVersion, request: HttpRequest | None,
           **details: Any) -> None:
    audit_record(action=action, actor=_actor(actor, request), request=request,
                 subject=Subject("catalog.version", version.pk),
                 details={"implementation": version.implementation.code, "number": version.number, **details})


def default_content(**overrides: Any) -> dict[str, Any]:
    """The content of a new, empty version (the model's defaults) with `overrides` applied."""
    blank = ImplementationVersion()
    content = {name: getattr(blank, name) for name in CONTENT_FIELDS}
    content.update(overrides)
    return content


def change_record(version: ImplementationVersion, kind: ChangeKind) -> CatalogChange:
    """Number a publication or retirement in the sync feed (call inside the transaction that makes it)."""
    sequence = CatalogSequence.objects.select_for_update().filter(pk=1).first()
    if sequence is None:
        CatalogSequence.objects.get_or_create(pk=1)
        sequence = CatalogSequence.objects.select_for_update().get(pk=1)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return CatalogChange.objects.create(seq=sequence.last, implementation_id=version.implementation_id,
                                        version=version, kind=kind)


@transaction.atomic
def implementation_create(*, actor: Any, code: str, basic_item: BasicItem, organisation: Organisation,
                          region_code: str, content: dict[str, Any],
                          request: HttpRequest | None = None) -> ImplementationVersion:
    """A new implementation with its first version as a draft."""
    full = _normalised(default_content(**content))
    _validate(full)
    implementation = Implementation(code=code, basic_item=basic_item, organisation=organisation,
                                    region_code=region_code, department=basic_item.department)
    _require(actor, implementation, StaffRole.CATALOG_EDITOR)
    implementation.save()
    user = _user(actor)
    version = ImplementationVersion.objects.create(implementation=implementation, number=1, created_by=user,
                                                   updated_by=user, **full)
    audit_record(action=Action.CATALOG_ITEM_CREATE, actor=_actor(actor, request), request=request,
                 subject=Subject("catalog.implementation", implementation.pk),
                 details={"implementation": code, "basic_item": basic_item.code, "region_code": region_code})
    return version


@transaction.atomic
def version_draft_new(*, actor: Any, implementation: Implementation,
                      request: HttpRequest | None = None) -> ImplementationVersion:
    """A new draft copying the latest version's content; at most one unpublished version at a time."""
    _require(actor, implementation, StaffRole.CATALOG_EDITOR)
    Implementation.objects.select_for_update().filter(pk=implementation.pk).first()
    versions = ImplementationVersion.objects.filter(implementation=implementation)
    if versions.filter(status__in=[VersionStatus.DRAFT, VersionStatus.SUBMITTED]).exists():
        raise TongbanError("catalog_open_version")
    latest = versions.order_by("-number").first()
    content = latest.content() if latest is not None else default_content()
    user = _user(actor)
    version = ImplementationVersion.objects.create(
        implementation=implementation, number=(latest.number + 1) if latest else 1,
        created_by=user, updated_by=user, **content)
    _audit(Action.CATALOG_VERSION_CREATE, actor, version, request,
           based_on=latest.number if latest else None)
    return version


@transaction.atomic
def version_update(*, actor: Any, version: ImplementationVersion, changes: dict[str, Any],
                   request: HttpRequest | None = None) -> ImplementationVersion:
    """Change a draft's content. The whole content must pass the rules; nothing is saved otherwise."""
    locked = _lock_version(version)
    _require(actor, locked.implementation, StaffRole.CATALOG_EDITOR)
    if locked.status != VersionStatus.DRAFT:
        raise TongbanError("catalog_state", message_zh="只能修改草稿；已提交、已发布或已停用的版本不能修改，请新建版本。")
    unknown = set(changes) - set(CONTENT_FIELDS)
    if unknown:
        raise CatalogValidationError({key: ["未知字段。"] for key in sorted(unknown)})
    old = locked.content()
    new = _normalised({**old, **changes})
    _validate(new)
    changed = [name for name in CONTENT_FIELDS if old[name] != new[name]]
    if not changed:
        return locked
    for name in changed:
        setattr(locked, name, new[name])
    locked.updated_by = _user(actor)
    locked.updated_at = clock.now()
    locked.save(update_fields=[*changed, "updated_by", "updated_at"])
    _audit(Action.CATALOG_VERSION_EDIT, actor, locked, request, fields=changed)
    return locked


@transaction.atomic
def version_submit(*, actor: Any, version: ImplementationVersion,
                   request: HttpRequest | None = None) -> ImplementationVersion:
    locked = _lock_version(version)
    _require(actor, locked.implementation, StaffRole.CATALOG_EDITOR)
    if locked.status != VersionStatus.DRAFT:
        raise TongbanError("catalog_state")
    _validate(locked.content())
    locked.status = VersionStatus.SUBMITTED
    locked.submitted_by = _user(actor)
    locked.submitted_at = clock.now()
    locked.save(update_fields=["status", "submitted_by", "submitted_at"])
    _audit(Action.CATALOG_VERSION_SUBMIT, actor, locked, request)
    return locked


def _four_eyes(actor: Any, version: ImplementationVersion) -> None:
    if actor is None:
        return
    editors = {version.created_by_id, version.updated_by_id, version.submitted_by_id} - {None}
    if actor.pk in editors:
        raise TongbanError("catalog_four_eyes")


@transaction.atomic
def version_reject(*, actor: Any, version: ImplementationVersion, note: str,
                   request: HttpRequest | None = None) -> ImplementationVersion:
    """Send a submitted version back to its editors, saying why."""
    locked = _lock_version(version)
    _require(actor, locked.implementation, StaffRole.CATALOG_REVIEWER)
    if locked.status != VersionStatus.SUBMITTED:
        raise TongbanError("catalog_state")
    _four_eyes(actor, locked)
    if not note.strip():
        raise CatalogValidationError({"review_note": ["退回时须写明退回理由。"]})
    locked.status = VersionStatus.DRAFT
    locked.review_note = note.strip()[:500]
    locked.submitted_by = None
    locked.submitted_at = None
    locked.save(update_fields=["status", "review_note", "submitted_by", "submitted_at"])
    _audit(Action.CATALOG_VERSION_REJECT, actor, locked, request)
    return locked


@transaction.atomic
def version_publish(*, actor: Any, version: ImplementationVersion, note: str = "",
                    request: HttpRequest | None = None) -> ImplementationVersion:
    """Publish a submitted version; the version it replaces is retired. Cases keep their own version."""
    locked = _lock_version(version)
    implementation = locked.implementation
    _require(actor, implementation, StaffRole.CATALOG_REVIEWER)
    if locked.status != VersionStatus.SUBMITTED:
        raise TongbanError("catalog_state", message_zh="只能发布已提交审核的版本。")
    _four_eyes(actor, locked)
    _validate(locked.content())
    problems = publish_problems(locked)
    if problems:
        raise CatalogValidationError({"application_form": problems})
    now = clock.now()
    previous = ImplementationVersion.objects.filter(implementation=implementation,
                                                    status=VersionStatus.PUBLISHED).first()
    if previous is not None:
        previous.status = VersionStatus.RETIRED
        previous.retired_at = now
        previous.save(update_fields=["status", "retired_at"])
    locked.status = VersionStatus.PUBLISHED
    locked.reviewed_by = _user(actor)
    locked.review_note = note.strip()[:500]
    locked.published_at = now
    locked.save(update_fields=["status", "reviewed_by", "review_note", "published_at"])
    implementation.published_version = locked
    implementation.updated_at = now
    implementation.save(update_fields=["published_version", "updated_at"])
    change_record(locked, ChangeKind.PUBLISHED)
    _audit(Action.CATALOG_VERSION_PUBLISH, actor, locked, request,
           replaces=previous.number if previous else None)
    return locked


@transaction.atomic
def version_retire(*, actor: Any, version: ImplementationVersion, note: str = "",
                   request: HttpRequest | None = None) -> ImplementationVersion:
    """Withdraw a published version: the item is no longer offered until a new version is published."""
    locked = _lock_version(version)
    implementation = locked.implementation
    _require(actor, implementation, StaffRole.CATALOG_REVIEWER)
    if locked.status != VersionStatus.PUBLISHED:
        raise TongbanError("catalog_state", message_zh="只能停用已发布的版本。")
    now = clock.now()
    locked.status = VersionStatus.RETIRED
    locked.retired_at = now
    locked.save(update_fields=["status", "retired_at"])
    implementation.published_version = None
    implementation.updated_at = now
    implementation.save(update_fields=["published_version", "updated_at"])
    change_record(locked, ChangeKind.RETIRED)
    _audit(Action.CATALOG_VERSION_RETIRE, actor, locked, request, note=note.strip()[:200])
    return locked
