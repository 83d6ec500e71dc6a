"""Writes of the risk app: alerts and their automatic responses, lifting a response, export tickets,
incidents. Each is audited in its own transaction with the change (DESIGN §3, invariant 3)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils.translation import gettext as _

from tongban.audit.actions import Action, Outcome
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core import clock, ratelimit
from tongban.core.errors import TongbanError
from tongban.core.logging import get_logger
from tongban.risk import engine
from tongban.risk.models import (
    INCIDENT_FLOW,
    Alert,
    AlertStatus,
    Block,
    BlockStatus,
    ExportTicket,
    ExportTicketStatus,
    Incident,
    IncidentEvent,
    IncidentStatus,
    ResponseKind,
    Rule,
)

log = get_logger("tongban.risk")
SYSTEM = Actor.system("risk.engine")
LOCK_FOREVER = dt.timedelta(days=3650)


def _require_security_admin(actor: Any) -> None:
    from tongban.accounts.roles import StaffRole

    if actor is None or not getattr(actor, "has_role", lambda _r: False)(StaffRole.SECURITY_ADMIN):
        raise TongbanError("forbidden", message_zh=_("仅安全管理员可执行此操作。"),
                           message_en="Only a security administrator may do this.", status=403)


def _reason_required(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise TongbanError("validation_error", message_zh=_("请填写理由。"), message_en="A reason is required.",
                           status=422, details=[{"field": "reason", "type": "required"}])
    return reason[:200]


# -- alerts and responses --------------------------------------------------------------------------------


def alert_raise(*, rule: Rule, key: str, evidence: dict[str, Any], targets: list[str] | None = None,
                drill: bool = False, once_per_window: bool = True, response: str | None = None,
                seconds: int | None = None) -> Alert | None:
    """Raise `rule`'s alert on `key` (once per window unless told otherwise) with its response (or
    `response`, an escalation) on each of `targets`, for the rule's response_seconds (or `seconds`), notify
    the security admins, and audit it, all in one transaction."""
    kind = response or rule.response
    if once_per_window:
        # The table decides (not a cache mark: the embedded default's cache is per process and culls): one
        # alert per key and window, unless its response was lifted since — then the key is judged afresh.
        # Only reached past a threshold, so the query is off the ordinary path.
        since = clock.now() - dt.timedelta(seconds=rule.window_seconds)
        if Alert.objects.filter(rule=rule, key=key[:128], created_at__gte=since) \
                .exclude(blocks__status=BlockStatus.LIFTED).exists():
            return None
    with transaction.atomic():
        alert = Alert.objects.create(rule=rule, key=key[:128], severity=rule.severity, evidence=evidence,
                                     drill=drill)
        audit_record(action=Action.RISK_ALERT, outcome=Outcome.DENIED, actor=SYSTEM, subject=Subject.of(alert),
                     details={"rule": rule.code, "key": key[:128], "severity": rule.severity, "drill": drill})
        for target in (targets or [])[:200]:
            if kind != ResponseKind.NONE:
                response_apply(kind=kind, target=target, alert=alert,
                               seconds=0 if kind == ResponseKind.SUSPEND_APP
                               else rule.response_seconds if seconds is None else seconds)
        if rule.params.get("open_incident"):
            incident_open(title=str(rule.name), severity=rule.severity, alert=alert, actor=None)
        _notify(alert)
    log.warning("risk.alert", rule=rule.code, key=key, severity=rule.severity, alert_id=alert.pk)
    return alert


def _notify(alert: Alert) -> None:
    """The notification channel: a message in every security admin's 消息中心 (through notifications)."""
    from tongban.accounts.models import User
    from tongban.notifications.services import account_message_post

    title = _("风险告警：%(rule)s") % {"rule": alert.rule.name}
    body = _("级别：%(severity)s；对象：%(key)s。请到后台“安全风险预警”处理。") % {
        "severity": alert.get_severity_display(), "key": alert.key}
    for user_id in User.objects.filter(kind="staff", is_active=True, role_security_admin=True) \
            .values_list("pk", flat=True):
        account_message_post(user_id=user_id, title=title, body=body, link="/backoffice/risk/",
                             source_key=f"risk-alert-{alert.pk}-{user_id}")


