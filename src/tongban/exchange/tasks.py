"""The exchange's background work on the platform's job system: a delivery pass queued by the commits that
write messages (at most one a second) and swept every 30 s for retries and paused lanes (any number of
workers; lanes keep per-entity order); the daily verification statistics and reconciliation."""

from __future__ import annotations

from tongban.jobs.registry import job_task


@job_task("exchange.deliver", every=30, max_attempts=1, lease_seconds=120, queue="exchange")
def deliver() -> None:
    from tongban.exchange.conf import conf
    from tongban.exchange.delivery import deliver_pass

    if conf().url:
        deliver_pass(max_seconds=50)


@job_task("exchange.verification_stats_daily", every=86400, max_attempts=3, lease_seconds=600)
def verification_stats_daily() -> None:
    import datetime as dt

    from tongban.core import clock
    from tongban.exchange.conf import conf
    from tongban.exchange.services import verification_stats_emit

    if conf().url:
        verification_stats_emit(day=clock.today_local() - dt.timedelta(days=1))


@job_task("exchange.reconcile_daily", every=86400, max_attempts=3, lease_seconds=1800)
def reconcile_daily() -> None:
    import datetime as dt

    from tongban.core import clock
    from tongban.exchange.conf import conf
    from tongban.exchange.reconcile import reconcile_day

    if conf().url:
        reconcile_day(day=clock.today_local() - dt.timedelta(days=1))
