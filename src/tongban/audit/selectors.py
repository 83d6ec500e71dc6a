"""Who may read the audit log, and what they see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tongban.audit.models import AuditEntry

AUDIT_ADMIN_ROLE = "audit_admin"


def can_read_audit(user: Any) -> bool:
    """Audit admins only (MLPS 三权分立): not the system admin, not the security admin, not a superuser
    as such. Uses the accounts app's `has_role`; an account model without roles reads nothing."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return False
    has_role = getattr(user, "has_role", None)
    if not callable(has_role):
        return False
    return bool(has_role(AUDIT_ADMIN_ROLE))


def audit_entries_for(user: Any) -> QuerySet[AuditEntry]:
    """The entries `user` may see: all of them for an audit admin, none for anyone else."""
    if not can_read_audit(user):
        return AuditEntry.objects.none()
    return AuditEntry.objects.all()
