"""Single logout: when a person logs out of tongban (at the portal, or through a relying party's
RP-initiated logout), every relying party their session signed in to is told by back-channel."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

SID_KEY = "tongban_sso_sid"


@receiver(user_logged_out, dispatch_uid="tongban_sso_logged_out")
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None) if request is not None else None
    sid = session.get(SID_KEY) if session is not None else None
    if sid:
        from tongban.sso.services import session_end

        session_end(sid=sid, reason="logout", request=request)
