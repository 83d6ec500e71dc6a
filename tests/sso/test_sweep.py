"""The sweep: sessions that end without a logout — idle past the timeout, expired or deleted in the session
store, their LoginSession row gone unnoticed — end their sign-ins through session_end (tokens revoked, one
logout token per client through the outbox, an audit entry), once; live sessions are left alone. It runs
as the recurring job sso.sessions_sweep and as `tongban sso sweep`."""

from __future__ import annotations

import datetime as dt
import io
from importlib import import_module

import pytest
from django.conf import settings
from django.utils import timezone

from tests.sso.conftest import PASSWORD, Flow, make_person, register

pytestmark = pytest.mark.django_db


def _logout_jobs() -> list:
    from tongban.jobs.models import Job

    return list(Job.objects.filter(task="outbox.oidc_backchannel").order_by("pk"))


def _open() -> int:
    from tongban.sso.models import SessionParticipation

    return SessionParticipation.objects.filter(ended_at__isnull=True).count()


@pytest.fixture
def signed_in(client, person):
    client.login(username=person.username, password=PASSWORD)
    flows = []
    for name, host in (("甲应用", "a.example.cn"), ("乙应用", "b.example.cn")):
        reg = register(name, redirect=f"https://{host}/cb", backchannel_logout_uri=f"https://{host}/bcl")
        flow = Flow(http=client, client=reg.client, secret=reg.secret, redirect_uri=f"https://{host}/cb")
        flows.append((flow, flow.token(flow.code()).json()))
    return flows


@pytest.fixture
def bystander(db):
    """Someone else, signed in to the first client in their own browser: never touched."""
    from django.test import Client as Browser

    other = make_person("p2", phone="13900000002", seq=2)
    browser = Browser()
    browser.login(username=other.username, password=PASSWORD)
    reg = register("丙应用", redirect="https://c.example.cn/cb", backchannel_logout_uri="https://c.example.cn/bcl")
    flow = Flow(http=browser, client=reg.client, secret=reg.secret, redirect_uri="https://c.example.cn/cb")
    return flow, flow.token(flow.code()).json()


def _session_key(client) -> str:
    return client.session.session_key


def _assert_swept(signed_in, bystander, *, reason: str) -> None:
    from tongban.audit.models import AuditEntry
    from tongban.sso.services import sessions_sweep

    result = sessions_sweep()
    assert (result.sessions, result.notified) == (1, 2)
    jobs = _logout_jobs()
    assert len(jobs) == 2 and {j.payload["iss"] for j in jobs} == {"http://testserver"}
    for flow, tokens in signed_in:
        assert flow.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
    entry = AuditEntry.objects.filter(action="auth.session.timeout").latest("pk")
    assert entry.details["event"] == "sso_session_swept" and entry.details["reason"] == reason
    assert entry.details["notified"] == 2
    # The bystander's sign-in goes on.
    flow, tokens = bystander
    assert flow.refresh(tokens["refresh_token"]).status_code == 200
    assert _open() == 1
    # Idempotent: a second sweep finds nothing more to do and queues nothing.
    assert sessions_sweep().sessions == 0
    assert len(_logout_jobs()) == 2


def test_live_sessions_are_left_alone(signed_in, bystander):
    from tongban.sso.services import sessions_sweep

    assert sessions_sweep().sessions == 0
    assert not _logout_jobs() and _open() == 3


def test_idle_session_is_swept(signed_in, bystander, person):
    from tongban.accounts.models import LoginSession

    LoginSession.objects.filter(user=person).update(last_seen_at=timezone.now() - dt.timedelta(minutes=31))
    _assert_swept(signed_in, bystander, reason="session_idle")


def test_session_idle_by_its_own_clock_is_swept(signed_in, bystander, client):
    """The session's last-seen time (what the idle-timeout middleware reads) decides too."""
    from tongban.accounts.middleware import LAST_SEEN_KEY

    session = client.session
    session[LAST_SEEN_KEY] = int(timezone.now().timestamp()) - 3600
    session.save()
    _assert_swept(signed_in, bystander, reason="session_idle")


