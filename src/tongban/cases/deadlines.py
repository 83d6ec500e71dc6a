"""The promised deadline of a case in working days (invariant 6), with the clock stopped during a
correction (补正): a countdown, a warning at 80 % of the limit, overdue past the due date.

Pure functions over dates in Asia/Shanghai, so the inbox, the citizen's page and the statistics all
count the same way. Day 0 is the day the clock started (submission); it is not counted, as
`tongban.core.calendar.add_working_days` does not count its start.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tongban.core.calendar import add_working_days, is_provisional, working_days_between

WARNING_SHARE = 0.8


class Status:
    NONE = "none"  # no limit (no clock started, or the item promises none)
    RUNNING = "running"
    WARNING = "warning"
    OVERDUE = "overdue"
    SUSPENDED = "suspended"  # 补正: the clock stands still
    FINISHED = "finished"
    FINISHED_LATE = "finished_late"


LABELS = {
    Status.NONE: "无时限",
    Status.RUNNING: "正常",
    Status.WARNING: "即将超期",
    Status.OVERDUE: "已超期",
    Status.SUSPENDED: "补正中（暂停计时）",
    Status.FINISHED: "按期办结",
    Status.FINISHED_LATE: "超期办结",
}


@dataclass(frozen=True)
class Clock:
    """What a case stores about its deadline."""

    limit_days: int  # promised working days (0: no promise)
    started_on: dt.date | None  # the day the clock started (submission)
    suspended_days: int = 0  # working days already spent in finished suspensions
    suspended_since: dt.date | None = None  # the day the current suspension began
    finished_on: dt.date | None = None


@dataclass(frozen=True)
class Countdown:
    status: str
    due_on: dt.date | None
    used_days: int
    remaining_days: int  # negative when overdue
    limit_days: int
    provisional: bool  # the due date falls in a year whose holiday notice is not out yet

    @property
    def label(self) -> str:
        return LABELS[self.status]

    @property
    def share(self) -> float:
        return self.used_days / self.limit_days if self.limit_days else 0.0


def suspension_length(since: dt.date, until: dt.date) -> int:
    """Working days a suspension from `since` to `until` took off the clock (both ends in it)."""
    return max(0, working_days_between(since, until))


def due_date(clock: Clock, today: dt.date) -> dt.date | None:
    if not clock.limit_days or clock.started_on is None:
        return None
    extra = clock.suspended_days
    if clock.suspended_since is not None:
        extra += suspension_length(clock.suspended_since, today)
    return add_working_days(clock.started_on, clock.limit_days + extra)


def countdown(clock: Clock, today: dt.date) -> Countdown:
    """Where the clock stands on `today`."""
    due = due_date(clock, today)
    if due is None or clock.started_on is None:
        return Countdown(Status.NONE, None, 0, 0, clock.limit_days, False)
    end = clock.finished_on or today
    used = working_days_between(clock.started_on, end) - clock.suspended_days
    if clock.suspended_since is not None:
        used -= suspension_length(clock.suspended_since, end)
    used = max(0, used)
    remaining = clock.limit_days - used
    provisional = is_provisional(due)
    if clock.finished_on is not None:
        status = Status.FINISHED if clock.finished_on <= due else Status.FINISHED_LATE
    elif clock.suspended_since is not None:
        status = Status.SUSPENDED
    elif today > due:
        status = Status.OVERDUE
    elif used >= WARNING_SHARE * clock.limit_days:
        status = Status.WARNING
    else:
        status = Status.RUNNING
    return Countdown(status, due, used, remaining, clock.limit_days, provisional)


def state_due(entered_on: dt.date, sla_days: int) -> dt.date | None:
    """The due date of one workflow state's own limit (DIGIT's per-state SLA), in working days."""
    return add_working_days(entered_on, sla_days) if sla_days else None
