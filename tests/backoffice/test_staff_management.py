"""Staff management on the staff site: only the security admin manages staff (a system or audit admin, or an
officer, finds the pages not there); no conflicting role set, nobody on their own account; every change
audited; a temporary password shown once and changed at the first sign-in, with TOTP enrolment."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from tests.accounts.factories import (
    CITY_A,
    CITY_B,
    COUNTY_A,
    device_of,
    login_verified,
    make_officer,
    make_staff,
    totp_code,
)
from tests.backoffice.queries import statements
from tongban.accounts import services
from tongban.accounts.models import LoginSession, StaffTOTPDevice, User
from tongban.accounts.passwords import character_classes, temporary_password
from tongban.accounts.roles import StaffRole
from tongban.audit.models import AuditEntry
from tongban.core.errors import TongbanError

pytestmark = pytest.mark.django_db


def _entries(user: User, event: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(subject_type="accounts.user", subject_id=str(user.pk),
                                          details__event=event).order_by("pk"))


@pytest.fixture
def sec():
    return make_staff("sec", StaffRole.SECURITY_ADMIN)


@pytest.fixture
def sec_client(client, sec):
    login_verified(client, sec)
    return client


def _temporary_password(body: str) -> str:
    match = re.search(r'<code id="temporary-password">([^<]+)</code>', body)
    assert match, body[:2000]
    return match.group(1).replace("&amp;", "&")


# -- who may manage -----------------------------------------------------------------------------------------

MANAGEMENT_PAGES = [
    ("get", "/backoffice/staff-create/"),
    ("post", "/backoffice/staff-create/"),
    ("get", "/backoffice/staff/o1/roles/"),
    ("post", "/backoffice/staff/o1/roles/"),
    ("get", "/backoffice/staff/o1/disable/"),
    ("post", "/backoffice/staff/o1/disable/"),
    ("post", "/backoffice/staff/o1/password/"),
    ("post", "/backoffice/staff/o1/totp/"),
    ("post", "/backoffice/staff/o1/unlock/"),
]


@pytest.mark.parametrize("role", [StaffRole.SYSTEM_ADMIN, StaffRole.AUDIT_ADMIN, StaffRole.KEY_ADMIN,
                                  StaffRole.OFFICER])
def test_only_the_security_admin_manages_staff(client, role):
    target = make_officer("o1")
    actor = make_staff("someone", role, department="hukou" if role == StaffRole.OFFICER else "",
                       region_code=CITY_A if role == StaffRole.OFFICER else "")
    login_verified(client, actor)
    missing = client.get("/backoffice/staff/nobody-here/").content
    for method, path in MANAGEMENT_PAGES:
        data = {"username": "x1", "roles": ["officer"], "department": "hukou", "region_code": CITY_A, "confirm": "on"}
        response = getattr(client, method)(path, data)
        assert response.status_code == 404, (role, method, path)
        assert response.content == missing
    target.refresh_from_db()
    assert target.is_active and target.roles == {StaffRole.OFFICER}
    assert not User.objects.filter(username="x1").exists()
    assert LoginSession.objects.filter(user=target).count() == 0  # nobody signed it in or out
    assert not AuditEntry.objects.filter(details__event__in=["staff_created", "role_changed", "account_disabled",
                                                             "password_reset", "totp_reset"]).exists()


def test_the_services_refuse_other_admins_too():
    target = make_officer("o1")
    for role in (StaffRole.SYSTEM_ADMIN, StaffRole.AUDIT_ADMIN):
        actor = make_staff(f"a-{role.value}", role)
        for call in (lambda a=actor: services.password_reset(actor=a, user=target, new_password=temporary_password()),
                     lambda a=actor: services.totp_reset(actor=a, user=target),
                     lambda a=actor: services.staff_roles_set(actor=a, user=target, roles=["security_admin"])):
            with pytest.raises(TongbanError) as exc:
                call()
            assert exc.value.code == "not_found"


# -- the list -------------------------------------------------------------------------------------------------


@pytest.fixture
def directory(sec):
    make_officer("hz-hukou", region_code=CITY_A)
    make_officer("xh-hukou", region_code=COUNTY_A)
    make_officer("xh-traffic", department="traffic", region_code=COUNTY_A)
    make_officer("nj-hukou", region_code=CITY_B, is_active=False)
    make_staff("sys", StaffRole.SYSTEM_ADMIN)
    make_staff("aud", StaffRole.AUDIT_ADMIN)


def _listed(client: Client, query: str = "") -> list[str]:
    body = client.get(f"/backoffice/staff/?{query}").content.decode()
    return re.findall(r'<a href="/backoffice/staff/([^/]+)/">', body)


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["aud", "hz-hukou", "nj-hukou", "sec", "sys", "xh-hukou", "xh-traffic"]),
    ("department=hukou", ["hz-hukou", "nj-hukou", "xh-hukou"]),
    (f"region={CITY_A}", ["hz-hukou", "xh-hukou", "xh-traffic"]),  # a city includes its districts
    (f"region={COUNTY_A}", ["xh-hukou", "xh-traffic"]),
    ("role=audit_admin", ["aud"]),
    ("role=officer&active=0", ["nj-hukou"]),
    ("active=1&department=traffic", ["xh-traffic"]),
    ("department=nonsense", []),  # a bad filter shows nothing rather than everything
])
def test_security_admin_filters_the_list(sec_client, directory, query, expected):
    assert _listed(sec_client, query) == expected


def test_a_bad_region_filter_says_so(sec_client, directory):
    response = sec_client.get("/backoffice/staff/?region=999999")
    body = response.content.decode()
    assert response.status_code == 200 and "辖区代码不存在" in body and 'aria-invalid="true"' in body


def test_the_list_pages_with_a_fixed_number_of_queries(sec_client, sec):
    for n in range(120):
        make_staff(f"p{n:03d}", StaffRole.OFFICER, department="hukou", region_code=CITY_A, totp=False)
    sec_client.get("/backoffice/staff/")  # warm up the session and the regions table
    with statements() as first:
        response = sec_client.get("/backoffice/staff/?role=officer")
    assert response.status_code == 200
    names = _listed(sec_client, "role=officer")
    assert len(names) == 50 and names[0] == "p000"
    with statements() as third:
        third_page = _listed(sec_client, "role=officer&page=3")
    assert third_page == [f"p{n:03d}" for n in range(100, 120)]
    assert 3 <= len(first) == len(third) <= 6, first
    assert 'rel="next"' in sec_client.get("/backoffice/staff/?role=officer&page=2").content.decode()


def test_an_officer_sees_only_colleagues_in_scope_and_no_management(client, directory):
    me = User.objects.get(username="hz-hukou")
    login_verified(client, me)
    assert _listed(client) == ["hz-hukou", "xh-hukou"]  # nj-hukou is in another city
    body = client.get("/backoffice/staff/xh-hukou/").content.decode()
    assert "修改角色与辖区" not in body and "新建账号" not in body


# -- creating an account ------------------------------------------------------------------------------------


def test_create_an_officer_who_then_changes_the_password_and_enrols_totp(sec_client, sec):
    response = sec_client.post("/backoffice/staff-create/", {
        "username": "012345", "roles": ["officer"], "department": "exit_entry", "region_code": COUNTY_A})
    assert response.status_code == 200
    password = _temporary_password(response.content.decode())
    assert len(password) >= 16 and character_classes(password) == 4
    person = User.objects.get(username="012345")
    assert person.kind == "staff" and person.roles == {StaffRole.OFFICER}
    assert (person.department, person.region_code, person.must_change_password) == ("exit_entry", COUNTY_A, True)
    assert not StaffTOTPDevice.objects.filter(user=person).exists()
    (created,) = _entries(person, "staff_created")
    assert created.actor_id == str(sec.pk)
    assert created.details["roles"] == ["officer"] and created.details["region_code"] == COUNTY_A
    assert password not in str(created.details)

    # The newcomer signs in: the temporary password, a TOTP enrolment, then the password must change.
    newcomer = Client()
    response = newcomer.post("/backoffice/login/", {"username": "012345", "password": password})
    assert response["Location"] == "/backoffice/login/totp/"
    assert "绑定动态口令" in newcomer.get("/backoffice/login/totp/").content.decode()
    device = StaffTOTPDevice.objects.get(user=person, confirmed=False)
    response = newcomer.post("/backoffice/login/totp/", {"token": totp_code(device)})
    assert response["Location"] == "/backoffice/password/"
    assert newcomer.get("/backoffice/")["Location"] == "/backoffice/password/"
    response = newcomer.post("/backoffice/password/", {"old_password": password, "new_password1": "Own-chosen-pw-2026!",
                                                       "new_password2": "Own-chosen-pw-2026!"})
    assert response.status_code == 302
    assert newcomer.get("/backoffice/").status_code == 200
    person.refresh_from_db()
    assert not person.must_change_password and device_of(person).confirmed


@pytest.mark.parametrize(("form", "field", "message"), [
    ({"username": "", "roles": ["officer"], "department": "hukou", "region_code": CITY_A}, "username", "请填写警号"),
    ({"username": "110101199003077777", "roles": ["officer"], "department": "hukou", "region_code": CITY_A},
     "username", "不能使用身份证号或手机号"),
    ({"username": "13900000001", "roles": ["officer"], "department": "hukou", "region_code": CITY_A},
     "username", "不能使用身份证号或手机号"),
    ({"username": "sec", "roles": ["audit_admin"]}, "username", "用户名已存在"),
    ({"username": "n1"}, "roles", "请至少选择一个角色"),
    ({"username": "n1", "roles": ["officer"], "region_code": CITY_A}, "department", "须指定部门警种"),
    ({"username": "n1", "roles": ["officer"], "department": "hukou"}, "region_code", "须指定辖区代码"),
    ({"username": "n1", "roles": ["officer"], "department": "hukou", "region_code": "339999"}, "region_code",
     "辖区代码不存在"),
    ({"username": "n1", "roles": ["system_admin", "security_admin"]}, "roles", "职责分离"),
    ({"username": "n1", "roles": ["security_admin", "audit_admin"]}, "roles", "职责分离"),
    ({"username": "n1", "roles": ["key_admin", "audit_admin"]}, "roles", "职责分离"),
    ({"username": "n1", "roles": ["officer", "system_admin"], "department": "hukou", "region_code": CITY_A},
     "roles", "职责分离"),
])
def test_create_refuses_with_the_error_pattern(sec_client, form, field, message):
    before = User.objects.count()
    response = sec_client.post("/backoffice/staff-create/", form)
    body = response.content.decode()
    assert response.status_code == 422
    assert message in body and "<title>错误：" in body and 'class="error-summary"' in body
    target = f"id_{field}_0" if field == "roles" else f"id_{field}"
    assert f'href="#{target}"' in body
    if field == "roles":  # each box of the group is marked invalid and described by the group's error
        box = re.search(r'<input type="checkbox" name="roles"[^>]*id="id_roles_0"[^>]*>', body)
        assert box and 'aria-invalid="true"' in box.group(0) and re.search(r'aria-describedby="[^"]*id_roles_error', box.group(0))
    assert User.objects.count() == before
    assert not AuditEntry.objects.filter(details__event="staff_created").exists()


# -- roles and scope ------------------------------------------------------------------------------------------


def test_assign_roles_and_region(sec_client, sec):
    officer = make_officer("o1", region_code=CITY_A)
    response = sec_client.post("/backoffice/staff/o1/roles/", {"roles": ["officer"], "department": "traffic",
                                                               "region_code": COUNTY_A})
    assert response.status_code == 302
    officer.refresh_from_db()
    assert (officer.department, officer.region_code) == ("traffic", COUNTY_A)
    (changed,) = _entries(officer, "role_changed")
    assert changed.actor_id == str(sec.pk)
    assert changed.details["old"] == {"roles": ["officer"], "department": "hukou", "region_code": CITY_A}
    assert changed.details["new"] == {"roles": ["officer"], "department": "traffic", "region_code": COUNTY_A}
    # From officer to auditor: the scope may stay empty.
    assert sec_client.post("/backoffice/staff/o1/roles/", {"roles": ["audit_admin"]}).status_code == 302
    officer.refresh_from_db()
    assert officer.roles == {StaffRole.AUDIT_ADMIN}


def test_no_conflicting_role_set_is_granted(sec_client):
    aud = make_staff("aud", StaffRole.AUDIT_ADMIN)
    response = sec_client.post("/backoffice/staff/aud/roles/", {"roles": ["audit_admin", "key_admin"]})
    assert response.status_code == 422 and "职责分离：审计管理员与密钥管理员不得由同一账号兼任" in response.content.decode()
    aud.refresh_from_db()
    assert aud.roles == {StaffRole.AUDIT_ADMIN} and not _entries(aud, "role_changed")


def test_nobody_edits_their_own_account(sec_client, sec):
    body = sec_client.get("/backoffice/staff/sec/").content.decode()
    assert "修改角色与辖区" not in body and "不能管理自己的账号" in body
    response = sec_client.post("/backoffice/staff/sec/roles/", {"roles": ["security_admin", "key_admin"]})
    assert response.status_code == 422 and "不能修改自己的角色" in response.content.decode()
    for action, message in (("disable", "不能停用自己的账号"), ("password", "不能重置自己的密码"),
                            ("totp", "不能重置自己的动态口令")):
        response = sec_client.post(f"/backoffice/staff/sec/{action}/", {"confirm": "on"})
        assert response.status_code == 422 and message in response.content.decode(), action
    sec.refresh_from_db()
    assert sec.roles == {StaffRole.SECURITY_ADMIN} and sec.is_active and device_of(sec)
    assert not _entries(sec, "role_changed") and not _entries(sec, "password_reset")


def test_another_security_admin_can_be_managed(sec_client):
    other = make_staff("sec2", StaffRole.SECURITY_ADMIN)
    assert sec_client.post("/backoffice/staff/sec2/roles/", {"roles": ["key_admin"]}).status_code == 302
    other.refresh_from_db()
    assert other.roles == {StaffRole.KEY_ADMIN}


# -- disable, enable, reset -----------------------------------------------------------------------------------


def test_disable_needs_a_confirmation_then_ends_the_sessions(sec_client, sec):
    officer = make_officer("o1")
    browser = Client()
    login_verified(browser, officer)
    assert browser.get("/backoffice/").status_code == 200
    response = sec_client.post("/backoffice/staff/o1/disable/", {})
    assert response.status_code == 422 and "请勾选确认" in response.content.decode()
    officer.refresh_from_db()
    assert officer.is_active
    response = sec_client.post("/backoffice/staff/o1/disable/", {"confirm": "on"})
    assert response.status_code == 302
    officer.refresh_from_db()
    assert not officer.is_active and not LoginSession.objects.filter(user=officer).exists()
    assert browser.get("/backoffice/").status_code == 302
    assert _entries(officer, "account_disabled")[0].actor_id == str(sec.pk)
    assert "启用账号" in sec_client.get("/backoffice/staff/o1/").content.decode()
    assert sec_client.post("/backoffice/staff/o1/enable/", {"confirm": "on"}).status_code == 302
    officer.refresh_from_db()
    assert officer.is_active and _entries(officer, "account_enabled")


def test_password_reset_shows_a_temporary_password_once(sec_client, sec):
    officer = make_officer("o1")
    response = sec_client.post("/backoffice/staff/o1/password/", {"confirm": "on"})
    assert response.status_code == 200
    password = _temporary_password(response.content.decode())
    officer.refresh_from_db()
    assert officer.check_password(password) and officer.must_change_password
    (reset,) = _entries(officer, "password_reset")
    assert reset.actor_id == str(sec.pk) and password not in str(reset.details)
    assert password not in sec_client.get("/backoffice/staff/o1/").content.decode()


def test_totp_reset_makes_the_next_login_enrol(sec_client, sec):
    officer = make_officer("o1")
    assert sec_client.post("/backoffice/staff/o1/totp/", {"confirm": "on"}).status_code == 302
    assert not StaffTOTPDevice.objects.filter(user=officer).exists()
    assert _entries(officer, "totp_reset")[0].actor_id == str(sec.pk)


def test_an_unknown_action_or_person_is_not_there(sec_client):
    make_officer("o1")
    assert sec_client.get("/backoffice/staff/o1/delete/").status_code == 404
    assert sec_client.get("/backoffice/staff/ghost/disable/").status_code == 404


def test_temporary_passwords_meet_the_policy():
    for _ in range(50):
        password = temporary_password()
        assert len(password) >= 16 and character_classes(password) == 4
        assert not set(password) & set("0O1lI")
