"""Reads of the risk app: whether a response is in force, the console's lists, a citizen's verifications."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from tongban.core import clock, ratelimit
from tongban.risk.models import Alert, Block, BlockStatus, ExportTicket, Incident


def response_active(kind: str, target: str) -> bool:
    """Whether an automatic response `kind` is in force on `target`. The table decides (one indexed query):
    a lift by a security admin in any process takes effect at once, whatever each process's local cache
    holds (the embedded default's cache is per process)."""
    now = clock.now()
    return Block.objects.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), kind=kind, target=target,
                                status=BlockStatus.ACTIVE).exists()


@dataclass(frozen=True)
class LoginLimits:
    """The login lockout's numbers, from the rules login_lockout and login_address_failures."""

    max_failures: float  # failures of one account within `window` before it is locked
    window: int  # seconds
    lockout_seconds: int  # how long the lock lasts
    address_max_failures: float  # failures from one client address within `address_window` before it is refused
    address_window: int


def login_limits() -> LoginLimits:
    """Read from the engine's cached rule set (no query per attempt). The two rules are mandatory: a row
    missing (a flushed database) reads as its shipped values, and `enabled` is not consulted."""
    from tongban.risk import engine
    from tongban.risk.rules import LOGIN_ADDRESS, LOGIN_LOCKOUT, shipped

    found = engine.rules()

    def values(code: str) -> tuple[float, int, int]:
        row = found.get(code)
        if row is not None:
            return float(row.threshold), int(row.window_seconds), int(row.response_seconds)
        default = shipped(code)
        return float(default["threshold"]), int(default["window_seconds"]), int(default["response_seconds"])

    account, window, lockout_seconds = values(LOGIN_LOCKOUT)
    address, address_window, _ = values(LOGIN_ADDRESS)
    return LoginLimits(account, window, max(1, lockout_seconds), address, address_window)


def login_failures(*, account: str | None = None, ip: str | None = None,
                   limits: LoginLimits | None = None) -> float:
    """The current failure count (a sliding-window estimate) of an account (its username digest) or of a
    client address, as counted by services.login_failure_count."""
    from tongban.risk.rules import LOGIN_ADDRESS, LOGIN_LOCKOUT

    limits = limits or login_limits()
    if account is not None:
        name, window = f"risk:{LOGIN_LOCKOUT}:{account}", limits.window
    else:
        name, window = f"risk:{LOGIN_ADDRESS}:{ip}", limits.address_window
    return float(ratelimit.peek(name, limit=1 << 40, window=window).count)


def can_manage(user: Any) -> bool:
    from tongban.accounts.roles import StaffRole

    return bool(getattr(user, "has_role", lambda _r: False)(StaffRole.SECURITY_ADMIN))


def alerts_for_console(user: Any, *, limit: int = 200) -> QuerySet[Alert]:
    if not can_manage(user):
        return Alert.objects.none()
    return Alert.objects.select_related("rule").order_by("status", "-created_at")[:limit]


def blocks_active(user: Any) -> QuerySet[Block]:
    if not can_manage(user):
        return Block.objects.none()
    return Block.objects.select_related("alert__rule").filter(status=BlockStatus.ACTIVE).order_by("-created_at")


def tickets_pending(user: Any) -> QuerySet[ExportTicket]:
    if not can_manage(user):
        return ExportTicket.objects.none()
    return ExportTicket.objects.select_related("requester").filter(status="pending").order_by("created_at")


def incidents(user: Any) -> QuerySet[Incident]:
    if not can_manage(user):
        return Incident.objects.none()
    return Incident.objects.select_related("alert__rule").prefetch_related("timeline__actor")[:50]


def citizen_verifications(user: Any, *, limit: int = 50) -> list[dict[str, Any]]:
    """Who verified this citizen's identity and when (MOSIP's resident view): the partner organisation,
    its app and the purpose of each call on the partner API, from the audit log. Reads the account's
    ID number (decrypted, to find its reference): the caller audits the page's personal-data read."""
    from tongban.accounts.citizens import profile_of
    from tongban.audit.actions import Action
    from tongban.audit.models import AuditEntry
    from tongban.partners.models import PartnerApp, PurposeCode
    from tongban.verification.services import identity_reference

    profile = profile_of(user)
    if not profile.level or not profile.id_number:
        return []
    ref = identity_reference(profile.id_type, profile.id_number)
    entries = list(AuditEntry.objects.filter(action=Action.VERIFICATION_REQUEST, subject_type="identity",
                                             subject_id=ref, actor_type="partner_app")
                   .order_by("-occurred_at")[:limit])
    app_ids = {entry.actor_id for entry in entries}
    apps = {app.app_id: app for app in PartnerApp.objects.select_related("organisation").filter(app_id__in=app_ids)}
    purposes = dict(PurposeCode.objects.values_list("code", "name"))
    rows = []
    for entry in entries:
        details = entry.details or {}
        app = apps.get(entry.actor_id)
        purpose = str(details.get("purpose") or "")
        rows.append({"at": entry.occurred_at,
                     "organisation": app.organisation.name if app else entry.actor_id,
                     "app": app.name if app else "",
                     "purpose": purposes.get(purpose, purpose),
                     "passed": bool(details.get("passed"))})
    return rows
