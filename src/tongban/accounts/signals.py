"""Every completed login starts the idle clock and the absolute cap and is recorded (in the account's session list too); logouts too.
The session-list row and the audit entry of a login (or a logout) are written in one transaction
(DESIGN.md §3, invariant 3)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.dispatch import receiver

from tongban.accounts.events import SecurityEvent, record_security_event
from tongban.accounts.middleware import session_signed_in_mark, session_touch
from tongban.core.security import network_denied


@receiver(user_logged_in, dispatch_uid="tongban_accounts_logged_in")
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    with transaction.atomic():
        if request is not None and hasattr(request, "session"):
            session_touch(request)
            session_signed_in_mark(request)  # the absolute cap counts from here, whatever the activity
            from tongban.accounts.sessions import session_record

            session_record(request, user)  # the row behind "active sessions"
        record_security_event(SecurityEvent.LOGIN_SUCCEEDED, user=user, request=request,
                              details={"kind": getattr(user, "kind", None)})


@receiver(user_logged_out, dispatch_uid="tongban_accounts_logged_out")
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    with transaction.atomic():
        if user is not None:
            record_security_event(SecurityEvent.LOGOUT, user=user, request=request)
        if request is not None:
            from tongban.accounts.sessions import session_forget

            session_forget(request)


@receiver(network_denied, dispatch_uid="tongban_accounts_network_denied")
def _network_denied(sender: Any, request: Any, **kwargs: Any) -> None:
    """The back office or Django admin asked for from outside TONGBAN_BACKOFFICE_NETWORKS (core.security)."""
    record_security_event(SecurityEvent.NETWORK_DENIED, request=request, outcome="denied")