def response_apply(*, kind: str, target: str, alert: Alert | None, seconds: int = 0) -> Block:
    """Put one automatic response in force. Targets: address:<ip>, account:<username digest>,
    app:<app id>, user:<pk>, export:<ticket id>."""
    now = clock.now()
    expires = now + dt.timedelta(seconds=seconds) if seconds else None
    Block.objects.filter(kind=kind, target=target, status=BlockStatus.ACTIVE, expires_at__lte=now).update(
        status=BlockStatus.EXPIRED)
    existing = Block.objects.filter(kind=kind, target=target, status=BlockStatus.ACTIVE).first()
    if existing is not None:
        return existing
    block = Block.objects.create(kind=kind, target=target, alert=alert, expires_at=expires)
    if kind == ResponseKind.SUSPEND_APP:
        _app_status(target.removeprefix("app:"), "suspended")
    elif kind == ResponseKind.THROTTLE and target.startswith("app:"):
        from tongban.partners.abuse import app_throttle_set

        app_throttle_set(target.removeprefix("app:"), seconds or 900)
    elif kind == ResponseKind.LOCK_ACCOUNT:
        _user_lock(int(target.removeprefix("user:")), expires or now + LOCK_FOREVER)
    audit_record(action=Action.RISK_RESPONSE, outcome=Outcome.DENIED, actor=SYSTEM, subject=Subject.of(block),
                 details={"kind": kind, "target": target, "alert_id": alert.pk if alert else None,
                          "seconds": seconds})
    return block


def _app_status(app_id: str, status: str) -> None:
    from tongban.partners.models import PartnerApp
    from tongban.partners.services import partner_app_set_status

    app = PartnerApp.objects.filter(app_id=app_id).first()
    if app is not None and app.status != status:
        partner_app_set_status(app=app, status=status, actor=SYSTEM)


def _user_lock(user_id: int, until: dt.datetime | None) -> None:
    from tongban.accounts.models import User

    User.objects.filter(pk=user_id).update(locked_until=until)


def response_lift(*, block: Block, actor: Any, reason: str, request: HttpRequest | None = None) -> Block:
    """A security admin reverses an automatic response, with a reason; audited."""
    _require_security_admin(actor)
    reason = _reason_required(reason)
    with transaction.atomic():
        locked = Block.objects.select_for_update().get(pk=block.pk)
        if locked.status != BlockStatus.ACTIVE:
            return locked
        locked.status = BlockStatus.LIFTED
        locked.lifted_at = clock.now()
        locked.lifted_by = actor
        locked.lift_reason = reason
        locked.save(update_fields=["status", "lifted_at", "lifted_by", "lift_reason"])
        if locked.kind == ResponseKind.SUSPEND_APP:
            _app_status(locked.target.removeprefix("app:"), "active")
        elif locked.kind == ResponseKind.THROTTLE and locked.target.startswith("app:"):
            from tongban.partners.abuse import app_throttle_clear

            app_throttle_clear(locked.target.removeprefix("app:"))
        elif locked.kind == ResponseKind.LOCK_ACCOUNT and _login_lockout(locked):
            _account_unlock(int(locked.target.removeprefix("user:")), actor=actor, request=request)
        elif locked.kind == ResponseKind.LOCK_ACCOUNT:
            _user_lock(int(locked.target.removeprefix("user:")), None)
        elif locked.kind == ResponseKind.HOLD_EXPORT:
            ExportTicket.objects.filter(block=locked, status=ExportTicketStatus.PENDING).update(
                status=ExportTicketStatus.APPROVED, decided_by=actor, decided_at=clock.now(), reason=reason)
        audit_record(action=Action.RISK_RESPONSE_LIFT, actor=Actor.user(actor), subject=Subject.of(locked),
                     request=request, details={"kind": locked.kind, "target": locked.target, "reason": reason})
    if locked.alert is not None:  # judged afresh from now on
        engine.counters_reset(locked.alert.rule.code, locked.alert.key, locked.alert.rule.window_seconds)
    return locked


def _login_lockout(block: Block) -> bool:
    from tongban.risk.rules import LOGIN_LOCKOUT

    return block.alert is not None and block.alert.rule.code == LOGIN_LOCKOUT


def _account_unlock(user_id: int, *, actor: Any, request: HttpRequest | None) -> None:
    """The login lockout's lock lifted as a security admin's unlock does (accounts.services.account_unlock:
    the row, the cached lock, the account's failure count, the account_unlocked entry)."""
    from tongban.accounts.models import User
    from tongban.accounts.services import account_unlock

    user = User.objects.filter(pk=user_id).first()
    if user is not None:
        account_unlock(actor=actor, user=user, request=request)


def alert_acknowledge(*, alert: Alert, actor: Any, request: HttpRequest | None = None) -> Alert:
    _require_security_admin(actor)
    with transaction.atomic():
        Alert.objects.filter(pk=alert.pk).update(status=AlertStatus.ACKNOWLEDGED)
        alert.status = AlertStatus.ACKNOWLEDGED
        audit_record(action=Action.RISK_ALERT_ACK, actor=Actor.user(actor), subject=Subject.of(alert),
                     request=request, details={"rule": alert.rule.code})
    return alert


