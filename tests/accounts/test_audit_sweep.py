"""Invariant 3 for account changes that had no entry, or not in their transaction: `createsuperuser` (the first
system admin, made at the console) and the automatic lock after too many failures."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.test import RequestFactory

from tests.accounts.factories import make_officer
from tongban.accounts.models import User
from tongban.audit.actions import Action, ActorType
from tongban.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def _boom(*args, **kwargs):
    raise RuntimeError("audit log unavailable")


def test_createsuperuser_is_audited_as_a_staff_account_made_at_the_console(monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "First-admin-2026!")
    call_command("createsuperuser", "--username", "first", "--noinput", verbosity=0)
    user = User.objects.get(username="first")
    entry = AuditEntry.objects.get(action=Action.ACCOUNT_CREATE)
    assert entry.actor_type == ActorType.SYSTEM and entry.actor_id.startswith("cli:")
    assert (entry.subject_type, entry.subject_id) == ("accounts.user", str(user.pk))
    assert entry.details["event"] == "staff_created" and entry.details["via"] == "createsuperuser"
    assert entry.details["roles"] == ["system_admin"]


def test_createsuperuser_and_its_entry_roll_back_together(monkeypatch):
    monkeypatch.setattr("tongban.audit.services.audit_record", _boom)
    with pytest.raises(RuntimeError):
        User.objects.create_superuser("second", "First-admin-2026!")
    assert not User.objects.filter(username="second").exists()


def _fail(username: str) -> None:
    request = RequestFactory().post("/backoffice/login/", REMOTE_ADDR="127.0.0.1")
    assert authenticate(request, username=username, password="wrong") is None


def test_the_automatic_lock_is_audited_with_the_row_change():
    user = make_officer("o-lock")
    for _ in range(5):
        _fail("o-lock")
    user.refresh_from_db()
    assert user.locked_until is not None
    entry = AuditEntry.objects.get(action=Action.AUTH_LOCKOUT)
    assert (entry.subject_type, entry.subject_id) == ("accounts.user", str(user.pk))
    assert entry.details["event"] == "account_locked" and "o-lock" not in str(entry.details)


def test_the_lock_and_its_entry_roll_back_together(monkeypatch):
    user = make_officer("o-lock2")
    for _ in range(4):
        _fail("o-lock2")

    def refuse_lock_entry(*args, **kwargs):
        if kwargs.get("action") == Action.AUTH_LOCKOUT:
            raise RuntimeError("audit log unavailable")
        return real(*args, **kwargs)

    import tongban.audit.services as audit_services

    real = audit_services.audit_record
    monkeypatch.setattr(audit_services, "audit_record", refuse_lock_entry)
    with pytest.raises(RuntimeError):
        _fail("o-lock2")
    user.refresh_from_db()
    assert user.locked_until is None
    assert not AuditEntry.objects.filter(action=Action.AUTH_LOCKOUT).exists()


def test_a_login_and_its_session_row_commit_together(client, monkeypatch):
    """The login's audit entry and its row in the account's session list: one transaction (accounts.signals)."""
    from tongban.accounts.models import LoginSession

    officer = make_officer("o-login")
    monkeypatch.setattr("tongban.accounts.signals.record_security_event", _boom)
    with pytest.raises(RuntimeError):
        client.force_login(officer)
    assert not LoginSession.objects.filter(user=officer).exists()


def test_a_logout_and_its_entry_commit_together(client, monkeypatch):
    from tongban.accounts.models import LoginSession

    officer = make_officer("o-logout")
    client.force_login(officer)
    assert LoginSession.objects.filter(user=officer).count() == 1
    before = AuditEntry.objects.filter(action=Action.AUTH_LOGOUT).count()
    monkeypatch.setattr("tongban.accounts.sessions.session_forget", _boom)
    with pytest.raises(RuntimeError):
        client.logout()
    assert AuditEntry.objects.filter(action=Action.AUTH_LOGOUT).count() == before  # rolled back with it
    assert LoginSession.objects.filter(user=officer).count() == 1
