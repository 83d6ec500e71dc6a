"""The single-sign-on audit entries (DESIGN.md §3, invariant 3): a sign-in at a relying party, a code
exchanged, a refresh token rotated, a code or refresh token used twice. Each is written by its caller
inside the transaction of the change it records; details carry ids and protocol values, never personal
data (the sid and the token family only as truncated SHA-256 references)."""

from __future__ import annotations

import hashlib
from typing import Any

from django.http import HttpRequest

from tongban.audit.actions import Action, Outcome
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core.masking import unmaskable_hex
from tongban.sso import claims as claims_mod


def ref(value: Any) -> str:
    """A short, stable reference to a session id or token family: enough to match entries, not the value
    (24 hex characters of its SHA-256, in groups the masking never mistakes for a phone number)."""
    return unmaskable_hex(hashlib.sha256(str(value).encode()).hexdigest()[:24]) if value else ""


def client_actor(client: Any) -> Actor:
    """A relying party acting at the token endpoint (as at userinfo: `oidc:<client_id>`)."""
    return Actor.partner_app(f"oidc:{client.client_id}")


def account(user_id: int) -> Subject:
    return Subject("accounts.user", int(user_id))


def _http(request: HttpRequest | None) -> HttpRequest | None:
    # The token endpoint binds its Django request (views._bind) for the oauthlib callbacks.
    return request if isinstance(request, HttpRequest) else claims_mod.http_request.get()


def signin(*, request: HttpRequest, user: Any, client: Any, part: Any, scopes: list[str]) -> None:
    """The person signed in to a relying party: a code was issued and the sign-in recorded."""
    audit_record(action=Action.SSO_SIGNIN, actor=Actor.user(user), subject=account(user.pk), request=request,
                 details={"client_id": client.client_id, "participation": part.pk,
                          "acr": claims_mod.acr_uri(part.level) or "", "amr": part.amr.split(),
                          "sid": ref(part.sid), "scopes": sorted(scopes)})


def code_exchange(*, request: Any, client: Any, user_id: int, part: Any, scope: str) -> None:
    audit_record(action=Action.SSO_CODE_EXCHANGE, actor=client_actor(client), subject=account(user_id),
                 request=_http(request),
                 details={"client_id": client.client_id, "participation": part.pk if part is not None else None,
                          "scopes": sorted(scope.split())})


def code_reuse(*, request: Any, client: Any, part: Any) -> None:
    """A code presented again after it was exchanged: refused, and what its first use gave revoked."""
    audit_record(action=Action.SSO_CODE_REUSE, outcome=Outcome.DENIED, actor=client_actor(client),
                 subject=account(part.user_id), request=_http(request),
                 details={"client_id": client.client_id, "participation": part.pk, "sid": ref(part.sid),
                          "revoked": True})


def code_refused(*, request: Any, client: Any, part: Any, error: str) -> None:
    """A code exchange refused after the code was found good (a wrong PKCE verifier, another redirect_uri):
    the code is spent all the same and its sign-in ended (it gave no token)."""
    audit_record(action=Action.SSO_CODE_EXCHANGE, outcome=Outcome.DENIED, actor=client_actor(client),
                 subject=account(part.user_id), request=_http(request),
                 details={"client_id": client.client_id, "participation": part.pk, "error": error,
                          "code_spent": True})


def refresh(*, request: Any, client: Any, user_id: int, participation: int | None, family: Any,
            scope: str, path: str) -> None:
    """A refresh token rotated: the presented one revoked, a new access and refresh token issued."""
    audit_record(action=Action.SSO_TOKEN_REFRESH, actor=client_actor(client), subject=account(user_id),
                 request=_http(request),
                 details={"client_id": client.client_id, "participation": participation, "family": ref(family),
                          "scopes": sorted(scope.split()), "path": path})


def refresh_reuse(*, request: Any, client: Any, user_id: int, participation: int | None, family: Any,
                  own: bool, path: str) -> None:
    """A refresh token presented after it was rotated or revoked: refused, and its whole family revoked.
    `own`: whether the client presenting it is the one it was issued to (if not, it was stolen)."""
    audit_record(action=Action.SSO_TOKEN_REUSE, outcome=Outcome.DENIED, actor=client_actor(client),
                 subject=account(user_id), request=_http(request),
                 details={"client_id": client.client_id, "participation": participation, "family": ref(family),
                          "family_revoked": bool(family), "presented_by_its_client": own, "path": path})


def token_revoke(*, request: Any, client: Any, user_id: int, token_type: str, family: Any,
                 participation: int | None) -> None:
    """A relying party revoked one of its tokens at the revocation endpoint (RFC 7009): the token (an access
    token takes its refresh token with it, a refresh token its access token) stops working."""
    audit_record(action=Action.SSO_TOKEN_REVOKE, actor=client_actor(client), subject=account(user_id),
                 request=_http(request),
                 details={"client_id": client.client_id, "kind": token_type, "family": ref(family),
                          "participation": participation})
