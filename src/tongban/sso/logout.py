"""Single logout: when a person logs out of tongban (at the portal, or through a relying party's
RP-initiated logout), or their session is ended for them (revoked from the device list, password
recovered, account closed: the accounts app deletes the session's LoginSession row), every relying party
the session signed in to is told by back-channel. (Sessions that merely expire are found by the sweep,
tongban.sso.services.sessions_sweep.)"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_delete
from django.dispatch import receiver

from tongban.accounts.models import LoginSession
from tongban.accounts.sessions import account_sessions_all_ended, session_key_rotated

SID_KEY = "tongban_sso_sid"


@receiver(user_logged_out, dispatch_uid="tongban_sso_logged_out")
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None) if request is not None else None
    sid = session.get(SID_KEY) if session is not None else None
    if sid:
        from tongban.sso.services import session_end

        session_end(sid=sid, reason="logout", request=request)


@receiver(post_delete, sender=LoginSession, dispatch_uid="tongban_sso_login_session_deleted")
def _session_deleted(sender: Any, instance: LoginSession, **kwargs: Any) -> None:
    from tongban.sso.services import session_end

    session_end(session_key_hash=instance.key_hash, reason="session_ended")


@receiver(session_key_rotated, dispatch_uid="tongban_sso_session_key_rotated")
def _session_key_rotated(sender: Any, old_key_hash: str, new_key_hash: str, **kwargs: Any) -> None:
    """The session got a new key (the person's assurance level changed): its sign-ins follow it, so that its
    logout, its expiry and the sweep still find them."""
    from tongban.sso.models import SessionParticipation

    SessionParticipation.objects.filter(session_key_hash=old_key_hash, ended_at__isnull=True).update(
        session_key_hash=new_key_hash)


@receiver(account_sessions_all_ended, dispatch_uid="tongban_sso_account_sessions_all_ended")
def _account_sessions_all_ended(sender: Any, user: Any, reason: str, **kwargs: Any) -> None:
    """Every session of the account was ended for it: its sign-ins still open once the session rows are gone
    (made before sign-ins were tied to a session key, or whose row went without its signal) end as well,
    one browser session at a time."""
    from tongban.sso.models import SessionParticipation
    from tongban.sso.services import session_end

    open_ = SessionParticipation.objects.filter(user_id=user.pk, ended_at__isnull=True).order_by()
    keyed = sorted(set(open_.exclude(session_key_hash="").values_list("session_key_hash", flat=True)))
    by_sid = sorted(set(open_.filter(session_key_hash="").exclude(sid="").values_list("sid", flat=True)))
    for value in keyed:
        session_end(session_key_hash=value, reason=reason)
    for sid in by_sid:
        session_end(sid=sid, reason=reason)
