"""Idle sessions end: staff after 15 minutes, citizens after 30 (both configurable)."""

import time

import pytest

from tests.accounts.factories import login_verified, make_citizen, make_officer
from tongban.accounts.middleware import LAST_SEEN_KEY

pytestmark = pytest.mark.django_db


def _idle(client, seconds):
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time() - seconds)
    session.save()


def test_staff_session_ends_after_fifteen_idle_minutes(client):
    login_verified(client, make_officer("o1"))
    _idle(client, 14 * 60)
    assert client.get("/backoffice/").status_code == 200
    _idle(client, 15 * 60 + 5)
    response = client.get("/backoffice/")
    assert response.status_code == 302 and response["Location"].startswith("/backoffice/login/")
    page = client.get(response["Location"])
    assert "长时间未操作" in page.content.decode()


def test_citizen_session_lasts_thirty_idle_minutes(client):
    client.force_login(make_citizen())
    _idle(client, 20 * 60)
    assert client.get("/me/").status_code == 200
    _idle(client, 31 * 60)
    assert client.get("/me/").status_code == 302
