"""Usage counters: calls per app, organisation, day (Asia/Shanghai), level and outcome.

The hot path only adds to a dictionary in this process; the buffer is written with one UPSERT per
distinct counter (`INSERT … ON CONFLICT DO UPDATE SET count = count + EXCLUDED.count`, SQLite ≥ 3.24
and PostgreSQL alike) at most every TONGBAN_PARTNER_METER_FLUSH_SECONDS, and at process exit.
Concurrent writers never wait on one hot row per request; a crash loses at most that many seconds
of counts (the audit log keeps every call, so the counters can be rebuilt from it).
"""

from __future__ import annotations

import atexit
import datetime as dt
import threading
import time
from collections import Counter

from django.db import connections, transaction
from django.utils.translation import gettext_noop

from tongban.core import clock
from tongban.core.logging import get_logger
from tongban.partners.conf import partners

log = get_logger("tongban.partners.metering")

# Outcomes as metered (and shown in the back office).
PASSED = "passed"
INCONSISTENT = "inconsistent"  # a field verdict was "inconsistent" (the enumeration signal)
NOT_PASSED = "not_passed"  # consistent but a status (deceased, lost card, expired …) stops the level
SOURCE_UNAVAILABLE = "source_unavailable"
THROTTLED = "throttled"  # refused by an abuse control before any source was asked
INVALID = "invalid"  # refused as bad input (422) before any source was asked
REFUSED = "refused"  # refused by the app's registration: suspended, purpose or level not allowed
OUTCOMES = (PASSED, INCONSISTENT, NOT_PASSED, SOURCE_UNAVAILABLE, THROTTLED, INVALID, REFUSED)
# Shown to people through gettext (tongban.partners.selectors_stats): never the raw code.
OUTCOME_LABELS = {PASSED: gettext_noop("通过"), INCONSISTENT: gettext_noop("不一致"), NOT_PASSED: gettext_noop("未通过（状态）"),
                  SOURCE_UNAVAILABLE: gettext_noop("数据源不可用"), THROTTLED: gettext_noop("限流拦截"), INVALID: gettext_noop("参数错误"),
                  REFUSED: gettext_noop("拒绝（未授权）")}

_Key = tuple[dt.date, str, int | None, str, str]  # day, app_key, organisation id, level, outcome

_lock = threading.Lock()
_buffer: Counter[_Key] = Counter()
_last_flush = time.monotonic()


def record(*, app_key: str, organisation_id: int | None, level: str, outcome: str, count: int = 1,
           day: dt.date | None = None) -> None:
    """Count a call. Cheap: a dictionary update, and now and then a flush."""
    global _last_flush
    key = (day or clock.today_local(), app_key, organisation_id, level, outcome)
    with _lock:
        _buffer[key] += count
        due = time.monotonic() - _last_flush >= partners().meter_flush_seconds
    if due:
        flush()


_UPSERT = (
    "INSERT INTO partners_usagecounter (day, app_key, organisation_id, level, outcome, count) "
    "VALUES (%s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (day, app_key, level, outcome) DO UPDATE SET count = partners_usagecounter.count + EXCLUDED.count"
)


def flush(using: str = "default") -> int:
    """Write the buffered counts; returns how many counters were written. Safe to call any time."""
    global _last_flush
    with _lock:
        pending = dict(_buffer)
        _buffer.clear()
        _last_flush = time.monotonic()
    if not pending:
        return 0
    rows = [(day.isoformat(), app_key, org, level, outcome, n)
            for (day, app_key, org, level, outcome), n in sorted(pending.items(), key=lambda kv: kv[0][:2] + kv[0][3:])]
    try:
        # Its own transaction when none is open; sorted rows so two flushing processes lock in one order.
        with transaction.atomic(using=using), connections[using].cursor() as cursor:
            cursor.executemany(_UPSERT, rows)
    except Exception as exc:
        with _lock:  # put them back: the next flush tries again
            _buffer.update(pending)
        # A warning, not an error: nothing is lost (the counts wait in the buffer for the next flush),
        # and while the database is down every flush fails by design (the fault suite stalls it).
        log.warning("metering.flush_failed", error=type(exc).__name__, detail=str(exc)[:200],
                    pending=sum(pending.values()))
        return 0
    return len(rows)


def discard() -> None:
    """Forget the buffer (tests)."""
    with _lock:
        _buffer.clear()


def install_process_hooks() -> None:
    atexit.register(_flush_at_exit)


def _flush_at_exit() -> None:
    try:
        flush()
    except Exception:  # noqa: S110 - at interpreter exit the database may be gone already
        pass
