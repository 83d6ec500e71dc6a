"""Writes of the SSO app: clients, consents, sign-in records; and the small reads the views need."""

from __future__ import annotations

import hashlib
import json
import secrets as _secrets
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core.logging import get_logger
from tongban.crypto.jose import JWSError, jws_verify
from tongban.sso import claims as claims_mod
from tongban.sso.logout import SID_KEY
from tongban.sso.models import Client, ClientAuthMethod, Consent, IdTokenAlg, SessionParticipation
from tongban.sso.validators import code_hash, participation_end

log = get_logger("tongban.sso")



# -- clients ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewClient:
    client: Client
    secret: str  # shown once; only its keyed hash is stored


@transaction.atomic
def client_create(*, name: str, redirect_uris: list[str] | None = None, organisation: str = "",
                  scopes: str = "openid", levels: str = "1,2", alg: str = IdTokenAlg.ES256,
                  public: bool = False, client_credentials: bool = False, sector_identifier: str = "",
                  backchannel_logout_uri: str = "", post_logout_redirect_uris: list[str] | None = None,
                  auth_method: str | None = None, jwks: dict[str, Any] | None = None, contacts: str = "",
                  skip_authorization: bool = False, actor: Actor | None = None) -> NewClient:
    """Register a relying party (the back office's admin screen does the same through the model)."""
    secret = "" if public else _secrets.token_urlsafe(32)
    method = auth_method or (ClientAuthMethod.NONE if public else ClientAuthMethod.SECRET_BASIC)
    client = Client(
        name=name, organisation=organisation, redirect_uris=" ".join(redirect_uris or []),
        post_logout_redirect_uris=" ".join(post_logout_redirect_uris or []),
        client_type=Client.CLIENT_PUBLIC if public else Client.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Client.GRANT_AUTHORIZATION_CODE if redirect_uris else Client.GRANT_CLIENT_CREDENTIALS,
        allow_client_credentials=client_credentials, client_secret=secret, algorithm=alg, allowed_scopes=scopes,
        allowed_levels=levels, sector_identifier=sector_identifier, backchannel_logout_uri=backchannel_logout_uri,
        token_endpoint_auth_method=method, jwks=jwks, contacts=contacts, skip_authorization=skip_authorization)
    client.full_clean(exclude=["client_secret", "user"])
    client.save()
    audit_record(action=Action.CONFIG_CHANGE, actor=actor or Actor.system("sso"), subject=Subject.of(client),
                 details={"event": "sso_client_created", "client_id": client.client_id, "name": name,
                          "organisation": organisation, "scopes": scopes, "alg": alg})
    return NewClient(client, secret)


# -- the person -----------------------------------------------------------------------------------------------


def person_level(user: Any) -> int:
    from tongban.accounts.models import CitizenProfile

    level = CitizenProfile.objects.filter(user_id=user.pk, closed_at__isnull=True).values_list(
        "level", flat=True).first()
    return int(level or 0)


def grantable_scopes(*, user: Any, client: Client, requested: list[str]) -> list[str]:
    """The requested scopes there is something to share for (openid always; a name only once verified)."""
    from tongban.accounts.models import CitizenProfile

    profile = CitizenProfile.objects.filter(user_id=user.pk, closed_at__isnull=True).first()
    available = claims_mod.available_identity_scopes(profile) | {"openid"}
    return [s for s in requested if s in available]


@transaction.atomic
def consent_grant(*, user: Any, client: Client, scopes: list[str], request: HttpRequest | None = None) -> Consent:
    current = Consent.objects.select_for_update().filter(user=user, client=client, revoked_at__isnull=True).first()
    merged = sorted(set(scopes) | (set(current.scope_set) if current else set()))
    if current is not None:
        current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
    consent = Consent.objects.create(user=user, client=client, scopes=" ".join(merged))
    audit_record(action=Action.CONFIG_CHANGE, actor=Actor.user(user), subject=Subject("accounts.user", str(user.pk)),
                 request=request, details={"event": "sso_consent_granted", "client": client.client_id,
                                           "scopes": merged})
    return consent


def consents_of(user: Any) -> list[dict[str, Any]]:
    rows = Consent.objects.filter(user=user, revoked_at__isnull=True).select_related("client").order_by("-granted_at")
    return [{"id": c.pk, "client": c.client, "granted_at": c.granted_at,
             "labels": [claims_mod.SCOPES.get(s, s) for s in c.scopes.split()]} for c in rows]


