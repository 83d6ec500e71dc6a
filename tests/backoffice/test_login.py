"""Staff login: password, then TOTP (enrolment first if there is no device); every back-office page and
Django admin need the second factor; replayed and wrong codes refused; expired passwords changed first."""

import datetime as dt
import re
import time

import pytest
from django.utils import timezone

from tests.accounts.factories import (
    PASSWORD,
    device_of,
    login_verified,
    make_citizen,
    make_officer,
    make_staff,
    totp_code,
)
from tongban.accounts.models import StaffTOTPDevice
from tongban.accounts.roles import StaffRole
from tongban.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def _password_step(client, username, password=PASSWORD, next_url=None):
    data = {"username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/backoffice/login/", data)


def _login(client, user, steps_ahead=0):
    assert _password_step(client, user.username)["Location"] == "/backoffice/login/totp/"
    return client.post("/backoffice/login/totp/", {"token": totp_code(device_of(user), steps_ahead)})


def test_password_then_totp_reaches_the_back_office(client):
    officer = make_officer("o1")
    response = _login(client, officer)
    assert response.status_code == 302 and response["Location"] == "/backoffice/"
    page = client.get("/backoffice/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "o1" in body and "户政" in body and "浙江省杭州市" in body


def test_password_alone_is_not_a_login(client):
    make_officer("o1")
    _password_step(client, "o1")
    response = client.get("/backoffice/")
    assert response.status_code == 302 and response["Location"].startswith("/backoffice/login/")
    assert client.get("/me/").status_code == 302  # not logged in anywhere else either


def test_wrong_password_is_generic(client):
    make_officer("o1")
    for username in ("o1", "nobody"):
        response = _password_step(client, username, "wrong-password")
        assert response.status_code == 200
        assert "用户名或密码不正确" in response.content.decode()


def test_citizen_cannot_use_the_back_office_login(client):
    make_citizen("c1", "Citizen-2026-pw")
    response = _password_step(client, "c1", "Citizen-2026-pw")
    assert response.status_code == 200 and "用户名或密码不正确" in response.content.decode()


def test_wrong_totp_is_refused(client):
    officer = make_officer("o1")
    _password_step(client, "o1")
    good = totp_code(device_of(officer))
    wrong = f"{(int(good) + 1) % 1000000:06d}"
    response = client.post("/backoffice/login/totp/", {"token": wrong})
    assert response.status_code == 200 and "动态口令不正确" in response.content.decode()
    assert client.get("/backoffice/").status_code == 302


def test_a_used_totp_code_cannot_be_replayed(client):
    officer = make_officer("o1")
    code = totp_code(device_of(officer))
    _password_step(client, "o1")
    assert client.post("/backoffice/login/totp/", {"token": code})["Location"] == "/backoffice/"
    client.post("/backoffice/logout/")
    _password_step(client, "o1")
    response = client.post("/backoffice/login/totp/", {"token": code})
    assert response.status_code == 200 and "动态口令不正确" in response.content.decode()
    assert client.get("/backoffice/").status_code == 302


def test_totp_failures_count_toward_lockout(client):
    officer = make_officer("o1")
    _password_step(client, "o1")
    device = device_of(officer)
    for _ in range(5):
        StaffTOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)  # skip django-otp's back-off
        response = client.post("/backoffice/login/totp/", {"token": "000000"})
    assert "账号已暂时锁定" in response.content.decode()
    officer.refresh_from_db()
    assert officer.is_locked()
    assert "账号已暂时锁定" in _password_step(client, "o1").content.decode()


def _wrong_code(officer):
    good = totp_code(device_of(officer))
    return f"{(int(good) + 1) % 1000000:06d}"


def _wrong_totp(client, officer):
    StaffTOTPDevice.objects.filter(user=officer).update(throttling_failure_count=0)  # skip django-otp's back-off
    return client.post("/backoffice/login/totp/", {"token": _wrong_code(officer)})


def test_the_right_password_does_not_clear_wrong_second_factor_codes(client):
    """Rounds of the right password and four wrong codes must lock: the password step is half a sign-in
    and leaves the failure count as it is (it used to reset it, so the rounds never locked)."""
    officer = make_officer("o1")
    for _ in range(3):
        assert _password_step(client, "o1")["Location"] == "/backoffice/login/totp/"
        for _ in range(4):
            response = _wrong_totp(client, officer)
            officer.refresh_from_db()
            if officer.is_locked():
                break
        if officer.is_locked():
            break
    assert officer.is_locked() and "账号已暂时锁定" in response.content.decode()
    failures = AuditEntry.objects.filter(subject_id=str(officer.pk), details__event="login_failed",
                                         details__reason="totp")
    assert failures.count() == 5  # the fifth wrong code, in the second round, locked it
    assert "账号已暂时锁定" in _password_step(client, "o1").content.decode()


def test_a_full_sign_in_clears_the_count(client):
    officer = make_officer("o1")
    _password_step(client, "o1")
    for _ in range(4):
        _wrong_totp(client, officer)
    StaffTOTPDevice.objects.filter(user=officer).update(throttling_failure_count=0)
    response = client.post("/backoffice/login/totp/", {"token": totp_code(device_of(officer))})
    assert response["Location"] == "/backoffice/"
    client.post("/backoffice/logout/")
    for _ in range(4):
        assert "用户名或密码不正确" in _password_step(client, "o1", "wrong-password").content.decode()
    officer.refresh_from_db()
    assert not officer.is_locked()


def test_totp_step_needs_the_password_step(client):
    assert client.get("/backoffice/login/totp/")["Location"] == "/backoffice/login/"


