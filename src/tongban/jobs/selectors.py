"""Reads of the job table for operators: what died, what waits, counts per state and task."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Count, QuerySet

from tongban.jobs.models import Job, JobStatus


def job_get(*, job_id: int) -> Job | None:
    return Job.objects.filter(pk=job_id).first()


def jobs_list(*, status: str | None = None, task: str | None = None, limit: int = 50) -> QuerySet[Job]:
    """Newest first; `task` may end with `*` to match a prefix (`outbox.*`)."""
    qs = Job.objects.all()
    if status:
        qs = qs.filter(status=status)
    if task:
        qs = qs.filter(task__startswith=task[:-1]) if task.endswith("*") else qs.filter(task=task)
    return qs.order_by("-id")[:limit]


def jobs_dead(*, task: str | None = None, limit: int = 100) -> QuerySet[Job]:
    """Terminal failures waiting for an operator (retry or cancel), most recent failure first."""
    qs = Job.objects.dead()
    if task:
        qs = qs.filter(task=task)
    return qs.order_by("-finished_at", "-id")[:limit]


def job_counts_by_status() -> dict[str, int]:
    """Every status with its count, zeros included, in the order of the status enumeration."""
    counts = {status.value: 0 for status in JobStatus}
    for row in Job.objects.order_by().values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def job_counts_by_task() -> dict[str, dict[str, int]]:
    """task -> status -> count, for the statuses that task has."""
    result: dict[str, dict[str, int]] = defaultdict(dict)
    for row in Job.objects.order_by().values("task", "status").annotate(n=Count("id")):
        result[row["task"]][row["status"]] = row["n"]
    return dict(sorted(result.items()))


def jobs_dead_count() -> int:
    return Job.objects.dead().count()
