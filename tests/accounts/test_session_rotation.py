"""The session key changes when the person's assurance level does (L0 → L1/L2): a key planted or seen before
the identity verification is worth nothing after it. The session's row and its single sign-on follow it."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from tests.accounts.test_citizen_flows import card_dates, register
from tongban.accounts.models import LoginSession
from tongban.accounts.sessions import key_hash

pytestmark = pytest.mark.django_db(databases="__all__")


def _key(browser: Client) -> str:
    return browser.cookies[settings.SESSION_COOKIE_NAME].value


def _store():
    return import_module(settings.SESSION_ENGINE).SessionStore


def _participation(user, session_key: str):
    from tests.sso.conftest import register as register_rp
    from tongban.sso.models import SessionParticipation

    rp = register_rp()
    return SessionParticipation.objects.create(sid="sid-rotation-test", session_key_hash=key_hash(session_key),
                                               user=user, client=rp.client, level=0, amr="pwd",
                                               auth_time=timezone.now(), code_hash="c" * 64)


def test_verifying_identity_gives_the_session_a_new_key(sms_sim, people):
    browser = Client()
    user = register(browser, sms_sim)
    before = _key(browser)
    part = _participation(user, before)
    person = people.mainland[0]
    response = browser.post("/me/identity/", {"id_type": "resident_id", "id_number": person["id_number"],
                                              "name": person["name"], "level": "2", **card_dates(person)})
    assert response.status_code == 302
    after = _key(browser)
    assert after != before
    # The old key opens nothing any more: a browser holding it (a fixed or stolen key) is not signed in.
    assert not _store()().exists(before)
    stale = Client()
    stale.cookies[settings.SESSION_COOKIE_NAME] = before
    assert stale.get("/me/").status_code == 302
    # The person's own browser goes on, with the same session data, and its row followed the key.
    assert browser.get("/me/").status_code == 200
    row = LoginSession.objects.get(user=user)
    assert row.key_hash == key_hash(after) and row.session_key == after
    page = browser.get("/me/sessions/").content.decode()
    assert f'data-session="{row.pk}"' in page and "本机" in page
    # Its single sign-on followed too: logging out ends the sign-in (it is found by the new key's hash).
    part.refresh_from_db()
    assert part.session_key_hash == key_hash(after) and part.ended_at is None
    browser.post("/logout/")
    part.refresh_from_db()
    assert part.ended_at is not None


def test_a_refused_verification_keeps_the_key(sms_sim, people):
    browser = Client()
    register(browser, sms_sim)
    before = _key(browser)
    person = people.mainland[0]
    response = browser.post("/me/identity/", {"id_type": "resident_id", "id_number": person["id_number"],
                                              "name": "错名字", "level": "1"})
    assert response.status_code == 422
    assert _key(browser) == before
