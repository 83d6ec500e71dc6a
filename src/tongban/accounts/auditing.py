"""Audit entries for citizen and enterprise accounts (invariant 3), in the caller's transaction.

Each entry names its precise event in `details.event`. The actions come from the one enumeration in
tongban.audit.actions; where the enumeration has no member for an account event yet, the nearest
existing action is used (listed in ACCOUNT_ACTIONS) until the audit app adds it.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tongban.audit.actions import Action, Outcome
from tongban.audit.services import Actor, Subject, audit_record

# event -> (the action's member name once the audit enumeration has it, the action used meanwhile)
ACCOUNT_ACTIONS: dict[str, tuple[str, Action]] = {
    "citizen_registered": ("ACCOUNT_REGISTER", Action.ACCOUNT_CREATE),
    "identity_verified": ("ACCOUNT_IDENTITY_VERIFY", Action.VERIFICATION_REQUEST),
    "identity_refused": ("ACCOUNT_IDENTITY_VERIFY", Action.VERIFICATION_REQUEST),
    "phone_changed": ("ACCOUNT_PHONE_CHANGE", Action.ACCOUNT_PASSWORD_CHANGE),
    "password_recovered": ("ACCOUNT_PASSWORD_RESET", Action.ACCOUNT_PASSWORD_RESET),
    "account_closed": ("ACCOUNT_CLOSE", Action.ACCOUNT_DISABLE),
    "session_revoked": ("AUTH_SESSION_REVOKE", Action.AUTH_LOGOUT),
    "enterprise_registered": ("ENTERPRISE_REGISTER", Action.ACCOUNT_CREATE),
    "agent_authorised": ("ENTERPRISE_AGENT_AUTHORISE", Action.ACCOUNT_ROLE_CHANGE),
    "agent_revoked": ("ENTERPRISE_AGENT_REVOKE", Action.ACCOUNT_ROLE_CHANGE),
    "enterprise_act_as": ("ENTERPRISE_ACT_AS", Action.ACCOUNT_ROLE_CHANGE),
    "personal_data_read": ("PERSONAL_DATA_READ", Action.PERSONAL_DATA_READ),
}


def action_for(event: str) -> Action:
    name, fallback = ACCOUNT_ACTIONS[event]
    member = getattr(Action, name, None)
    return member if isinstance(member, Action) else fallback


def account_subject(user: Any) -> Subject:
    return Subject("accounts.user", str(user.pk))


def audit_account_event(event: str, *, actor: Any, subject: Subject, request: HttpRequest | None = None,
                        outcome: Outcome = Outcome.SUCCESS, details: dict[str, Any] | None = None) -> None:
    """One audit entry; `actor` is a user (or None for the anonymous visitor of a public page)."""
    audit_record(action=action_for(event), outcome=outcome,
                 actor=Actor.user(actor) if actor is not None else Actor.anonymous(),
                 subject=subject, request=request, details={"event": event, **(details or {})})
