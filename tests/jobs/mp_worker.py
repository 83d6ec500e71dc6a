"""Helper run in child processes by test_concurrency: the embedded default's real shape.

Several server processes, each with its own worker threads, on one SQLite file (WAL, IMMEDIATE,
busy_timeout) — not the in-memory test database, whose shared cache fails instead of waiting.

    python -m tests.jobs.mp_worker migrate
    python -m tests.jobs.mp_worker enqueue COUNT
    python -m tests.jobs.mp_worker work RECORD_FILE THREADS
    python -m tests.jobs.mp_worker issue PHONE OTHER SECONDS  # a login code to PHONE's new account, then a
                                                              # message to OTHER that lives SECONDS
    python -m tests.jobs.mp_worker verify TICKET CODE         # use the code, as the login page does

The last two print JSON on stdout (test_processes: a worker killed while it sends a login code).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import threading
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import transaction  # noqa: E402

from tongban.jobs.models import Job, JobStatus  # noqa: E402
from tongban.jobs.registry import current_job, job_task  # noqa: E402
from tongban.jobs.services import job_enqueue  # noqa: E402
from tongban.jobs.worker import Worker  # noqa: E402

RECORD_FILE = os.environ.get("MP_RECORD_FILE", os.devnull)


@job_task("mp.record")
def record(*, n: int) -> None:
    job = current_job()
    assert job is not None
    # O_APPEND writes of one short line are atomic: a line per run, from every process.
    fd = os.open(RECORD_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{job.job_id} {n} {os.getpid()}\n".encode())
    finally:
        os.close(fd)


def main(argv: list[str]) -> None:
    command = argv[0]
    if command == "migrate":
        call_command("migrate", database="default", verbosity=0)
    elif command == "enqueue":
        with transaction.atomic():
            for n in range(int(argv[1])):
                job_enqueue(task="mp.record", payload={"n": n})
    elif command == "work":
        threads_wanted = int(argv[1])
        stop = threading.Event()
        workers = [Worker(poll_interval=0.01, batch_size=5) for _ in range(threads_wanted)]
        threads = [threading.Thread(target=w.run_forever, args=(stop,)) for w in workers]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if not Job.objects.exclude(status__in=[JobStatus.SUCCEEDED, JobStatus.DEAD]).exists():
                break
            time.sleep(0.05)
        stop.set()
        for w in workers:
            w.wake()
        for thread in threads:
            thread.join(30)
    elif command in ("issue", "verify"):
        print(json.dumps(_sms_command(command, argv[1:])))
    else:
        raise SystemExit(f"unknown command {command}")


def _sms_command(command: str, args: list[str]) -> dict[str, object]:
    from django.utils import timezone

    from tongban.accounts import otp
    from tongban.accounts.models import CitizenProfile, OneTimeCode, User, UserKind
    from tongban.notifications.services import sms_queue

    if command == "issue":
        phone, other, seconds = args
        user = User.objects.create_user(f"mp-{phone}", "Citizen-2026-pw", kind=UserKind.CITIZEN)
        CitizenProfile.objects.create(user=user, phone=phone)
        ticket = otp.otp_send(phone=phone, purpose="login")
        row = OneTimeCode.objects.get(pk=ticket.id)
        login_job = Job.objects.get(task="outbox.sms")
        expires_at = timezone.now() + dt.timedelta(seconds=float(seconds))
        message = sms_queue(phone=other, text="【一网通办】测试：有效期很短的消息", purpose="test", expires_at=expires_at)
        short_job = Job.objects.get(task="outbox.sms", idempotency_key=f"sms:{message.pk}")
        return {"ticket": ticket.id, "issued_at": row.created_at.isoformat(), "login_job": login_job.pk,
                "short_job": short_job.pk, "short_expires_at": expires_at.isoformat()}
    if command == "verify":
        row = otp.otp_verify(ticket_id=int(args[0]), purpose="login", code=args[1])
        return {"verified": row.pk}
    raise AssertionError(command)


if __name__ == "__main__":
    main(sys.argv[1:])
