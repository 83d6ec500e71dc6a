"""Least privilege: an officer sees and acts only inside their department and region."""

import pytest
from django.http import Http404

from tests.accounts.factories import CITY_A, CITY_B, COUNTY_A, make_citizen, make_officer, make_staff
from tongban.accounts.models import User
from tongban.accounts.regions import region_covers, region_exists, region_name, region_prefix
from tongban.accounts.roles import StaffRole
from tongban.accounts.selectors import get_in_scope_or_404, officer_can_access, scope_filter, staff_visible_to

pytestmark = pytest.mark.django_db


def test_region_tree():
    assert region_prefix("330000") == "33" and region_prefix("330100") == "3301" and region_prefix("330106") == "330106"
    assert region_covers("330000", "330106") and region_covers("330100", "330106") and region_covers("330106", "330106")
    assert not region_covers("330100", "330206")  # 宁波 is not 杭州
    assert not region_covers("330106", "330100")  # a county does not cover its city
    assert not region_covers("", "330106")
    assert region_exists("330106") and not region_exists("330199") and not region_exists("33010")
    assert region_name("330106") == "浙江省杭州市西湖区"


@pytest.fixture
def people():
    return {
        "me": make_officer("hz-hukou", "hukou", CITY_A),
        "same_county": make_officer("xh-hukou", "hukou", COUNTY_A),
        "other_dept": make_officer("hz-traffic", "traffic", COUNTY_A),
        "other_city": make_officer("nj-hukou", "hukou", CITY_B),
        "admin": make_staff("sys", StaffRole.SYSTEM_ADMIN),
    }


def _officers():
    return User.objects.filter(role_officer=True)


def test_scope_filter_keeps_only_own_department_and_region(people):
    seen = set(scope_filter(_officers(), people["me"]).values_list("username", flat=True))
    assert seen == {"hz-hukou", "xh-hukou"}


def test_county_officer_does_not_see_the_city(people):
    seen = set(scope_filter(_officers(), people["same_county"]).values_list("username", flat=True))
    assert seen == {"xh-hukou"}


def test_non_officers_see_nothing(people):
    assert not scope_filter(_officers(), people["admin"]).exists()
    assert not scope_filter(_officers(), make_citizen()).exists()
    from django.contrib.auth.models import AnonymousUser

    assert not scope_filter(_officers(), AnonymousUser()).exists()


def test_inactive_officer_sees_nothing(people):
    people["me"].is_active = False
    assert not scope_filter(_officers(), people["me"]).exists()


def test_out_of_scope_is_not_found_exactly_like_missing(people):
    me = people["me"]
    assert get_in_scope_or_404(_officers(), me, username="xh-hukou").username == "xh-hukou"
    errors = []
    for username in ("hz-traffic", "nj-hukou", "no-such-user"):
        with pytest.raises(Http404) as exc:
            get_in_scope_or_404(_officers(), me, username=username)
        errors.append((type(exc.value), exc.value.args))
    assert len(set(errors)) == 1  # other department, other city, non-existent: the same answer


def test_officer_can_access(people):
    me = people["me"]
    assert officer_can_access(me, department="hukou", region_code="330106")
    assert not officer_can_access(me, department="traffic", region_code="330106")
    assert not officer_can_access(me, department="hukou", region_code="320102")
    assert not officer_can_access(people["admin"], department="hukou", region_code="330106")


def test_department_free_data(people):
    seen = scope_filter(_officers(), people["me"], department_field=None).values_list("username", flat=True)
    assert set(seen) == {"hz-hukou", "xh-hukou", "hz-traffic"}


def test_staff_directory(people):
    sec = make_staff("sec", StaffRole.SECURITY_ADMIN)
    assert set(staff_visible_to(sec).values_list("username", flat=True)) >= {"hz-hukou", "nj-hukou", "sys"}
    assert set(staff_visible_to(people["me"]).values_list("username", flat=True)) == {"hz-hukou", "xh-hukou"}
    assert not staff_visible_to(people["admin"]).exists()
