"""The admin shows jobs read-only; operators may only retry or cancel them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tongban.jobs.models import Job, JobStatus
from tongban.jobs.services import job_enqueue

pytestmark = pytest.mark.django_db


def test_changelist_shows_dead_jobs_and_retry_action_works(admin_client, tasks, clock):
    dead = job_enqueue(task="test.ok", payload={"case_id": 1})
    pending = job_enqueue(task="test.ok", payload={"case_id": 2})
    Job.objects.filter(pk=dead.pk).update(status=JobStatus.DEAD, attempts=5, last_error="RuntimeError: boom")

    page = admin_client.get(reverse("admin:jobs_job_changelist") + "?status__exact=dead")
    assert page.status_code == 200
    body = page.content.decode()
    assert "RuntimeError: boom" in body and "retry_jobs" in body

    response = admin_client.post(
        reverse("admin:jobs_job_changelist"),
        {"action": "retry_jobs", "_selected_action": [dead.pk, pending.pk]},
        follow=True,
    )
    assert response.status_code == 200
    dead.refresh_from_db()
    pending.refresh_from_db()
    assert dead.status == JobStatus.PENDING and dead.attempts == 0
    assert pending.status == JobStatus.PENDING  # refused (not dead), left alone
    messages = [str(m) for m in response.context["messages"]]
    assert any("1 个任务" in m for m in messages)


def test_job_page_is_read_only_and_nothing_can_be_added(admin_client, tasks, clock):
    job = job_enqueue(task="test.ok", payload={"case_id": 1})
    page = admin_client.get(reverse("admin:jobs_job_change", args=[job.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert admin_client.post(reverse("admin:jobs_job_change", args=[job.pk]), {"status": "succeeded"}).status_code == 403
    assert admin_client.get(reverse("admin:jobs_job_add")).status_code == 403
    job.refresh_from_db()
    assert job.status == JobStatus.PENDING