def rule_update(*, rule: Rule, actor: Any, request: HttpRequest | None = None, **changes: Any) -> Rule:
    """Change a rule's configuration (threshold, window, severity, response, enabled, params). The login
    lockout's rules (rules.MANDATORY) stay enabled, with positive numbers, the account's threshold at most
    rules.MAX_LOGIN_FAILURES."""
    from tongban.risk.rules import LOGIN_LOCKOUT, MANDATORY, MAX_LOGIN_FAILURES

    _require_security_admin(actor)
    allowed = {"enabled", "threshold", "window_seconds", "severity", "response", "response_seconds", "params"}
    unknown = set(changes) - allowed
    if unknown:
        raise TongbanError("validation_error", details=[{"field": name, "type": "unknown"} for name in sorted(unknown)])
    if rule.code in MANDATORY:
        wrong: list[str] = [name for name in ("threshold", "window_seconds") if name in changes and not changes[name] >= 1]
        if rule.code == LOGIN_LOCKOUT and "response_seconds" in changes and not changes["response_seconds"] >= 1:
            wrong.append("response_seconds")
        if rule.code == LOGIN_LOCKOUT and "threshold" in changes and changes["threshold"] > MAX_LOGIN_FAILURES:
            wrong.append("threshold")
        if "enabled" in changes and not changes["enabled"]:
            wrong.append("enabled")
        if wrong:
            raise TongbanError("validation_error", message_zh=_("登录失败锁定规则不能停用，次数与时长须为正数，"
                                                                "账号失败次数不得超过 %(max)s 次。")
                               % {"max": MAX_LOGIN_FAILURES},
                               message_en="The login lockout rules stay enabled with positive numbers.",
                               details=[{"field": name, "type": "invalid"} for name in sorted(set(wrong))])
    with transaction.atomic():
        old = {name: getattr(rule, name) for name in changes}
        for name, value in changes.items():
            setattr(rule, name, value)
        rule.full_clean()
        rule.save(update_fields=list(changes))
        audit_record(action=Action.RISK_RULE_CHANGE, actor=Actor.user(actor), subject=Subject.of(rule),
                     request=request, details={"rule": rule.code, "old": old, "new": changes})
    engine.rules_forget()
    return rule


def login_failure_count(*, account: str | None, ip: str) -> tuple[float, float]:
    """Count one failed sign-in against the client address (rule login_address_failures) and, unless None,
    the account (rule login_lockout; `account` is its username digest). Returns the counts (address,
    account) — the account's 0 when not counted; tongban.accounts.lockout compares them with
    selectors.login_limits(). Cache only: the rules come from the engine's cached set."""
    from tongban.risk.rules import LOGIN_ADDRESS, LOGIN_LOCKOUT
    from tongban.risk.selectors import login_limits

    limits = login_limits()
    address = engine.count(LOGIN_ADDRESS, ip, limits.address_window)
    counted = engine.count(LOGIN_LOCKOUT, account, limits.window) if account is not None else 0.0
    return address, counted


def login_limit_reached(*, code: str, key: str, evidence: dict[str, Any], target: str | None,
                        seconds: int) -> Alert | None:
    """The login lockout's rule `code` (login_lockout, login_address_failures) reached on `key` (an account's
    username digest, a client address): its alert (once per window) and its response's Block on `target`
    (user:<pk>, address:<ip>; none for a name no account has) for `seconds`, in the caller's transaction
    when there is one (the lock's). Lifting the Block (response_lift) unlocks the account / clears the
    address's count. Only reached past a threshold: no query on the ordinary path."""
    rule = engine.rule(code)
    if rule is None:
        return None
    return alert_raise(rule=rule, key=key, evidence=evidence, targets=[target] if target else [],
                       seconds=seconds)


def login_failures_clear(*, account: str) -> None:
    """The account starts again from zero failures (a successful sign-in, an unlock)."""
    from tongban.risk.rules import LOGIN_LOCKOUT
    from tongban.risk.selectors import login_limits

    ratelimit.reset(f"risk:{LOGIN_LOCKOUT}:{account}", window=login_limits().window)


def rules_ensure() -> int:
    """Put back any shipped rule missing from the table (a flushed database); never changes an existing
    row. Returns how many were added."""
    from tongban.risk.rules import SHIPPED

    added = 0
    for row in SHIPPED:
        _, created = Rule.objects.get_or_create(code=row["code"], defaults={k: v for k, v in row.items() if k != "code"})
        added += int(created)
    if added:
        engine.rules_forget()
    return added


