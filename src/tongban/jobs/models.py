"""One table for background work: jobs and outbox messages alike (DESIGN.md §2, invariant 4).

An outbox message is a job whose task is `outbox.<channel>`, so retries, back-off, terminal
failures and the operator's view are the same mechanism for both. docs/jobs.md explains the states.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.db.models.query import QuerySet


class JobStatus(models.TextChoices):
    PENDING = "pending", _("待执行")
    RUNNING = "running", _("执行中")
    RETRYING = "retrying", _("失败待重试")
    SUCCEEDED = "succeeded", _("已成功")
    DEAD = "dead", _("已失败（不再重试）")
    CANCELLED = "cancelled", _("已取消")
    # Its useful life (expires_at) ran out before it ran: a login code past its lifetime is not sent.
    EXPIRED = "expired", _("已过期（未执行）")


# A worker may pick these up once run_after has passed.
RUNNABLE_STATUSES = (JobStatus.PENDING, JobStatus.RETRYING)
# Nothing happens to these any more unless an operator acts.
TERMINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.DEAD, JobStatus.CANCELLED, JobStatus.EXPIRED)
# An operator may send these back to the queue.
RETRYABLE_STATUSES = (JobStatus.DEAD, JobStatus.CANCELLED)
# An operator may cancel these (a running job cannot be stopped from outside).
CANCELLABLE_STATUSES = (JobStatus.PENDING, JobStatus.RETRYING, JobStatus.DEAD)

OUTBOX_PREFIX = "outbox."


class JobQuerySet(models.QuerySet["Job"]):
    def runnable(self, now: dt.datetime) -> JobQuerySet:
        return self.filter(status__in=RUNNABLE_STATUSES, run_after__lte=now)

    def live(self, now: dt.datetime) -> JobQuerySet:
        """Within their useful life (or without one): the only jobs a worker may start."""
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))

    def overdue(self, now: dt.datetime) -> JobQuerySet:
        """Waiting jobs whose useful life has passed: they are marked expired, never run."""
        return self.filter(status__in=RUNNABLE_STATUSES, expires_at__lte=now)

    def lease_expired(self, now: dt.datetime) -> QuerySet[Job]:
        return self.filter(status=JobStatus.RUNNING, lease_expires_at__lte=now)

    def dead(self) -> QuerySet[Job]:
        return self.filter(status=JobStatus.DEAD)

    def outbox(self) -> QuerySet[Job]:
        return self.filter(task__startswith=OUTBOX_PREFIX)


class Job(models.Model):
    id = models.BigAutoField(primary_key=True)
    task = models.CharField("任务", max_length=100)
    queue = models.CharField("队列", max_length=50, default="default")
    # Ids and small non-personal values only; handlers load the rest (STYLE habit 4, invariant 1).
    payload = models.JSONField("参数", default=dict, blank=True)
    status = models.CharField("状态", max_length=16, choices=JobStatus.choices, default=JobStatus.PENDING)
    attempts = models.PositiveIntegerField("已执行次数", default=0)
    max_attempts = models.PositiveIntegerField("最多执行次数", default=5)
    run_after = models.DateTimeField("最早执行时间", default=timezone.now)
    locked_by = models.CharField("执行者", max_length=200, blank=True, default="")
    lease_expires_at = models.DateTimeField("租约到期", null=True, blank=True)
    last_error = models.TextField("最近错误", blank=True, default="")
    idempotency_key = models.CharField("幂等键", max_length=200, null=True, blank=True)
    # The end of the job's useful life (a login code's expiry): not started after it (status expired).
    expires_at = models.DateTimeField("有效期至", null=True, blank=True)
    created_at = models.DateTimeField("创建时间", default=timezone.now)
    updated_at = models.DateTimeField("更新时间", default=timezone.now)
    finished_at = models.DateTimeField("结束时间", null=True, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        verbose_name = "后台任务"
        verbose_name_plural = "后台任务"
        ordering = ["-id"]
        indexes = [
            # The claim query: runnable rows in (run_after, id) order; the partial index stays
            # small however many finished jobs the table keeps.
            models.Index(
                fields=["run_after", "id"],
                condition=Q(status__in=["pending", "retrying"]),
                name="jobs_job_runnable_idx",
            ),
            models.Index(fields=["status", "run_after"], name="jobs_job_status_run_after_idx"),
            # Reclaiming the jobs of a worker that died mid-job.
            models.Index(
                fields=["lease_expires_at"], condition=Q(status="running"), name="jobs_job_lease_idx"
            ),
            models.Index(fields=["task", "status"], name="jobs_job_task_status_idx"),
            # Waiting jobs that can outlive their use, for the worker's pass that expires them.
            models.Index(
                fields=["expires_at"],
                condition=Q(status__in=["pending", "retrying"], expires_at__isnull=False),
                name="jobs_job_expiry_idx",
            ),
        ]
        constraints = [
            # Per task: the same event may go to two channels under one key. NULLs never clash.
            models.UniqueConstraint(fields=["task", "idempotency_key"], name="jobs_job_task_idempotency_key_uniq"),
            models.CheckConstraint(condition=Q(max_attempts__gte=1), name="jobs_job_max_attempts_gte_1"),
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in JobStatus]), name="jobs_job_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.task} ({self.status})"

    @property
    def is_outbox(self) -> bool:
        return self.task.startswith(OUTBOX_PREFIX)

    @property
    def channel(self) -> str | None:
        return self.task[len(OUTBOX_PREFIX):] if self.is_outbox else None