def test_first_login_enrols_a_device(client):
    officer = make_officer("o1", totp=False)
    _password_step(client, "o1")
    page = client.get("/backoffice/login/totp/")
    body = page.content.decode()
    assert "绑定动态口令" in body and "<svg" in body
    uri = re.search(r'id="otpauth-uri">([^<]+)<', body).group(1)
    assert uri.startswith("otpauth://totp/") and "secret=" in uri
    assert client.get("/backoffice/login/totp/").content.decode().count(uri.split("secret=")[1][:16]) == 1  # stable
    device = StaffTOTPDevice.objects.get(user=officer)
    assert not device.confirmed
    (started,) = AuditEntry.objects.filter(subject_type="accounts.user", subject_id=str(officer.pk),
                                           details__event="totp_enrolment_started")  # once, though shown twice
    assert started.action == "auth.totp.enrol" and started.details["device"] == device.pk
    assert client.post("/backoffice/login/totp/", {"token": "000000" if totp_code(device) != "000000" else "111111"}
                       ).status_code == 200
    device.refresh_from_db()
    assert not device.confirmed
    StaffTOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)
    response = client.post("/backoffice/login/totp/", {"token": totp_code(device)})
    assert response["Location"] == "/backoffice/"
    device.refresh_from_db()
    assert device.confirmed


def test_expired_password_must_be_changed_first(client):
    officer = make_officer("o1")
    officer.password_changed_at = timezone.now() - dt.timedelta(days=91)
    officer.save(update_fields=["password_changed_at"])
    assert _login(client, officer)["Location"] == "/backoffice/password/"
    assert client.get("/backoffice/")["Location"] == "/backoffice/password/"
    assert client.get("/backoffice/staff/")["Location"] == "/backoffice/password/"
    response = client.post("/backoffice/password/", {"old_password": PASSWORD, "new_password1": PASSWORD,
                                                     "new_password2": PASSWORD})
    assert response.status_code == 422 and "不能与" in response.content.decode()
    response = client.post("/backoffice/password/", {"old_password": PASSWORD, "new_password1": "Fresh-pass-2026!",
                                                     "new_password2": "Fresh-pass-2026!"})
    assert response["Location"] == "/backoffice/"
    assert client.get("/backoffice/").status_code == 200  # still logged in after the change


def test_next_is_kept_and_external_next_refused(client):
    officer = make_officer("o1")
    _password_step(client, "o1", next_url="/backoffice/staff/")
    assert client.post("/backoffice/login/totp/", {"token": totp_code(device_of(officer))})["Location"] == \
        "/backoffice/staff/"
    client.post("/backoffice/logout/")
    _password_step(client, "o1", next_url="https://evil.example/")
    assert client.post("/backoffice/login/totp/", {"token": totp_code(device_of(officer), 1)})["Location"] == \
        "/backoffice/"


def test_logout_needs_post_and_ends_the_session(client):
    login_verified(client, make_officer("o1"))
    assert client.get("/backoffice/logout/").status_code == 405
    client.post("/backoffice/logout/")
    assert client.get("/backoffice/").status_code == 302


def test_back_office_pages_are_not_cached(client):
    login_verified(client, make_officer("o1"))
    response = client.get("/backoffice/")
    assert "no-store" in response["Cache-Control"]


def test_csrf_is_enforced_on_the_login(client):
    from django.test import Client

    make_officer("o1")
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/backoffice/login/", {"username": "o1", "password": PASSWORD}).status_code == 403


# Django admin is no bypass.

def test_admin_without_second_factor_goes_to_the_staff_login(client):
    admin = make_staff("sys", StaffRole.SYSTEM_ADMIN)
    client.force_login(admin)  # a password-only session
    for path in ("/admin/", "/admin/login/", "/admin/accounts/user/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/backoffice/login/"), path


def test_admin_with_second_factor_opens(client):
    login_verified(client, make_staff("sys", StaffRole.SYSTEM_ADMIN))
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/jobs/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 403  # accounts belong to the security admin


def test_admin_site_itself_requires_verification(rf):
    from django.contrib import admin
    from django.contrib.auth import get_user_model

    user = make_staff("sys", StaffRole.SYSTEM_ADMIN)
    request = rf.get("/admin/")
    request.user = get_user_model().objects.get(pk=user.pk)
    request.user.is_verified = lambda: False
    assert not admin.site.has_permission(request)
    request.user.is_verified = lambda: True
    assert admin.site.has_permission(request)


def test_officer_finds_no_admin(client):
    login_verified(client, make_officer("o1"))
    assert client.get("/admin/").status_code == 404


def test_security_admin_unlocks_in_admin(client):
    sec = make_staff("sec", StaffRole.SECURITY_ADMIN)
    officer = make_officer("o1", locked_until=timezone.now() + dt.timedelta(minutes=30))
    login_verified(client, sec)
    response = client.post("/admin/accounts/user/", {"action": "unlock_accounts", "_selected_action": [officer.pk]})
    assert response.status_code == 302
    officer.refresh_from_db()
    assert not officer.is_locked()


def test_totp_devices_have_no_admin_page(client):
    login_verified(client, make_staff("sec", StaffRole.SECURITY_ADMIN))
    assert client.get("/admin/accounts/stafftotpdevice/").status_code == 404
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404


def test_pending_login_expires(client, monkeypatch):
    officer = make_officer("o1")
    _password_step(client, "o1")
    real = time.time
    monkeypatch.setattr("tongban.backoffice.views.time.time", lambda: real() + 301)
    response = client.post("/backoffice/login/totp/", {"token": totp_code(device_of(officer))})
    assert response["Location"] == "/backoffice/login/"
