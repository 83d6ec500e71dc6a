"""Single sign-on ends at the absolute session cap too: a session kept busy past TONGBAN_SESSION_MAX_AGE_SECONDS
(12 h after signing in) has its sign-ins ended by the sweep (tokens revoked, clients told), as an idle one has."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tests.sso.test_sweep import _assert_swept, bystander  # noqa: F401  (bystander: a fixture)
from tongban.accounts.conf import security

pytestmark = pytest.mark.django_db


def test_a_busy_session_past_the_cap_is_swept(signed_in, bystander, person):  # noqa: F811
    from tongban.accounts.models import LoginSession

    LoginSession.objects.filter(user=person).update(
        created_at=timezone.now() - dt.timedelta(seconds=security().session_max_seconds + 5),
        last_seen_at=timezone.now())
    _assert_swept(signed_in, bystander, reason="session_expired")
