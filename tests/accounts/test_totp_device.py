"""The staff second factor: the shared secret is encrypted at rest; codes verify once, as in django-otp."""

import pytest
from django.db import connection
from django_otp.oath import TOTP

from tests.accounts.factories import make_officer
from tongban.accounts.models import StaffTOTPDevice

pytestmark = pytest.mark.django_db


def test_secret_is_not_stored_in_clear():
    device = StaffTOTPDevice.objects.create(user=make_officer("o1"), name="t", confirmed=True)
    secret = device.bin_key
    assert len(secret) == 20
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret FROM {StaffTOTPDevice._meta.db_table} WHERE id = %s", [device.pk])
        stored = bytes(cursor.fetchone()[0])
    assert secret not in stored and secret.hex().encode() not in stored
    assert StaffTOTPDevice.objects.get(pk=device.pk).bin_key == secret


def test_code_verifies_once_and_wrong_codes_are_throttled():
    device = StaffTOTPDevice.objects.create(user=make_officer("o2"), name="t", confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    code = f"{totp.token():06d}"
    assert device.verify_token(code) is True
    assert StaffTOTPDevice.objects.get(pk=device.pk).verify_token(code) is False  # replay refused
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    assert device.verify_token("not-a-code") is False


def test_otpauth_uri_carries_the_secret_for_the_authenticator_only():
    device = StaffTOTPDevice.objects.create(user=make_officer("o3"), name="t")
    uri = device.config_url
    assert uri.startswith("otpauth://totp/") and "secret=" in uri and "o3" in uri
