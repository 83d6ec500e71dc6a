"""Only audit admins read the log; nobody adds, changes or deletes through the admin."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from tongban.audit.actions import Action
from tongban.audit.models import AuditCheckpoint, AuditEntry
from tongban.audit.selectors import audit_entries_for, can_read_audit
from tongban.audit.services import Actor, audit_record

pytestmark = pytest.mark.django_db


def _staff(**roles):
    from tongban.accounts.models import User

    return User.objects.create(username=f"u{len(roles)}{sorted(roles)}", kind="staff", **roles)


def test_only_the_audit_admin_reads():
    auditor = _staff(role_audit_admin=True)
    sysadmin = _staff(role_system_admin=True)
    secadmin = _staff(role_security_admin=True)
    assert can_read_audit(auditor)
    assert not can_read_audit(sysadmin)
    assert not can_read_audit(secadmin)
    assert not can_read_audit(AnonymousUser())
    assert not can_read_audit(None)
    auditor.is_active = False
    assert not can_read_audit(auditor)


def test_admin_is_read_only_for_everyone():
    auditor = _staff(role_audit_admin=True)
    sysadmin = _staff(role_system_admin=True)
    audit_record(action=Action.CONFIG_CHANGE, actor=Actor.system("tests"))
    for model in (AuditEntry, AuditCheckpoint):
        model_admin = admin.site._registry[model]
        for user in (auditor, sysadmin):
            request = RequestFactory().get("/admin/")
            request.user = user
            assert not model_admin.has_add_permission(request)
            assert not model_admin.has_change_permission(request)
            assert not model_admin.has_delete_permission(request)
            assert model_admin.has_view_permission(request) is (user is auditor)
            assert model_admin.has_module_permission(request) is (user is auditor)
    assert audit_entries_for(sysadmin).count() == 0
    assert audit_entries_for(auditor).count() >= 1


def test_auditor_reading_the_list_is_audited(client):
    auditor = _staff(role_audit_admin=True)
    request = RequestFactory().get("/admin/audit/auditentry/")
    request.user = auditor
    request.request_id = "req-auditread-1"
    model_admin = admin.site._registry[AuditEntry]
    model_admin._audit_read(request, None)
    entry = AuditEntry.objects.get(action=Action.AUDIT_READ)
    assert (entry.actor_type, entry.actor_id) == ("user", str(auditor.pk))
