"""Abuse controls on identity verification (DESIGN §1: 安全风险发现预警, 阻断数据外泄).

* Identity velocity: one identity (keyed by its blind index, never the number) verified more than
  TONGBAN_PARTNER_IDENTITY_LIMIT_PER_HOUR times in a sliding hour by one caller (a partner app, a citizen
  account, a staff member) is throttled for that caller only; verified more than
  TONGBAN_PARTNER_IDENTITY_ALERT_PER_HOUR times by every caller together, it raises an alert (once an
  hour) and is still served to callers under their own limit.
* Enumeration is a rule of the risk engine (tongban.risk, rule `inconsistent_ratio`), which counts the
  verification audit entries; its throttle response pauses the app through `app_throttle_set` here, and
  a repeat offender's key is suspended.

All counters are sliding-window counters in the cache (tongban.core.ratelimit): atomic, lock-free.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import transaction

from tongban.audit.actions import Action, Outcome
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core import ratelimit
from tongban.core.logging import get_logger
from tongban.partners.conf import partners
from tongban.partners.models import AbuseAlert, AlertKind

log = get_logger("tongban.partners.abuse")

HOUR = 3600
_NO_LIMIT = 1 << 40


@dataclass(frozen=True)
class VelocityResult:
    allowed: bool  # this caller may verify this identity again now
    count: int  # this caller's verifications of it in the sliding hour, this one included
    retry_after: int
    total: int = 0  # every caller's together
    alert: bool = False  # every caller's together are past the alert threshold


def identity_velocity_hit(subject_ref: str, caller: str = "") -> VelocityResult:
    """Count one verification of the identity `subject_ref` by `caller` (a partner app, an account, a channel).

    The limit (TONGBAN_PARTNER_IDENTITY_LIMIT_PER_HOUR) is per caller: a caller past it is refused, and only
    that caller — a count shared by every channel let anyone's junk attempts on a person's ID number make
    the partner API refuse that person's true name and number (issue 11, item 11). Every caller's
    verifications together are counted too, and past TONGBAN_PARTNER_IDENTITY_ALERT_PER_HOUR they raise
    the velocity alert (identity_velocity_alert) while every caller under its own limit is still served."""
    conf = partners()
    # hit_many: one pipelined round trip on Redis for both counters
    mine, every = ratelimit.hit_many([
        ratelimit.Limit(f"pv-idv:{subject_ref}:{caller}", conf.identity_limit_per_hour, HOUR),
        ratelimit.Limit(f"pv-idv-all:{subject_ref}", conf.identity_alert_per_hour, HOUR)])
    return VelocityResult(mine.allowed, int(mine.count), mine.retry_after, int(every.count), not every.allowed)


def identity_velocity_alert(*, subject_ref: str, count: int, app_key: str, actor: Actor,
                            refused: bool = True) -> AbuseAlert | None:
    """Raise the alert once per identity per hour (the cache add decides, atomically), with its audit entry
    in one transaction. `refused`: whether this caller was refused (past its own limit) or only the
    identity's total was past the alert threshold."""
    if not cache.add(f"pv-idv-alert:{subject_ref}", 1, timeout=HOUR):
        return None
    with transaction.atomic():
        alert = AbuseAlert.objects.create(kind=AlertKind.IDENTITY_VELOCITY, app_key=app_key[:32],
                                          subject_ref=subject_ref, window_seconds=HOUR, count=count)
        audit_record(action=Action.PARTNER_ABUSE_ALERT, outcome=Outcome.DENIED, actor=actor,
                     subject=Subject("identity", subject_ref),
                     details={"alert_id": alert.pk, "kind": alert.kind, "window_seconds": HOUR, "count": count,
                              "app": app_key, "refused": refused})
    log.warning("abuse.identity_velocity", alert_id=alert.pk, app=app_key, count=count, refused=refused)
    return alert


def volume_alert(*, kind: str, scope: str, count: int, window_seconds: int, actor: Actor,
                 details: dict[str, Any] | None = None) -> AbuseAlert | None:
    """A platform-wide volume alert — AlertKind.SMS_CEILING: one-time codes by SMS reached the global ceiling
    (tongban.accounts.otp) — raised once per window (the cache add decides, atomically), in its own
    transaction with its audit entry. `scope` names what was counted (no personal data)."""
    if not cache.add(f"abuse-volume-alert:{kind}:{scope}", 1, timeout=window_seconds):
        return None
    with transaction.atomic():
        alert = AbuseAlert.objects.create(kind=kind, app_key=scope[:32], window_seconds=window_seconds, count=count)
        audit_record(action=Action.PARTNER_ABUSE_ALERT, outcome=Outcome.DENIED, actor=actor,
                     subject=Subject("partners.abusealert", alert.pk),
                     details={"alert_id": alert.pk, "kind": kind, "scope": scope, "window_seconds": window_seconds,
                              "count": count, **(details or {})})
    log.warning("abuse.volume", alert_id=alert.pk, kind=kind, scope=scope, count=count)
    return alert


def throttle_key(app_key: str) -> str:
    """The cache key that holds, while the app is throttled, the unix time (an integer) its throttle ends."""
    return f"pv-app-throttle:{app_key}"


def throttle_wait(until: Any) -> int:
    """Seconds left of a throttle whose end `until` was read from throttle_key (0: not throttled)."""
    if until is None:
        return 0
    return max(1, int(float(until) - time.time()))


def app_throttled_for(app_key: str) -> int:
    """Seconds the app stays throttled for enumeration (0: not throttled)."""
    return throttle_wait(cache.get(throttle_key(app_key)))


def app_throttle_set(app_key: str, seconds: int) -> None:
    """Pause the app for `seconds` (the risk engine's throttle response on an app, tongban.risk): the partner
    API reads this key in its first cache round trip and answers app_throttled (429) until it ends."""
    # An integer, so the partner API can read it raw in its first cache round trip (ratelimit.claim_and_hit).
    cache.set(throttle_key(app_key), int(time.time()) + seconds, timeout=seconds)


def app_throttle_clear(app_key: str) -> None:
    """End the app's throttle now (a security admin lifted the response)."""
    cache.delete(throttle_key(app_key))
