"""Separation of duties: the three administrators never one person, the key admin not the auditor,
officers hold no administrative role; checked by the service and by the database."""

import io

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction

from tests.accounts.factories import CITY_A, make_citizen, make_officer, make_staff
from tongban.accounts import services
from tongban.accounts.backends import role_permissions
from tongban.accounts.models import User
from tongban.accounts.roles import CONFLICTS, ROLE_FIELDS, StaffRole, role_conflicts
from tongban.core.errors import TongbanError

pytestmark = pytest.mark.django_db

S, SEC, AUD, KEY, OFF = (StaffRole.SYSTEM_ADMIN, StaffRole.SECURITY_ADMIN, StaffRole.AUDIT_ADMIN,
                         StaffRole.KEY_ADMIN, StaffRole.OFFICER)


@pytest.fixture
def secadmin():
    return make_staff("sec1", SEC)


@pytest.mark.parametrize("pair", [(S, SEC), (S, AUD), (SEC, AUD), (KEY, AUD), (OFF, S), (OFF, KEY)])
def test_service_refuses_separated_duties(secadmin, pair):
    target = make_staff("target", pair[0], department="hukou" if OFF in pair else "",
                        region_code=CITY_A if OFF in pair else "")
    with pytest.raises(TongbanError) as exc:
        services.staff_roles_set(actor=secadmin, user=target, roles=pair, department="hukou", region_code=CITY_A)
    assert exc.value.code == "separation_of_duties"
    assert exc.value.http_status() == 409
    target.refresh_from_db()
    assert target.roles == {pair[0]}


@pytest.mark.parametrize("pair", sorted(tuple(sorted(p)) for p in CONFLICTS))
def test_database_refuses_every_conflicting_pair(pair):
    user = User(username="both", kind="staff", department="hukou", region_code=CITY_A)
    for role in pair:
        setattr(user, ROLE_FIELDS[StaffRole(role)], True)
    with pytest.raises(IntegrityError), transaction.atomic():
        user.save()


def test_the_three_duties_and_key_audit_are_conflicts():
    assert role_conflicts({S, SEC, AUD}) == [(S, SEC), (S, AUD), (SEC, AUD)]
    assert role_conflicts({KEY, AUD}) == [(AUD, KEY)]
    assert role_conflicts({S, KEY}) == []  # allowed: the key admin is apart from the auditor only


def test_allowed_combination_saves(secadmin):
    target = make_staff("sys1", S)
    services.staff_roles_set(actor=secadmin, user=target, roles=[S, KEY])
    target.refresh_from_db()
    assert target.roles == {S, KEY}


def test_citizen_holds_no_role_in_the_database():
    citizen = make_citizen()
    User.objects.filter(pk=citizen.pk)
    citizen.role_officer = True
    citizen.department, citizen.region_code = "hukou", CITY_A
    with pytest.raises(IntegrityError), transaction.atomic():
        citizen.save()


def test_officer_needs_a_scope_in_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="o", kind="staff", role_officer=True)


def test_no_superuser_in_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="root", kind="staff", is_superuser=True)


def test_createsuperuser_makes_a_system_admin_only():
    user = User.objects.create_superuser("first", "First-admin-2026!")
    assert user.roles == {S} and not user.is_superuser and user.must_change_password


def test_service_refuses_bad_scope(secadmin):
    with pytest.raises(TongbanError) as exc:
        services.staff_create(actor=secadmin, username="o2", password="Officer-pass-2026", roles=[OFF],
                              department="hukou", region_code="999999")
    assert exc.value.code == "invalid_staff_scope"
    with pytest.raises(TongbanError):
        services.staff_create(actor=secadmin, username="o2", password="Officer-pass-2026", roles=[OFF],
                              department="nope", region_code=CITY_A)


def test_only_the_security_admin_grants_roles_and_never_to_self(secadmin):
    sysadmin = make_staff("sys1", S)
    officer = make_officer("o1")
    with pytest.raises(TongbanError) as exc:
        services.staff_roles_set(actor=sysadmin, user=officer, roles=[OFF])
    assert exc.value.code == "not_found"
    with pytest.raises(TongbanError) as exc:
        services.staff_roles_set(actor=secadmin, user=secadmin, roles=[SEC, KEY])
    assert exc.value.code == "forbidden"


def test_staff_create_and_roles_command(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("Traffic-pass-2026\n"))
    call_command("staff", "create", "p001", "--role", "officer", "--department", "traffic", "--region", "330106",
                 "--password-stdin")
    user = User.objects.get(username="p001")
    assert user.roles == {OFF} and user.department == "traffic" and user.must_change_password
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="职责分离"):
        call_command("staff", "roles", "p001", "--role", "system_admin", "--role", "audit_admin")


def test_admin_permissions_follow_roles_only():
    assert role_permissions(frozenset({OFF})) == frozenset()
    sec = role_permissions(frozenset({SEC}))
    assert "accounts.change_user" in sec and not any(p.startswith("jobs.") for p in sec)
    system = role_permissions(frozenset({S}))
    assert "jobs.change_job" in system and not any(p.startswith("accounts.") for p in system)
    audit = role_permissions(frozenset({AUD}))
    assert all(p.split(".", 1)[1].startswith("view_") for p in audit)


def test_groups_and_user_permissions_grant_nothing():
    from django.contrib.auth.models import Permission

    officer = make_officer("o1")
    officer.user_permissions.add(Permission.objects.get(codename="change_user"))
    officer = User.objects.get(pk=officer.pk)
    assert not officer.has_perm("accounts.change_user")
    assert not officer.is_staff  # officers never reach Django admin
