"""The catalog roles: department-scoped, never together, never with an administrative role."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from tests.accounts.factories import make_staff
from tongban.accounts.models import User, UserKind
from tongban.accounts.roles import StaffRole
from tongban.accounts.services import roles_validate
from tongban.core.errors import TongbanError


@pytest.mark.parametrize("other", [StaffRole.CATALOG_REVIEWER, StaffRole.SYSTEM_ADMIN, StaffRole.SECURITY_ADMIN,
                                   StaffRole.AUDIT_ADMIN, StaffRole.KEY_ADMIN])
def test_an_editor_holds_no_reviewer_or_admin_role(other):
    with pytest.raises(TongbanError) as caught:
        roles_validate([StaffRole.CATALOG_EDITOR, other], department="hukou", region_code="330100")
    assert caught.value.code == "separation_of_duties"


def test_catalog_roles_need_a_scope_and_may_go_with_the_officer_role():
    for role in (StaffRole.CATALOG_EDITOR, StaffRole.CATALOG_REVIEWER):
        with pytest.raises(TongbanError) as caught:
            roles_validate([role], department="", region_code="")
        assert caught.value.code == "invalid_staff_scope"
    assert roles_validate([StaffRole.OFFICER, StaffRole.CATALOG_REVIEWER], department="supervision",
                          region_code="440100") == {StaffRole.OFFICER, StaffRole.CATALOG_REVIEWER}


@pytest.mark.django_db
def test_the_database_refuses_what_the_service_refuses():
    with pytest.raises(IntegrityError), transaction.atomic():
        make_staff("both", StaffRole.CATALOG_EDITOR, StaffRole.CATALOG_REVIEWER, department="hukou",
                   region_code="330100", totp=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(username="noscope", kind=UserKind.STAFF, role_catalog_editor=True)
