"""Background work of the crypto app: the re-encryption walk of a key rotation."""

from __future__ import annotations

from tongban.crypto import services
from tongban.jobs.registry import current_job, job_task
from tongban.jobs.worker import format_error


@job_task(services.ROTATE_TASK, max_attempts=10, backoff=5, backoff_cap=300, lease_seconds=600, queue="keys")
def rotate_keys(*, rotation_id: int, step: int = 0) -> None:
    """Run the walk for a while, then hand over to the next job (see services.rotation_step)."""
    try:
        services.rotation_step(rotation_id=rotation_id, step=step)
    except Exception as exc:
        job = current_job()
        if job is not None and job.attempt >= job.max_attempts:
            services.rotation_fail(rotation_id=rotation_id, error=format_error(exc))
        raise
