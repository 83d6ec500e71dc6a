"""The sweep: sessions that end without a logout — idle past the timeout, expired or deleted in the session
store, their LoginSession row gone unnoticed — end their sign-ins through session_end (tokens revoked, one
logout token per client through the outbox, an audit entry), once; live sessions are left alone. It runs
as the recurring job sso.sessions_sweep and as `tongban sso sweep`, at most TONGBAN_SSO_SWEEP_LIMIT sessions
a run; a run that stopped at the limit queues a follow-up job."""

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


# -- the cap: at most TONGBAN_SSO_SWEEP_LIMIT sessions per run ------------------------------------------------


@pytest.fixture
def many_expired(db):
    """Seven people, each signed in to one client in their own browser, all idle past the timeout; and one
    more whose session is live. The client's back-channel URI is on loopback port 9 (refused at once), so
    a worker pass that reaches the outbox does not leave the machine."""
    from django.test import Client as Browser

    from tongban.accounts.models import LoginSession

    reg = register("丁应用", redirect="https://d.example.cn/cb", backchannel_logout_uri="http://127.0.0.1:9/bcl")
    people = []
    for i in range(8):
        person = make_person(f"m{i}", phone=f"1390000010{i}", seq=10 + i)
        browser = Browser()
        browser.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
        flow = Flow(http=browser, client=reg.client, secret=reg.secret, redirect_uri="https://d.example.cn/cb")
        flow.code()
        people.append(person)
    expired, live = people[:7], people[7]
    LoginSession.objects.filter(user__in=expired).update(last_seen_at=timezone.now() - dt.timedelta(hours=1))
    return expired, live


def _assert_each_swept_once(expired, live) -> None:
    """Every expired session ended, with exactly one logout outbox entry per sign-in; the live one open."""
    from tongban.sso.models import SessionParticipation

    parts = {p.pk: p for p in SessionParticipation.objects.all()}
    jobs = _logout_jobs()
    notified = [j.payload["participation"] for j in jobs]
    assert sorted(notified) == sorted(p.pk for p in parts.values() if p.user_id != live.pk)
    assert len({j.idempotency_key for j in jobs}) == len(jobs) == 7
    assert all(parts[pk].ended_at is not None for pk in notified)
    assert [p.user_id for p in parts.values() if p.ended_at is None] == [live.pk]


def test_a_run_ends_at_most_the_limit_and_says_more_remain(many_expired, settings):
    from tongban.audit.models import AuditEntry
    from tongban.sso.services import SweepResult, sessions_sweep

    expired, live = many_expired
    settings.TONGBAN_SSO_SWEEP_LIMIT = 3
    assert sessions_sweep() == SweepResult(sessions=3, notified=3, more=True)
    assert _open() == 5 and len(_logout_jobs()) == 3
    assert sessions_sweep() == SweepResult(sessions=3, notified=3, more=True)
    assert sessions_sweep() == SweepResult(sessions=1, notified=1, more=False)
    assert sessions_sweep() == SweepResult(sessions=0, notified=0, more=False)
    _assert_each_swept_once(expired, live)
    assert AuditEntry.objects.filter(action="auth.session.timeout").count() == 7


def test_exactly_the_limit_leaves_nothing_more(many_expired):
    from tongban.sso.services import SweepResult, sessions_sweep

    assert sessions_sweep(limit=7) == SweepResult(sessions=7, notified=7, more=False)
    _assert_each_swept_once(*many_expired)


def test_the_limit_setting_must_be_a_positive_whole_number(settings):
    from django.core.exceptions import ImproperlyConfigured

    from tongban.sso.services import sweep_limit

    assert sweep_limit() == 500  # config/env.py's default
    settings.TONGBAN_SSO_SWEEP_LIMIT = None
    with pytest.raises(ImproperlyConfigured):
        sweep_limit()
    settings.TONGBAN_SSO_SWEEP_LIMIT = "25"
    assert sweep_limit() == 25
    for bad in (0, -3, "many", True):
        settings.TONGBAN_SSO_SWEEP_LIMIT = bad
        with pytest.raises(ImproperlyConfigured):
            sweep_limit()


