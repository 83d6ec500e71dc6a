"""Renaming an account (Django admin's 用户名 field) goes through accounts.services.account_username_set:
the security admin only, validated, audited with the old and the new username (a police number, no
personal data), never a raw update."""

from __future__ import annotations

import pytest

from tests.accounts.factories import login_verified, make_officer, make_staff
from tests.backoffice.test_account_shut_out import _change, _entries
from tongban.accounts import services
from tongban.accounts.models import User
from tongban.accounts.roles import StaffRole
from tongban.core.errors import TongbanError

pytestmark = pytest.mark.django_db


@pytest.fixture
def sec():
    return make_staff("sec", StaffRole.SECURITY_ADMIN)


def test_renaming_in_admin_is_audited_with_both_names(client, sec):
    officer = make_officer("o1")
    login_verified(client, sec)
    form = {**_change(officer, active=True), "username": "110001"}
    response = client.post(f"/admin/accounts/user/{officer.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:2000]
    officer.refresh_from_db()
    assert officer.username == "110001"
    (entry,) = _entries(officer, "username_changed")
    assert entry.action == "account.username.change" and entry.actor_id == str(sec.pk)
    assert entry.details["old"] == {"username": "o1"} and entry.details["new"] == {"username": "110001"}


def test_a_taken_or_invalid_name_is_refused_and_nothing_changes(sec):
    officer, other = make_officer("o1"), make_officer("o2")
    for bad, code in (("o2", "conflict"), ("has space", "validation_error"), ("x" * 151, "validation_error")):
        with pytest.raises(TongbanError) as refused:
            services.account_username_set(actor=sec, user=officer, username=bad)
        assert refused.value.code == code
    assert User.objects.get(pk=officer.pk).username == "o1" and User.objects.get(pk=other.pk).username == "o2"
    assert _entries(officer, "username_changed") == []


def test_only_the_security_admin_renames(sec):
    officer, sysadmin = make_officer("o1"), make_staff("sys", StaffRole.SYSTEM_ADMIN)
    with pytest.raises(TongbanError):
        services.account_username_set(actor=sysadmin, user=officer, username="110002")
    assert User.objects.get(pk=officer.pk).username == "o1"
    services.account_username_set(actor=None, user=officer, username="110002")  # the operator at the console
    (entry,) = _entries(officer, "username_changed")
    assert entry.actor_type == "system" and entry.actor_id.startswith("cli:")
