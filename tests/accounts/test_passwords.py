"""Password policy: complexity, history (last 5 not reusable), expiry for staff (90 days)."""

import dataclasses
import datetime as dt

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from tests.accounts.factories import PASSWORD, make_citizen, make_officer
from tongban.accounts import services
from tongban.accounts.models import PasswordHistory, User
from tongban.accounts.passwords import character_classes, password_change_required, password_expired
from tongban.core.errors import TongbanError

pytestmark = pytest.mark.django_db


def _codes(password, user):
    try:
        validate_password(password, user)
    except ValidationError as exc:
        return {e.code for e in exc.error_list}
    return set()


def test_character_classes():
    assert character_classes("abc") == 1
    assert character_classes("abcDEF123") == 3
    assert character_classes("abcDEF123!") == 4
    assert character_classes("密码abc123") == 3  # non-ASCII counts as "other"


def test_staff_password_needs_twelve_and_three_classes():
    staff = User(username="s", kind="staff")
    assert "password_too_short_staff" in _codes("Abc-123-xyz", staff)  # 11 characters
    assert _codes("Abc-123-xyz9", staff) == set()
    assert "password_too_simple" in _codes("abcdefghijklmn", staff)
    assert "password_too_simple" in _codes("abcdefgh12345", staff)  # two classes only


def test_citizen_password_needs_ten_and_three_classes():
    citizen = User(username="c", kind="citizen")
    assert _codes("Abc-123-xy", citizen) == set()
    assert "password_too_simple" in _codes("abcdefgh12", citizen)


@override_settings(TONGBAN_SECURITY=dataclasses.replace(settings.TONGBAN_SECURITY, staff_password_min_length=16))
def test_policy_is_configurable():
    assert "password_too_short_staff" in _codes("Abc-123-xyz-abc", User(username="s", kind="staff"))


def test_history_refuses_the_last_five():
    user = make_officer("o1")
    passwords = [PASSWORD] + [f"Rotated-pass-{i}!" for i in range(1, 6)]
    for old, new in zip(passwords, passwords[1:], strict=False):
        services.password_change(user=user, old_password=old, new_password=new)
    assert PasswordHistory.objects.filter(user=user).count() == 5
    current = passwords[-1]
    for reused in passwords[-5:-1]:
        with pytest.raises(TongbanError) as exc:
            services.password_change(user=user, old_password=current, new_password=reused)
        assert exc.value.code == "password_rejected"
        assert "最近 5 次" in exc.value.details[0]["message"]
    # The sixth-last is old enough to come back.
    services.password_change(user=user, old_password=current, new_password=passwords[0])


def test_change_needs_the_current_password():
    user = make_officer("o1")
    with pytest.raises(TongbanError):
        services.password_change(user=user, old_password="wrong", new_password="Another-pass-2026")
    assert user.check_password(PASSWORD)


def test_staff_password_expires_after_90_days():
    user = make_officer("o1")
    assert not password_expired(user)
    user.password_changed_at = timezone.now() - dt.timedelta(days=91)
    assert password_expired(user) and password_change_required(user)
    citizen = make_citizen()
    citizen.password_changed_at = timezone.now() - dt.timedelta(days=400)
    assert not password_expired(citizen)


def test_changing_clears_the_requirement():
    user = make_officer("o1", must_change_password=True)
    user.password_changed_at = timezone.now() - dt.timedelta(days=91)
    assert password_change_required(user)
    services.password_change(user=user, old_password=PASSWORD, new_password="Brand-new-pass-2026")
    user.refresh_from_db()
    assert not password_change_required(user)
