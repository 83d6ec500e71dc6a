"""The risk engine: every audit entry (tongban.audit.signals.entry_recorded) is offered to the rules that
watch its action; a rule past its threshold raises an alert with evidence and its automatic response.

This is the one way events reach the rules: the platform already audits every login, verification,
personal-data read, export and admin action in the same transaction as the act (DESIGN §3, invariant 3),
so the risk engine subscribes to the audit log rather than asking each app to report twice. Counters are
sliding windows in the cache (tongban.core.ratelimit): atomic and lock-free. A rule's failure is logged and
never breaks the audited act.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from tongban.audit.models import AuditEntry
from tongban.audit.signals import entry_recorded
from tongban.core import calendar, clock, ratelimit
from tongban.core.logging import get_logger
from tongban.risk.models import Alert, Rule

log = get_logger("tongban.risk")

_BIG = 1 << 40
_rules: dict[str, Rule] = {}
_rules_at = 0.0
RULES_TTL = 15.0


def rules() -> dict[str, Rule]:
    """The rules by code, read from the database at most every RULES_TTL seconds per process."""
    global _rules, _rules_at
    ttl = float(getattr(settings, "TONGBAN_RISK_RULES_TTL", RULES_TTL))
    if time.monotonic() - _rules_at > ttl or ttl <= 0:
        _rules = {rule.code: rule for rule in Rule.objects.all()}
        _rules_at = time.monotonic()
    return _rules


def rules_forget() -> None:
    global _rules_at
    _rules_at = 0.0


def rule(code: str) -> Rule | None:
    found = rules().get(code)
    return found if found is not None and found.enabled else None


def connect() -> None:
    entry_recorded.connect(_on_entry, dispatch_uid="tongban_risk_engine")


def _on_entry(sender: Any, entry: AuditEntry, **kwargs: Any) -> None:
    handler = HANDLERS.get(entry.action)
    if handler is None:
        return
    # Counting touches only the cache; every write (an alert, its response) is in its own atomic block —
    # a savepoint inside the caller's transaction — so a failing rule leaves that transaction intact and
    # the hot paths (a partner's verification) cost no extra statement.
    try:
        handler(entry)
    except Exception:  # the audited act must never fail because a rule did
        log.exception("risk.rule_failed", action=entry.action)


# -- counting ---------------------------------------------------------------------------------------------


def count(code: str, key: str, window: int, cost: int = 1) -> float:
    return float(ratelimit.hit(f"risk:{code}:{key}", limit=_BIG, window=window, cost=cost).count)


MAX_MEMBERS = 1000


def distinct(code: str, key: str, member: str, window: int, *, dimension: str = "n") -> float:
    """How many distinct members were seen for `key` in the last `window` seconds: one cache entry per
    (rule, key, dimension) holding member → last seen, pruned as it is read and capped at MAX_MEMBERS (a
    rule's threshold is far below). One entry, not one per member: the embedded default's local-memory cache
    culls when it holds many keys. Read-modify-write, so two writers at the same instant may lose one member
    each — an undercount by a few, never an alert for nothing."""
    now = time.time()
    name = f"risk:{code}:{key}:{dimension}:set"
    seen: dict[str, float] = cache.get(name) or {}
    live = {m: t for m, t in seen.items() if now - t < window}
    if member not in live and len(live) >= MAX_MEMBERS:
        return float(len(live))
    live[member] = now
    cache.set(name, live, timeout=window)
    return float(len(live))


def distinct_since(code: str, key: str, since: float, *, dimension: str = "n") -> float:
    """Distinct members seen for `key` after the unix time `since`."""
    seen: dict[str, float] = cache.get(f"risk:{code}:{key}:{dimension}:set") or {}
    return float(sum(1 for t in seen.values() if t > since))


def lifted_at(rule: Rule, key: str) -> float:
    """When a security admin last lifted a response of `rule` on `key` (unix time; 0: never). What came
    before does not count again: the lift may be made in another process, whose cache this one does not
    share (the embedded default), so the table says when the key's slate was wiped."""
    from django.db.models import Max

    from tongban.risk.models import Block

    last = Block.objects.filter(alert__rule=rule, alert__key=key[:128], lifted_at__isnull=False) \
        .aggregate(at=Max("lifted_at"))["at"]
    return last.timestamp() if last is not None else 0.0


def members(code: str, key: str, *, dimension: str = "n") -> list[str]:
    return list((cache.get(f"risk:{code}:{key}:{dimension}:set") or {}).keys())


def counters_reset(code: str, key: str, window: int) -> None:
    """Judge the key afresh (after its response is lifted): its counts and its alert's once-per-window mark."""
    for suffix in ("", ":all", ":bad"):
        ratelimit.reset(f"risk:{code}:{key}{suffix}", window=window)
    cache.delete_many([f"risk:{code}:{key}:n:set", f"risk:{code}:{key}:a:set", f"risk-alerted:{code}:{key}"])


def network_of(ip: str) -> str:
    """The /24 (IPv4) or /64 (IPv6) network an address belongs to."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _drill(entry: AuditEntry) -> bool:
    return bool((entry.details or {}).get("drill"))


# -- the rules -------------------------------------------------------------------------------------------


def _login_failed(entry: AuditEntry) -> None:
    from tongban.risk.services import alert_raise

    details = entry.details or {}
    account = str(details.get("username_digest") or "")
    ip = entry.client_ip
    if not account or not ip:
        return  # a wrong SMS code counts against the address in accounts, not here
    stuffing = rule("credential_stuffing")
    if stuffing is not None:
        seen = distinct(stuffing.code, ip, account, stuffing.window_seconds)
        if seen >= stuffing.threshold:
            seen = distinct_since(stuffing.code, ip, lifted_at(stuffing, ip))
        if seen >= stuffing.threshold:
            alert_raise(rule=stuffing, key=ip, evidence={
                "address": ip, "accounts": int(seen), "window_seconds": stuffing.window_seconds},
                targets=[f"address:{ip}"])
    spraying = rule("password_spraying")
    if spraying is not None:
        accounts = distinct(spraying.code, "platform", account, spraying.window_seconds)
        addresses = distinct(spraying.code, "platform", ip, spraying.window_seconds, dimension="a")
        if accounts >= spraying.threshold:
            since = lifted_at(spraying, "platform")
            accounts = distinct_since(spraying.code, "platform", since)
            addresses = distinct_since(spraying.code, "platform", since, dimension="a")
        if accounts >= spraying.threshold and addresses >= float(spraying.params.get("min_addresses", 1)):
            targets = [f"account:{digest}" for digest in members(spraying.code, "platform")]
            alert_raise(rule=spraying, key="platform", evidence={
                "accounts": int(accounts), "addresses": int(addresses), "window_seconds": spraying.window_seconds,
                "account_digests": targets[:50]}, targets=targets)


def _staff_login(entry: AuditEntry) -> None:
    from tongban.risk.models import KnownNetwork
    from tongban.risk.services import alert_raise

    if entry.subject_type != "accounts.user" or not entry.subject_id or not entry.client_ip:
        return
    if (entry.details or {}).get("kind") != "staff":
        return
    network = network_of(entry.client_ip)
    user_id = int(entry.subject_id)
    known = KnownNetwork.objects.filter(user_id=user_id)
    if known.filter(network=network).exists():
        return
    first_ever = not known.exists()
    with transaction.atomic():
        KnownNetwork.objects.get_or_create(user_id=user_id, network=network)
    found = rule("staff_new_network")
    if found is not None and not first_ever:
        alert_raise(rule=found, key=f"user:{user_id}", evidence={
            "user_id": user_id, "network": network,
            "known_networks": list(known.exclude(network=network).values_list("network", flat=True)[:10])},
            drill=_drill(entry), once_per_window=False)


def _verification(entry: AuditEntry) -> None:
    from tongban.risk.services import alert_raise

    details = entry.details or {}
    app = str(details.get("app") or "")
    if not app:
        return
    ref = entry.subject_id
    many = rule("id_many_apps")
    if many is not None and ref:
        apps = distinct(many.code, ref, app, many.window_seconds)
        if apps >= many.threshold:
            alert_raise(rule=many, key=ref, evidence={
                "identity_ref": ref, "apps": members(many.code, ref)[:20], "window_seconds": many.window_seconds})
    ratio_rule = rule("inconsistent_ratio")
    verdicts = details.get("verdicts")
    if ratio_rule is not None and isinstance(verdicts, list):
        if details.get("reason") == "source_unavailable":
            return
        inconsistent = any(str(v).endswith("=inconsistent") for v in verdicts)
        window = ratio_rule.window_seconds
        total, bad = ratelimit.hit_many([
            ratelimit.Limit(f"risk:{ratio_rule.code}:{app}:all", _BIG, window),
            ratelimit.Limit(f"risk:{ratio_rule.code}:{app}:bad", _BIG, window, cost=1 if inconsistent else 0)])
        sample = float(ratio_rule.params.get("min_sample", 50))
        if total.count >= sample and bad.count / total.count > ratio_rule.threshold:
            # A repeat offender (its Nth alert within a day) has its key suspended instead of paused.
            since = clock.now() - dt.timedelta(days=1)
            before = Alert.objects.filter(rule=ratio_rule, key=app, created_at__gte=since).count()
            escalate = before + 1 >= int(ratio_rule.params.get("suspend_after", 2))
            alert_raise(rule=ratio_rule, key=app, evidence={
                "app": app, "calls": int(total.count), "inconsistent": int(bad.count),
                "ratio": round(bad.count / total.count, 4), "window_seconds": window, "suspended": escalate},
                targets=[f"app:{app}"], response="suspend_app" if escalate else None)
            # A fresh window after the cool-down: the app is judged on what it does next.
            ratelimit.reset(f"risk:{ratio_rule.code}:{app}:all", window=window)
            ratelimit.reset(f"risk:{ratio_rule.code}:{app}:bad", window=window)


def _is_staff(user_id: int) -> bool:
    """Whether the account is staff (one primary-key look-up; a read of personal data costs far more)."""
    from tongban.accounts.models import User

    return User.objects.filter(pk=user_id, kind="staff").exists()


def off_hours(at: dt.datetime, start_hour: int, end_hour: int) -> bool:
    local = clock.to_local(at)
    return not calendar.is_working_day(local.date()) or not (start_hour <= local.hour < end_hour)


def _personal_read(entry: AuditEntry) -> None:
    from tongban.risk.services import alert_raise

    if entry.actor_type != "user" or not entry.actor_id.isdigit() or not _is_staff(int(entry.actor_id)):
        return  # a citizen reading their own data is no exfiltration
    officer = entry.actor_id
    # Every personal-data read is counted per actor (the exfiltration guard's figure; the console shows it).
    count("reads", officer, 86400)
    late = rule("off_hours_reads")
    if late is not None and off_hours(entry.occurred_at, int(late.params.get("start_hour", 8)),
                                       int(late.params.get("end_hour", 20))):
        n = count(late.code, officer, late.window_seconds)
        if n >= late.threshold:
            alert_raise(rule=late, key=f"user:{officer}", evidence={
                "user_id": int(officer), "reads_off_hours": int(n), "window_seconds": late.window_seconds,
                "local_time": clock.to_local(entry.occurred_at).isoformat()})
    z_rule = rule("officer_reads_zscore")
    if z_rule is not None:
        n = count(z_rule.code, officer, z_rule.window_seconds)
        every = max(1, int(z_rule.params.get("check_every", 10)))
        if n >= float(z_rule.params.get("min_reads", 50)) and int(n) % every == 0:
            officer_zscore_check(int(officer), z_rule)


def officer_zscore_check(user_id: int, z_rule: Rule) -> float | None:
    """The officer's personal-data reads in the window against their department's officers' (from the
    audit log): past the rule's z-score, an alert and its response. Returns the z-score (None: no peers)."""
    from django.db.models import Count

    from tongban.accounts.models import User
    from tongban.audit.actions import Action
    from tongban.risk.services import alert_raise

    officer = User.objects.filter(pk=user_id).only("department").first()
    if officer is None or not officer.department:
        return None
    peers = [str(pk) for pk in User.objects.filter(department=officer.department, kind="staff", role_officer=True,
                                                is_active=True)
             .values_list("pk", flat=True)]
    since = clock.now() - dt.timedelta(seconds=z_rule.window_seconds)
    counts = dict(AuditEntry.objects.filter(action=Action.PERSONAL_DATA_READ, actor_type="user",
                                            actor_id__in=peers, occurred_at__gte=since)
                  .values_list("actor_id").annotate(n=Count("id")).values_list("actor_id", "n"))
    others = [counts.get(pk, 0) for pk in peers if pk != str(user_id)]
    if len(others) < int(z_rule.params.get("min_peers", 3)):
        return None
    mean = sum(others) / len(others)
    sd = math.sqrt(sum((x - mean) ** 2 for x in others) / len(others)) or 1.0
    mine = counts.get(str(user_id), 0)
    z = (mine - mean) / sd
    if z >= z_rule.threshold:
        alert_raise(rule=z_rule, key=f"user:{user_id}", evidence={
            "user_id": user_id, "department": officer.department, "reads": mine, "peer_mean": round(mean, 2),
            "peer_sd": round(sd, 2), "peers": len(others), "z": round(z, 2), "window_seconds": z_rule.window_seconds},
            targets=[f"user:{user_id}"])
    return z


def _audit_verified(entry: AuditEntry) -> None:
    from tongban.risk.services import alert_raise

    if entry.outcome == "success":
        return
    found = rule("audit_chain_failure")
    if found is not None:
        alert_raise(rule=found, key="platform", evidence={
            "audit_entry_id": entry.pk, "outcome": entry.outcome, "details": entry.details},
            drill=_drill(entry), once_per_window=False)


HANDLERS = {
    "auth.login.failure": _login_failed,
    "auth.login.success": _staff_login,
    "verification.request": _verification,
    "personal_data.read": _personal_read,
    "audit.verify": _audit_verified,
}
