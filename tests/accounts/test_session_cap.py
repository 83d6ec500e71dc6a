"""The absolute session cap (TONGBAN_SESSION_MAX_AGE_SECONDS, 12 h): counted from signing in, whatever the
activity, for staff and citizens. The idle clock saves the session every 30 s; that used to push Django's
relative expiry (SESSION_COOKIE_AGE) forward at every save, so a session kept busy — a stolen one too —
never expired."""

from __future__ import annotations

import datetime as dt
import time
from importlib import import_module

import pytest
from django.conf import settings
from django.utils import timezone

from tests.accounts.factories import login_verified, make_citizen, make_officer
from tongban.accounts.conf import security
from tongban.accounts.middleware import LAST_SEEN_KEY, SIGNED_IN_AT_KEY
from tongban.accounts.models import LoginSession
from tongban.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def _store(key: str):
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key=key)
    store.load()
    return store


def _shift(client, **seconds_ago: float) -> None:
    session = client.session
    now = time.time()
    for key, ago in seconds_ago.items():
        session[key] = int(now - ago)
    session.save()


def test_saving_a_busy_session_does_not_move_its_expiry(client):
    client.force_login(make_citizen())
    key = client.session.session_key
    cap = security().session_max_seconds
    first = _store(key).get_expiry_date()
    assert abs((first - timezone.now()).total_seconds() - cap) < 5
    for _ in range(3):  # activity that saves the session (the idle clock's touch)
        _shift(client, **{LAST_SEEN_KEY: 60})
        response = client.get("/me/")
        assert response.status_code == 200
        assert _store(key).get_expiry_date() == first
        cookie = response.cookies.get(settings.SESSION_COOKIE_NAME)
        if cookie is not None and cookie["max-age"]:
            assert int(cookie["max-age"]) <= cap


def test_a_citizen_session_ends_at_the_cap_however_busy(client):
    user = make_citizen()
    client.force_login(user)
    cap = security().session_max_seconds
    _shift(client, **{SIGNED_IN_AT_KEY: cap - 60, LAST_SEEN_KEY: 5})
    assert client.get("/me/").status_code == 200
    _shift(client, **{SIGNED_IN_AT_KEY: cap + 5, LAST_SEEN_KEY: 5})
    response = client.get("/me/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    entry = AuditEntry.objects.filter(subject_id=str(user.pk), details__event="session_expired").get()
    assert entry.action == "auth.session.timeout" and entry.details["limit"] == cap
    assert not LoginSession.objects.filter(user=user).exists()


def test_a_staff_session_ends_at_the_cap_however_busy(client):
    login_verified(client, make_officer("o1"))
    cap = security().session_max_seconds
    _shift(client, **{SIGNED_IN_AT_KEY: cap + 5, LAST_SEEN_KEY: 5})
    response = client.get("/backoffice/")
    assert response.status_code == 302 and response["Location"].startswith("/backoffice/login/")
    assert "登录已达最长时限" in client.get(response["Location"]).content.decode()


def test_a_session_from_before_the_upgrade_counts_from_its_row(client):
    """A session signed in before the sign-in time was kept in it: its LoginSession row says when."""
    user = make_citizen()
    client.force_login(user)
    session = client.session
    del session[SIGNED_IN_AT_KEY]
    session.save()
    LoginSession.objects.filter(user=user).update(created_at=timezone.now() - dt.timedelta(hours=1))
    assert client.get("/me/").status_code == 200
    signed_in = client.session[SIGNED_IN_AT_KEY]
    assert abs(signed_in - (time.time() - 3600)) < 5
    session = client.session
    del session[SIGNED_IN_AT_KEY]
    session.save()
    LoginSession.objects.filter(user=user).update(
        created_at=timezone.now() - dt.timedelta(seconds=security().session_max_seconds + 5))
    assert client.get("/me/").status_code == 302


def test_the_cap_is_configurable(monkeypatch):
    from config import env

    monkeypatch.setenv("TONGBAN_SESSION_MAX_AGE_SECONDS", "3600")
    assert env.load_security().session_max_seconds == 3600
    monkeypatch.setenv("TONGBAN_SESSION_MAX_AGE_SECONDS", "0")
    with pytest.raises(env.ConfigurationError, match="TONGBAN_SESSION_MAX_AGE_SECONDS"):
        env.load_security()