def test_session_expired_in_the_store_is_swept(signed_in, bystander, client):
    store = import_module(settings.SESSION_ENGINE).SessionStore
    store().delete(_session_key(client))
    _assert_swept(signed_in, bystander, reason="session_expired")


@pytest.mark.skipif(settings.SESSION_ENGINE != "django.contrib.sessions.backends.db", reason="database sessions")
def test_session_past_its_expiry_date_is_swept(signed_in, bystander, client):
    from django.contrib.sessions.models import Session

    Session.objects.filter(session_key=_session_key(client)).update(
        expire_date=timezone.now() - dt.timedelta(seconds=1))
    _assert_swept(signed_in, bystander, reason="session_expired")


def test_login_session_row_gone_unnoticed_is_swept(signed_in, bystander, person):
    from django.db import router

    from tongban.accounts.models import LoginSession

    rows = LoginSession.objects.filter(user=person)
    rows._raw_delete(router.db_for_write(LoginSession))  # no post_delete signal: the sweep must notice
    _assert_swept(signed_in, bystander, reason="session_gone")


def test_someone_else_signing_in_over_the_session_sweeps_the_first(signed_in, client):
    from tongban.sso.services import sessions_sweep

    make_person("p3", phone="13900000003", seq=3)
    client.login(username="p3", password=PASSWORD)  # Django flushes the first person's session
    assert sessions_sweep().sessions == 1
    assert len(_logout_jobs()) == 2 and _open() == 0


def test_a_logout_after_the_sweep_queues_nothing_new(signed_in, client, person):
    from tongban.accounts.models import LoginSession
    from tongban.sso.services import sessions_sweep

    LoginSession.objects.filter(user=person).update(last_seen_at=timezone.now() - dt.timedelta(hours=1))
    assert sessions_sweep().notified == 2
    client.post("/logout/")
    assert len(_logout_jobs()) == 2


def test_cache_session_store_that_is_down_is_not_believed(signed_in, monkeypatch):
    """A cache-backed store answers "no such session" when the cache is down: the sweep then ends only
    what the database says is over."""
    from tongban.sso import services

    monkeypatch.setattr(settings, "SESSION_ENGINE", "django.contrib.sessions.backends.cache")
    monkeypatch.setattr(settings, "SESSION_CACHE_ALIAS", "no-such-cache")
    assert services.sessions_sweep().sessions == 0
    assert _open() == 2


def test_recurring_job_runs_the_sweep(signed_in, person, monkeypatch):
    from tongban.accounts.models import LoginSession
    from tongban.jobs import registry
    from tongban.jobs.models import Job, JobStatus
    from tongban.jobs.services import recurring_enqueue_due
    from tongban.jobs.worker import Worker
    from tongban.sso.tasks import SWEEP_EVERY_SECONDS

    spec = registry.get_task("sso.sessions_sweep")
    assert spec is not None and spec.every == SWEEP_EVERY_SECONDS == 300
    # Only the sweep's job: other apps' recurring tasks are not this test's business.
    monkeypatch.setattr(registry, "recurring_tasks", lambda: [spec])
    LoginSession.objects.filter(user=person).update(last_seen_at=timezone.now() - dt.timedelta(hours=1))
    worker = Worker(recurring=True)
    assert worker.enqueue_recurring() == 1
    assert worker.enqueue_recurring() == 0  # once per period and worker
    assert len(recurring_enqueue_due()) == 1  # another worker in the same period: the same job
    job = Job.objects.get(task="sso.sessions_sweep")
    assert job.idempotency_key.startswith("every:300s:")
    worker.run_once()
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert _open() == 0 and len(_logout_jobs()) == 2


def test_command_runs_the_sweep_once(signed_in, person):
    from django.core.management import call_command

    from tongban.accounts.models import LoginSession

    LoginSession.objects.filter(user=person).update(last_seen_at=timezone.now() - dt.timedelta(hours=1))
    out = io.StringIO()
    call_command("sso", "sweep", stdout=out)
    assert "结束了 1 个已过期的会话，排队 2 条退出通知" in out.getvalue()
    out = io.StringIO()
    call_command("sso", "sweep", stdout=out)
    assert "结束了 0 个" in out.getvalue()
