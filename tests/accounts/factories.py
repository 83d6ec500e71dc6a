"""Staff and citizen accounts for the tests, and TOTP codes computed as an authenticator would."""

from __future__ import annotations

import time

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP

from tongban.accounts.models import StaffTOTPDevice, User, UserKind
from tongban.accounts.roles import ROLE_FIELDS, StaffRole

PASSWORD = "Staff-Pass-2026!"
CITY_A = "330100"  # 杭州市
COUNTY_A = "330106"  # 杭州市西湖区
CITY_B = "320100"  # 南京市


def make_staff(username: str, *roles: StaffRole, department: str = "", region_code: str = "",
               password: str = PASSWORD, totp: bool = True, **extra: object) -> User:
    user = User(username=username, kind=UserKind.STAFF, department=department, region_code=region_code, **extra)
    for role in roles:
        setattr(user, ROLE_FIELDS[role], True)
    user.set_password(password)
    user.save()
    if totp:
        StaffTOTPDevice.objects.create(user=user, name="test", confirmed=True)
    return user


def make_officer(username: str, department: str = "hukou", region_code: str = CITY_A, **extra: object) -> User:
    return make_staff(username, StaffRole.OFFICER, department=department, region_code=region_code, **extra)


def make_citizen(username: str = "citizen1", password: str = "Citizen-2026-pw") -> User:
    return User.objects.create_user(username, password, kind=UserKind.CITIZEN)


def totp_code(device: StaffTOTPDevice, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def device_of(user: User) -> StaffTOTPDevice:
    return StaffTOTPDevice.objects.get(user=user, confirmed=True)


def login_verified(client, user: User) -> None:
    """A session as after password + TOTP (for tests of what comes after the login)."""
    client.force_login(user, backend="tongban.accounts.backends.TongbanBackend")
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device_of(user).persistent_id
    session["_tongban_last_seen"] = int(time.time())
    session.save()
