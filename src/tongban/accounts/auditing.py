"""Audit entries for citizen and enterprise accounts (invariant 3), in the caller's transaction.

Each entry names its precise event in `details.event`; the actions come from the one enumeration in
tongban.audit.actions.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tongban.audit.actions import Action, Outcome
from tongban.audit.services import Actor, Subject, audit_record

ACCOUNT_ACTIONS: dict[str, Action] = {
    "citizen_registered": Action.ACCOUNT_REGISTER,
    "identity_verified": Action.ACCOUNT_IDENTITY_VERIFY,
    "identity_refused": Action.ACCOUNT_IDENTITY_VERIFY,
    "phone_changed": Action.ACCOUNT_PHONE_CHANGE,
    "password_recovered": Action.ACCOUNT_PASSWORD_RESET,
    "account_closed": Action.ACCOUNT_CLOSE,
    "session_revoked": Action.AUTH_SESSION_REVOKE,
    "enterprise_registered": Action.ENTERPRISE_REGISTER,
    "agent_authorised": Action.ENTERPRISE_AGENT_AUTHORISE,
    "agent_revoked": Action.ENTERPRISE_AGENT_REVOKE,
    "agent_invited": Action.ENTERPRISE_AGENT_INVITE,
    "agent_invitation_declined": Action.ENTERPRISE_AGENT_DECLINE,
    "agent_invitation_cancelled": Action.ENTERPRISE_AGENT_INVITE_CANCEL,
    "enterprise_act_as": Action.ENTERPRISE_ACT_AS,
    "personal_data_read": Action.PERSONAL_DATA_READ,
    # Staff shutting an account out, and letting it back in (accounts.services.account_active_set).
    "account_disabled": Action.ACCOUNT_DISABLE,
    "account_enabled": Action.ACCOUNT_ENABLE,
    "sessions_ended": Action.AUTH_SESSION_REVOKE,
    "username_changed": Action.ACCOUNT_USERNAME_CHANGE,
}


def action_for(event: str) -> Action:
    return ACCOUNT_ACTIONS[event]


def account_subject(user: Any) -> Subject:
    return Subject("accounts.user", user.pk)


def staff_actor(actor: Any) -> Actor:
    """The actor of a staff change: the staff user, or the operator at the console (None)."""
    return Actor.user(actor) if actor is not None else Actor.cli()


def audit_account_event(event: str, *, actor: Any, subject: Subject, request: HttpRequest | None = None,
                        outcome: Outcome = Outcome.SUCCESS, details: dict[str, Any] | None = None) -> None:
    """One audit entry; `actor` is a user (or None for the anonymous visitor of a public page), or an
    `Actor` already made (Actor.cli() for an operator at the console)."""
    if not isinstance(actor, Actor):
        actor = Actor.user(actor) if actor is not None else Actor.anonymous()
    audit_record(action=action_for(event), outcome=outcome, actor=actor,
                 subject=subject, request=request, details={"event": event, **(details or {})})