# -- the exfiltration guard: exports and bulk reads -----------------------------------------------------


def export_authorise(*, user: Any, export: str, rows: int, request: HttpRequest | None = None) -> ExportTicket | None:
    """Before an export or bulk read of `rows` rows: under the export_large rule's size it passes (None);
    above it, it needs an approved ticket of this user for this export (then used up, and returned), else
    the export is held — a pending ticket, the alert and its hold_export response — and refused with
    `export_held` (403). Every export is audited by its own app; the ticket's use is audited here."""
    found = engine.rule("export_large")
    if found is None or rows <= found.threshold:
        return None
    with transaction.atomic():
        ticket = (ExportTicket.objects.select_for_update()
                  .filter(requester=user, export=export, status=ExportTicketStatus.APPROVED, rows__gte=rows)
                  .order_by("pk").first())
        if ticket is not None:
            ticket.status = ExportTicketStatus.USED
            ticket.save(update_fields=["status"])
            audit_record(action=Action.PERSONAL_DATA_EXPORT, actor=Actor.user(user), subject=Subject.of(ticket),
                         request=request, details={"export": export, "rows": rows, "ticket": ticket.pk})
            return ticket
        pending = ExportTicket.objects.filter(requester=user, export=export, status=ExportTicketStatus.PENDING).first()
        if pending is None:
            pending = ExportTicket.objects.create(requester=user, export=export, rows=rows)
            alert = alert_raise(rule=found, key=f"user:{user.pk}:{export}", evidence={
                "user_id": user.pk, "export": export, "rows": rows, "limit": int(found.threshold),
                "ticket": pending.pk}, once_per_window=False)
            block = response_apply(kind=ResponseKind.HOLD_EXPORT, target=f"export:{pending.pk}", alert=alert)
            pending.block = block
            pending.save(update_fields=["block"])
    raise TongbanError("export_held", status=403,
                       message_zh=_("导出 %(rows)s 条超过 %(limit)s 条的上限，已提交安全管理员审批（工单 %(ticket)s），批准后可再次导出。")
                       % {"rows": rows, "limit": int(found.threshold), "ticket": pending.pk},
                       message_en=f"Exports above {int(found.threshold)} rows need an approved ticket "
                                  f"(ticket {pending.pk} is pending).",
                       details=[{"ticket": pending.pk}])


def export_cap() -> int:
    """The most rows any one answer or export carries without a ticket."""
    found = engine.rule("export_large")
    return int(found.threshold) if found is not None else 1000


def watermark(*, user: Any, export: str, ticket: ExportTicket | None = None) -> str:
    """The line every exported file carries: who exported it, when, and under which ticket."""
    stamp = clock.to_local(clock.now()).strftime("%Y-%m-%d %H:%M:%S")
    ticket_part = f" ticket={ticket.pk}" if ticket is not None else ""
    return f"tongban export={export} by=user:{user.pk}({user.get_username()}) at={stamp}{ticket_part}"


# -- incidents (预案) -------------------------------------------------------------------------------------


def incident_open(*, title: str, severity: str, alert: Alert | None, actor: Any,
                  request: HttpRequest | None = None, note: str = "") -> Incident:
    with transaction.atomic():
        incident = Incident.objects.create(title=title[:200], severity=severity, alert=alert)
        IncidentEvent.objects.create(incident=incident, status=IncidentStatus.OPEN,
                                     note=(note or _("发现并登记事件"))[:500], actor=actor)
        audit_record(action=Action.RISK_INCIDENT, actor=Actor.user(actor) if actor else SYSTEM,
                     subject=Subject.of(incident), request=request,
                     details={"status": IncidentStatus.OPEN, "alert_id": alert.pk if alert else None})
    return incident


def incident_advance(*, incident: Incident, actor: Any, note: str, request: HttpRequest | None = None) -> Incident:
    """Move an incident to its next stage (open → contained → resolved → reviewed), with a note."""
    _require_security_admin(actor)
    note = _reason_required(note)
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        following = INCIDENT_FLOW.get(IncidentStatus(locked.status))
        if following is None:
            raise TongbanError("invalid_state", message_zh=_("事件已复盘，不能再推进。"),
                               message_en="The incident is already reviewed.", status=409)
        locked.status = following
        locked.save(update_fields=["status"])
        IncidentEvent.objects.create(incident=locked, status=following, note=note[:500], actor=actor)
        audit_record(action=Action.RISK_INCIDENT, actor=Actor.user(actor), subject=Subject.of(locked),
                     request=request, details={"status": following.value})
    return locked