@transaction.atomic
def consent_revoke(*, user: Any, consent_id: int, request: HttpRequest | None = None) -> bool:
    """Withdraw a consent: the client's tokens for this person are revoked with it."""
    from oauth2_provider.models import AccessToken, RefreshToken

    consent = Consent.objects.select_for_update().filter(pk=consent_id, user=user, revoked_at__isnull=True).first()
    if consent is None:
        return False
    consent.revoked_at = timezone.now()
    consent.save(update_fields=["revoked_at"])
    for refresh in RefreshToken.objects.filter(user=user, application=consent.client, revoked__isnull=True):
        refresh.revoke()
    AccessToken.objects.filter(user=user, application=consent.client).delete()
    audit_record(action=Action.CONFIG_CHANGE, actor=Actor.user(user), subject=Subject("accounts.user", str(user.pk)),
                 request=request, details={"event": "sso_consent_revoked", "client": consent.client.client_id,
                                           "scopes": consent.scopes.split()})
    return True


# -- sessions and sign-ins ---------------------------------------------------------------------------------------


def current_sid(request: HttpRequest, *, create: bool = True) -> str | None:
    """The session's identifier towards relying parties (the `sid` claim): random, not the session key."""
    session = getattr(request, "session", None)
    if session is None:
        return None
    sid = session.get(SID_KEY)
    if not sid and create:
        sid = _secrets.token_urlsafe(24)
        session[SID_KEY] = sid
    return sid


def _login_method(request: HttpRequest, user: Any) -> tuple[str, Any]:
    from tongban.accounts.models import LoginSession
    from tongban.accounts.sessions import key_hash

    key = getattr(request.session, "session_key", None)
    row = LoginSession.objects.filter(key_hash=key_hash(key), user_id=user.pk).first() if key else None
    if row is not None:
        return row.method or "password", row.created_at
    return "password", user.last_login or timezone.now()


def participation_record(*, request: HttpRequest, user: Any, client: Client, code: str, level: int
                         ) -> SessionParticipation:
    from tongban.accounts.sessions import key_hash

    method, auth_time = _login_method(request, user)
    sid = current_sid(request) or ""
    if request.session.session_key is None:
        request.session.save()
    return SessionParticipation.objects.create(
        sid=sid, session_key_hash=key_hash(request.session.session_key or ""), issuer=claims_mod.issuer(request),
        user=user, client=client, level=level, amr=" ".join(claims_mod.amr_for(method)),
        auth_time=auth_time, code_hash=code_hash(code))


def session_end(*, sid: str = "", session_key_hash: str = "", reason: str,
                request: HttpRequest | None = None) -> int:
    """Every sign-in of the session (by its `sid`, or by its session key's hash) ends: its tokens are
    revoked and each client that registered a back-channel logout URI is told, through the outbox
    (retried until delivered)."""
    from tongban.jobs.services import outbox_send

    if not sid and not session_key_hash:
        return 0
    found = SessionParticipation.objects.filter(ended_at__isnull=True).select_related("client")
    found = found.filter(sid=sid) if sid else found.filter(session_key_hash=session_key_hash)
    parts = list(found)
    notified: set[int] = set()
    with transaction.atomic():
        for part in parts:
            participation_end(part, reason=reason)
            if part.client.backchannel_logout_uri and part.client_id not in notified:
                notified.add(part.client_id)
                sid_ref = hashlib.sha256(part.sid.encode()).hexdigest()[:24]
                iss = part.issuer or (claims_mod.issuer(request) if request is not None else "")
                outbox_send(channel="oidc_backchannel", payload={"participation": part.pk, "iss": iss},
                            idempotency_key=f"bcl:{sid_ref}:{part.client_id}")
    return len(notified)


def id_token_hint_claims(token: str) -> dict[str, Any] | None:
    """The claims of an ID token we issued (signature checked against our published keys; an expired
    token is still a good hint of who is logging out)."""
    if not token:
        return None
    from jwcrypto import jwk

    from tongban.sso import signing

    try:
        keyset = jwk.JWKSet.from_json(json.dumps(signing.jwks()))
        claims = json.loads(jws_verify(token, keyset, ["ES256", "RS256", "SM2SM3"]))
    except (JWSError, ValueError, TypeError):
        return None
    if not isinstance(claims, dict) or claims.get("iss") != claims_mod.issuer():
        return None
    return claims
