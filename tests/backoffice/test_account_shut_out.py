"""Staff shutting an account out — disabling it in Django admin or with `tongban staff disable`, resetting its
password or second factor — end all of its sessions in the same transaction: gone from the session store,
their rows gone, the single sign-on they carried ended (tokens revoked, relying parties told through the
outbox), audited."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from tests.accounts.factories import login_verified, make_officer, make_staff
from tests.sso.conftest import PASSWORD as PERSON_PASSWORD
from tests.sso.conftest import Flow, _sso_caches, make_person, register  # noqa: F401  (_sso_caches: autouse)
from tongban.accounts import services
from tongban.accounts.models import LoginSession, User
from tongban.accounts.roles import ROLE_FIELDS, StaffRole
from tongban.audit.models import AuditEntry
from tongban.core.errors import TongbanError

pytestmark = pytest.mark.django_db


def _store_has(key: str) -> bool:
    return import_module(settings.SESSION_ENGINE).SessionStore().exists(key)


def _signed_in_officer(username: str = "o1") -> tuple[User, Client, str]:
    officer = make_officer(username)
    browser = Client()
    login_verified(browser, officer)
    assert browser.get("/backoffice/").status_code == 200
    key = browser.session.session_key
    assert LoginSession.objects.filter(user=officer).count() == 1 and _store_has(key)
    return officer, browser, key


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


def _change(user: User, *, active: bool) -> dict[str, str]:
    form = {"username": user.username, "department": user.department, "region_code": user.region_code}
    for role, field in ROLE_FIELDS.items():
        if role in user.roles:
            form[field] = "on"
    if active:
        form["is_active"] = "on"
    return form


def test_disabling_in_admin_ends_the_officers_sessions(sec_client, sec):
    officer, browser, key = _signed_in_officer()
    other_browser = Client()
    login_verified(other_browser, officer)  # a second session of the same officer
    response = sec_client.post(f"/admin/accounts/user/{officer.pk}/change/", _change(officer, active=False))
    assert response.status_code == 302, response.content.decode()[:2000]
    officer.refresh_from_db()
    assert not officer.is_active
    assert not LoginSession.objects.filter(user=officer).exists() and not _store_has(key)
    for signed_out in (browser, other_browser):
        response = signed_out.get("/backoffice/")
        assert response.status_code == 302 and response["Location"].startswith("/backoffice/login/")
    (disabled,) = _entries(officer, "account_disabled")
    assert disabled.action == "account.disable" and disabled.actor_id == str(sec.pk)
    assert disabled.details["old"] == {"is_active": True} and disabled.details["new"] == {"is_active": False}
    (ended,) = _entries(officer, "sessions_ended")
    assert ended.action == "auth.session.revoke" and ended.actor_id == str(sec.pk)
    assert ended.details["sessions"] == 2 and ended.details["reason"] == "account_disabled"
    # The security admin's own session goes on.
    assert sec_client.get("/backoffice/").status_code == 200


def test_enabling_again_in_admin_is_audited_and_ends_nothing(sec_client, sec):
    officer, browser, _ = _signed_in_officer()
    services.account_active_set(actor=sec, user=officer, active=False)
    login_verified(browser, officer)  # (as if; a disabled account cannot sign in)
    before = LoginSession.objects.filter(user=officer).count()
    response = sec_client.post(f"/admin/accounts/user/{officer.pk}/change/", _change(officer, active=True))
    assert response.status_code == 302
    officer.refresh_from_db()
    assert officer.is_active
    (enabled,) = _entries(officer, "account_enabled")
    assert enabled.details["new"] == {"is_active": True}
    assert LoginSession.objects.filter(user=officer).count() == before
    assert len(_entries(officer, "sessions_ended")) == 1  # the disabling's only


def test_saving_without_changing_the_state_records_nothing(sec_client):
    officer, browser, key = _signed_in_officer()
    response = sec_client.post(f"/admin/accounts/user/{officer.pk}/change/", _change(officer, active=True))
    assert response.status_code == 302
    assert _store_has(key) and browser.get("/backoffice/").status_code == 200
    assert not _entries(officer, "account_disabled") and not _entries(officer, "sessions_ended")


def test_nobody_disables_their_own_account(sec_client, sec):
    response = sec_client.post(f"/admin/accounts/user/{sec.pk}/change/", _change(sec, active=False))
    assert response.status_code == 302
    sec.refresh_from_db()
    assert sec.is_active and sec_client.get("/backoffice/").status_code == 200
    with pytest.raises(TongbanError) as exc:
        services.account_active_set(actor=sec, user=sec, active=False)
    assert exc.value.code == "forbidden"


def test_only_the_security_admin_disables(sec):
    officer, browser, key = _signed_in_officer()
    sysadmin = make_staff("sys", StaffRole.SYSTEM_ADMIN)
    with pytest.raises(TongbanError) as exc:
        services.account_active_set(actor=sysadmin, user=officer, active=False)
    assert exc.value.code == "not_found"
    officer.refresh_from_db()
    assert officer.is_active and _store_has(key)


def test_the_console_disables_and_enables(sec):
    officer, browser, key = _signed_in_officer()
    call_command("staff", "disable", "o1")
    officer.refresh_from_db()
    assert not officer.is_active and not _store_has(key)
    assert browser.get("/backoffice/").status_code == 302
    (ended,) = _entries(officer, "sessions_ended")
    assert ended.actor_type == "system" and ended.actor_id.startswith("cli:")
    call_command("staff", "enable", "o1")
    officer.refresh_from_db()
    assert officer.is_active and len(_entries(officer, "account_enabled")) == 1


def test_disabling_works_with_the_cache_session_engine(settings, sec):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    officer, browser, key = _signed_in_officer()
    services.account_active_set(actor=sec, user=officer, active=False)
    assert not _store_has(key) and browser.get("/backoffice/").status_code == 302


def test_a_password_reset_ends_the_sessions():
    officer, browser, key = _signed_in_officer()
    services.password_reset(actor=None, user=officer, new_password="Temporary-pass-2026")
    assert not _store_has(key) and not LoginSession.objects.filter(user=officer).exists()
    assert browser.get("/backoffice/").status_code == 302
    assert _entries(officer, "sessions_ended")[0].details["reason"] == "password_reset"


def test_a_second_factor_reset_in_admin_ends_the_sessions(sec_client):
    officer, browser, key = _signed_in_officer()
    response = sec_client.post("/admin/accounts/user/", {"action": "reset_second_factor",
                                                         "_selected_action": [officer.pk]})
    assert response.status_code == 302
    assert not _store_has(key) and browser.get("/backoffice/").status_code == 302
    assert _entries(officer, "sessions_ended")[0].details["reason"] == "totp_reset"


def test_unlocking_ends_nothing(sec):
    officer, browser, key = _signed_in_officer()
    services.account_unlock(actor=sec, user=officer)
    assert _store_has(key) and browser.get("/backoffice/").status_code == 200


# -- a citizen with single sign-on ---------------------------------------------------------------------------


def _jobs() -> list:
    from tongban.jobs.models import Job

    return list(Job.objects.filter(task="outbox.oidc_backchannel"))


def test_disabling_a_citizen_ends_their_sessions_and_single_sign_on(sec_client, sec):
    from tongban.sso.models import SessionParticipation

    person = make_person()
    browser = Client()
    assert browser.post("/login/", {"username": "13900000001", "password": PERSON_PASSWORD}).status_code == 302
    key = browser.session.session_key
    tokens = []
    for name, host in (("甲应用", "a.example.cn"), ("乙应用", "b.example.cn")):
        reg = register(name, redirect=f"https://{host}/cb", backchannel_logout_uri=f"https://{host}/bcl")
        flow = Flow(http=browser, client=reg.client, secret=reg.secret, redirect_uri=f"https://{host}/cb")
        tokens.append((flow, flow.token(flow.code()).json()))
    # A sign-in that no session row carries (recorded before sign-ins were keyed to the session).
    legacy = SessionParticipation.objects.order_by("pk").first()
    SessionParticipation.objects.create(sid="legacy-sid", session_key_hash="", issuer=legacy.issuer, user=person,
                                        client=legacy.client, level=legacy.level, amr=legacy.amr,
                                        auth_time=legacy.auth_time, code_hash="legacy-code-hash")
    assert SessionParticipation.objects.filter(user=person, ended_at__isnull=True).count() == 3

    response = sec_client.post(f"/admin/accounts/user/{person.pk}/change/", _change(person, active=False))
    assert response.status_code == 302, response.content.decode()[:2000]
    person.refresh_from_db()
    assert not person.is_active
    assert not _store_has(key) and not LoginSession.objects.filter(user=person).exists()
    assert browser.get("/me/").status_code == 302
    assert not SessionParticipation.objects.filter(user=person, ended_at__isnull=True).exists()
    assert len(_jobs()) >= 2  # each relying party with a back-channel URI is told
    for flow, answer in tokens:
        assert flow.refresh(answer["refresh_token"]).json()["error"] == "invalid_grant"
    (ended,) = _entries(person, "sessions_ended")
    assert ended.details == {"event": "sessions_ended", "sessions": 1, "reason": "account_disabled"}


def test_a_closed_citizen_account_is_not_enabled_again(sec):
    from django.utils import timezone

    from tongban.accounts.models import CitizenProfile

    person = make_person()
    User.objects.filter(pk=person.pk).update(is_active=False)
    CitizenProfile.objects.filter(user=person).update(closed_at=timezone.now())
    person.refresh_from_db()
    with pytest.raises(TongbanError) as exc:
        services.account_active_set(actor=sec, user=person, active=True)
    assert exc.value.code == "conflict"
    person.refresh_from_db()
    assert not person.is_active