def test_a_session_ended_meanwhile_is_not_counted_or_audited_twice(many_expired):
    """A logout (or a second sweep) that ends a session between the sweep's look and its ending: the sweep
    finds nothing open, writes nothing, and does not count it."""
    from tongban.audit.models import AuditEntry
    from tongban.sso import services
    from tongban.sso.models import SessionParticipation

    expired, _ = many_expired
    part = SessionParticipation.objects.filter(user=expired[0]).get()
    services.session_end(session_key_hash=part.session_key_hash, reason="logout")
    assert services._sweep_end(session_key_hash=part.session_key_hash, user_id=expired[0].pk,
                               reason="session_idle") is None
    assert not AuditEntry.objects.filter(action="auth.session.timeout").exists()
    assert len(_logout_jobs()) == 1  # the logout's, not a second one


def test_the_job_queues_a_follow_up_until_all_are_swept(many_expired, settings, monkeypatch):
    from tongban.jobs import registry
    from tongban.jobs.models import Job, JobStatus
    from tongban.jobs.worker import Worker

    expired, live = many_expired
    settings.TONGBAN_SSO_SWEEP_LIMIT = 3
    spec = registry.get_task("sso.sessions_sweep")
    monkeypatch.setattr(registry, "recurring_tasks", lambda: [spec])
    worker = Worker(recurring=True)
    assert worker.enqueue_recurring() == 1
    for _ in range(10):  # each pass runs what is due: the sweep, its follow-up, the (refused) deliveries
        if not worker.run_once():
            break
    runs = list(Job.objects.filter(task="sso.sessions_sweep").order_by("pk"))
    assert [j.status for j in runs] == [JobStatus.SUCCEEDED] * 3  # 3 + 3 + 1, the third says no more
    assert runs[0].idempotency_key.startswith("every:300s:")
    assert [j.idempotency_key for j in runs[1:]] == [f"more:{runs[0].pk}", f"more:{runs[1].pk}"]
    _assert_each_swept_once(expired, live)
    # The recurring mechanism is untouched: the same period queues nothing new.
    assert worker.enqueue_recurring() == 0


def test_a_retried_run_queues_no_second_follow_up(many_expired, settings):
    """The job runs at least once: run twice under the same job (a crash before `succeeded` was recorded),
    it queues one follow-up."""
    from tongban.jobs.models import Job
    from tongban.jobs.registry import JobContext, _reset_current, _set_current
    from tongban.sso.tasks import sessions_sweep

    settings.TONGBAN_SSO_SWEEP_LIMIT = 3
    token = _set_current(JobContext(job_id=41, task="sso.sessions_sweep", attempt=1, max_attempts=2,
                                    idempotency_key=None))
    try:
        sessions_sweep()
        sessions_sweep()
    finally:
        _reset_current(token)
    assert list(Job.objects.filter(task="sso.sessions_sweep").values_list("idempotency_key", flat=True)) == ["more:41"]
    assert _open() == 2


def test_command_limit_and_what_remains(many_expired):
    from django.core.management import CommandError, call_command

    out = io.StringIO()
    call_command("sso", "sweep", "--limit", "5", stdout=out)
    assert "结束了 5 个已过期的会话，排队 5 条退出通知" in out.getvalue()
    assert "已达本次上限（5 个），仍有已过期的会话待清理" in out.getvalue()
    out = io.StringIO()
    call_command("sso", "sweep", "--limit", "5", stdout=out)
    assert "结束了 2 个" in out.getvalue() and "没有其他待清理的会话" in out.getvalue()
    _assert_each_swept_once(*many_expired)
    with pytest.raises(CommandError):
        call_command("sso", "sweep", "--limit", "0", stdout=io.StringIO())
