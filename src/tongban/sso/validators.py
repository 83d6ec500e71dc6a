"""tongban's OAuth2Validator for django-oauth-toolkit: fast client authentication (HMAC-SM3 secrets,
private_key_jwt), PKCE S256 for every code flow, pairwise subjects, acr/amr/sid in ID tokens signed
with tongban's own keys, identity claims at userinfo only, authorization codes that revoke their
tokens when replayed, and refresh tokens that die with the session they came from.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from jwcrypto import jwk
from jwcrypto.common import base64url_decode
from oauth2_provider.models import AccessToken, Grant, RefreshToken
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from tongban.core.logging import get_logger
from tongban.crypto.jose import JWSError, jws_verify
from tongban.sso import auditing, signing
from tongban.sso import claims as claims_mod
from tongban.sso.models import Client, ClientAuthMethod, IdTokenAlg, SessionParticipation
from tongban.sso.secrets import verify_secret

log = get_logger("tongban.sso")

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_MAX_AGE = 300
# Clients are read on every token request; a process keeps them this long (a change in the registry,
# a deactivation or a new secret takes effect within these seconds).
CLIENT_CACHE_SECONDS = 10.0
_clients: dict[str, tuple[float, Client]] = {}


def clear_client_cache() -> None:
    _clients.clear()


def client_by_id(client_id: str) -> Client | None:
    """An active client by its id, from the process cache (CLIENT_CACHE_SECONDS) or the database."""
    hit = _clients.get(client_id)
    if hit is not None and time.monotonic() - hit[0] < CLIENT_CACHE_SECONDS:
        return hit[1] if hit[1].is_active else None
    if not usable_id(client_id):
        return None
    client = Client.objects.filter(client_id=client_id).first()
    if client is not None:
        _clients[client_id] = (time.monotonic(), client)
    return client if client is not None and client.is_active else None


def usable_id(value: object) -> bool:
    """Whether `value` can be looked up at all: a string without a NUL byte (PostgreSQL refuses NUL in text
    with a DataError — a 500 — and aborts the transaction; no client id holds one)."""
    return isinstance(value, str) and "\x00" not in value


def client_from_assertion(body: Mapping[str, str], *, claimed_client_id: str | None = None,
                          load: Callable[[str], Client | None] = client_by_id) -> Client | None:
    """private_key_jwt (OIDC Core §9): the client whose registered key signed `client_assertion` — a JWT
    for us, fresh, used once (its `jti` is spent here) — or None. Shared by the validator (the general
    token path) and the purpose-built grants (tongban.sso.grants)."""
    assertion = body.get("client_assertion") or ""
    if body.get("client_assertion_type") != ASSERTION_TYPE or assertion.count(".") != 2:
        return None
    try:
        unverified = json.loads(base64url_decode(assertion.split(".")[1]))
    except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than the parser goes
        return None
    client_id = unverified.get("iss") if isinstance(unverified, dict) else None
    if not isinstance(client_id, str) or (claimed_client_id and claimed_client_id != client_id):
        return None
    client = load(client_id)
    if client is None or client.token_endpoint_auth_method != ClientAuthMethod.PRIVATE_KEY_JWT or not client.jwks:
        return None
    allowed = ["ES256", "RS256"] + (["SM2SM3"] if client.algorithm == IdTokenAlg.SM2SM3 else [])
    try:
        keyset = jwk.JWKSet.from_json(json.dumps(client.jwks))
        payload = json.loads(jws_verify(assertion, keyset, allowed))
    except (JWSError, ValueError, TypeError, RecursionError) as exc:
        log.info("sso.client_assertion_refused", client=client_id, reason=str(exc)[:100])
        return None
    now = time.time()
    issuer = claims_mod.issuer()
    audiences = payload.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else (audiences or [])
    exp, jti = payload.get("exp"), payload.get("jti")
    if (payload.get("sub") != client_id or not isinstance(exp, int | float) or exp < now
            or exp > now + ASSERTION_MAX_AGE or not isinstance(jti, str) or not jti
            or not {issuer, f"{issuer}/o/token/"} & set(audiences)):
        return None
    if not cache.add(f"sso:assertion:{client_id}:{hashlib.sha256(jti.encode()).hexdigest()}", 1,
                     timeout=int(exp - now) + 60):
        return None  # replayed
    return client


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def participation_end(part: SessionParticipation, *, reason: str) -> None:
    """Revoke everything a sign-in gave (access and refresh tokens) and mark it ended."""
    with transaction.atomic():
        if part.access_token_id:
            AccessToken.objects.filter(pk=part.access_token_id).delete()
        if part.refresh_family:
            RefreshToken.revoke_family(part.refresh_family)
        if part.ended_at is None:
            SessionParticipation.objects.filter(pk=part.pk).update(ended_at=timezone.now())
    log.info("sso.participation_ended", participation=part.pk, client=part.client_id, reason=reason)


def code_exchange_refused(request: Any, body: str) -> None:
    """A code the validator had claimed was refused afterwards (wrong PKCE verifier, redirect_uri mismatch,
    …): it stays spent — its grant deleted, its sign-in ended (it gave no token) — and the refusal is
    audited, in the exchange's transaction (tongban.sso.core.CodeExchange)."""
    part: SessionParticipation = request.sso_code_claimed
    try:
        error = str(json.loads(body).get("error", ""))[:64]
    except (ValueError, AttributeError):
        error = ""
    Grant.objects.filter(code=request.code, application=request.client).delete()
    participation_end(part, reason="code_exchange_refused")
    auditing.code_refused(request=request, client=request.client, part=part, error=error)


def _body(request: Any) -> dict[str, str]:
    return dict(request.decoded_body or [])


class TongbanValidator(OAuth2Validator):
    # -- client authentication ---------------------------------------------------------------------

    def _load_application(self, client_id: str, request: Any) -> Any:
        if not usable_id(client_id):
            return None
        current = request.client
        if isinstance(current, Client) and current.client_id == client_id and current.is_active:
            return current
        hit = _clients.get(client_id) if isinstance(client_id, str) else None
        if hit is not None and time.monotonic() - hit[0] < CLIENT_CACHE_SECONDS:
            request.client = hit[1]
            return hit[1]
        client = super()._load_application(client_id, request)
        if client is not None:
            _clients[client_id] = (time.monotonic(), client)
        return client

    def _check_secret(self, provided_secret: str, stored_secret: str) -> bool:
        return verify_secret(provided_secret, stored_secret)

    def client_authentication_required(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        if _body(request).get("client_assertion"):
            return True
        return bool(super().client_authentication_required(request, *args, **kwargs))

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        body = _body(request)
        if body.get("client_assertion") or body.get("client_assertion_type"):
            return self._authenticate_assertion(request, body)
        if body.get("client_secret"):
            return False  # client_secret_post is not offered: secrets travel only in the Basic header
        if self._extract_basic_auth(request) and self._authenticate_basic_auth(request):
            return bool(request.client.token_endpoint_auth_method == ClientAuthMethod.SECRET_BASIC)
        return False

    def authenticate_client_id(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> bool:
        client = self._load_application(client_id, request)
        return bool(client is not None and client.client_type == Client.CLIENT_PUBLIC
                    and client.token_endpoint_auth_method == ClientAuthMethod.NONE)

    def _authenticate_assertion(self, request: Any, body: dict[str, str]) -> bool:
        client = client_from_assertion(body, claimed_client_id=request.client_id,
                                       load=lambda client_id: self._load_application(client_id, request))
        if client is None:
            return False
        request.client = client
        request.client_id = client.client_id
        return True

    # -- what a client may ask -----------------------------------------------------------------------

    def is_pkce_required(self, client_id: str, request: Any) -> bool:
        return True  # every code flow, confidential clients too (RFC 9700 §2.1.1); S256 only (views)

    def validate_scopes(self, client_id: str, scopes: list[str], client: Any, request: Any,
                        *args: Any, **kwargs: Any) -> bool:
        wanted = set(scopes.split() if isinstance(scopes, str) else scopes)
        if not wanted <= (set(client.scope_set) & set(claims_mod.SCOPES)):
            return False
        if request.grant_type == "client_credentials":
            return not (wanted & ({"openid"} | set(claims_mod.IDENTITY_SCOPES)))
        return True

    def get_default_scopes(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> list[str]:
        client = request.client
        if request.grant_type == "client_credentials":
            return ["api"] if client is not None and "api" in client.scope_set else []
        return ["openid"]

    def validate_silent_login(self, request: Any) -> bool:
        return True  # the authorize view answers prompt=none itself (login_required, consent_required)

    def validate_silent_authorization(self, request: Any) -> bool:
        return True

    def validate_user_match(self, id_token_hint: Any, scopes: Any, claims: Any, request: Any) -> bool:
        return True

    # -- codes: one use; a replay revokes what the first use gave -------------------------------------

    def validate_code(self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any) -> bool:
        ok = super().validate_code(client_id, code, client, request, *args, **kwargs)
        part = SessionParticipation.objects.filter(code_hash=code_hash(code), client=client).first()
        if ok and part is not None and part.ended_at is None:
            # Claimed here, before PKCE and the redirect_uri are checked: from now on the code is spent,
            # whether the exchange succeeds or not (tongban.sso.core.CodeExchange, in whose transaction
            # this runs). Of two concurrent exchanges the second waits on this row, then finds it used.
            now = timezone.now()
            if SessionParticipation.objects.filter(pk=part.pk, code_used_at__isnull=True).update(code_used_at=now):
                part.code_used_at = now
                request.sso_participation = part
                request.sso_code_claimed = part
                return True
            part.refresh_from_db(fields=["code_used_at", "ended_at"])
        if part is not None and part.code_used_at is not None:
            with transaction.atomic():
                Grant.objects.filter(code=code, application=client).delete()
                participation_end(part, reason="code_replayed")
                auditing.code_reuse(request=request, client=client, part=part)
        return False

    def confirm_redirect_uri(self, client_id: str, code: str, redirect_uri: str, client: Any,
                             *args: Any, **kwargs: Any) -> bool:
        """RFC 6749 §4.1.3 / §5.2: a redirect_uri that is not the one of the authorization request makes the
        grant invalid — `invalid_grant`, not oauthlib's `invalid_request`."""
        if not super().confirm_redirect_uri(client_id, code, redirect_uri, client, *args, **kwargs):
            raise errors.InvalidGrantError(
                description="redirect_uri does not match the one of the authorization request",
                request=args[0] if args else kwargs.get("request"))
        return True

    def invalidate_authorization_code(self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any) -> None:
        super().invalidate_authorization_code(client_id, code, request, *args, **kwargs)
        SessionParticipation.objects.filter(code_hash=code_hash(code)).update(code_used_at=timezone.now())

    def _create_access_token(self, expires: Any, request: Any, token: Any, source_refresh_token: Any = None) -> Any:
        access = super()._create_access_token(expires, request, token, source_refresh_token)
        request.sso_access_token = access
        return access

    def _create_refresh_token(self, request: Any, refresh_token_code: Any, access_token: Any,
                              previous_refresh_token: Any) -> Any:
        refresh = super()._create_refresh_token(request, refresh_token_code, access_token, previous_refresh_token)
        request.sso_refresh_token = refresh
        return refresh

    def _save_bearer_token(self, token: Any, request: Any, *args: Any, **kwargs: Any) -> None:
        # Inside DOT's save_bearer_token transaction: the tokens, the sign-in record's links to them and the
        # audit entry commit together.
        super()._save_bearer_token(token, request, *args, **kwargs)
        part = getattr(request, "sso_participation", None)
        access = getattr(request, "sso_access_token", None)
        refresh = getattr(request, "sso_refresh_token", None)
        if part is not None:
            updates: dict[str, Any] = {}
            if access is not None:
                updates["access_token_id"] = access.pk
            if refresh is not None and part.refresh_family != refresh.token_family:
                updates["refresh_family"] = refresh.token_family
            if updates:
                SessionParticipation.objects.filter(pk=part.pk).update(**updates)
        user_id = getattr(request.user, "pk", None)
        if user_id is None:
            return  # client credentials: no person, no sign-in
        if request.grant_type == "authorization_code":
            auditing.code_exchange(request=request, client=request.client, user_id=user_id, part=part,
                                   scope=token["scope"])
        elif request.grant_type == "refresh_token":
            family = refresh.token_family if refresh is not None else getattr(part, "refresh_family", None)
            auditing.refresh(request=request, client=request.client, user_id=user_id,
                             participation=part.pk if part is not None else None, family=family,
                             scope=token["scope"], path="general")

    # -- refresh: rotation and reuse detection are DOT's; a token outlives no logout ---------------------

    def validate_refresh_token(self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any) -> bool:
        with transaction.atomic():
            ok = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
            if not ok:
                self._audit_reuse(refresh_token, client, request)
                return False
        if not request.refresh_token_instance.user.is_active:
            return False  # a deactivated account's tokens refresh nothing (its sign-ins normally ended with it)
        family = request.refresh_token_instance.token_family
        part = SessionParticipation.objects.filter(refresh_family=family).first() if family else None
        if part is not None and part.ended_at is not None:
            return False
        request.sso_participation = part
        return True

    @staticmethod
    def _audit_reuse(refresh_token: str, client: Any, request: Any) -> None:
        """After DOT refused a refresh token: if it is a revoked one, DOT took its reuse branch (the only way it
        refuses a revoked token) and revoked the family — audited here, in the same transaction."""
        if not (oauth2_settings.REFRESH_TOKEN_REUSE_PROTECTION and client is not None):
            return
        rt = (RefreshToken.objects.filter(token_checksum=hashlib.sha256(refresh_token.encode("utf-8")).hexdigest())
              .order_by(F("revoked").desc(nulls_first=True)).only("pk", "revoked", "token_family", "user_id",
                                                                   "application_id").first())
        if rt is None or rt.revoked is None or not rt.token_family:
            return
        grace = oauth2_settings.REFRESH_TOKEN_GRACE_PERIOD_SECONDS
        if grace and rt.revoked > timezone.now() - timedelta(seconds=grace) \
                and AccessToken.objects.filter(source_refresh_token_id=rt.pk).exists():
            return  # a retry within the grace period, refused for another reason: not a reuse
        part = SessionParticipation.objects.filter(refresh_family=rt.token_family).order_by("pk").first()
        auditing.refresh_reuse(request=request, client=client, user_id=rt.user_id,
                               participation=part.pk if part is not None else None, family=rt.token_family,
                               own=rt.application_id == client.pk, path="general")

    # -- revocation (RFC 7009): DOT revokes, the entry is written with it ----------------------------------

    def revoke_token(self, token: str, token_type_hint: str | None, request: Any, *args: Any, **kwargs: Any) -> None:
        """DOT's revocation (the client's own tokens only), and an `sso.token.revoke` entry in the same transaction
        when it revoked a live token; an unknown, another client's or an already revoked token changes nothing
        and writes nothing (the endpoint answers 200 either way)."""
        client = request.client
        with transaction.atomic():
            live = self._live_token(token, token_type_hint, client)
            super().revoke_token(token, token_type_hint, request, *args, **kwargs)
            if live is not None:
                token_type, user_id, family = live
                part = (SessionParticipation.objects.filter(refresh_family=family).order_by("pk").first()
                        if family else None)
                auditing.token_revoke(request=request, client=client, user_id=user_id, token_type=token_type,
                                      family=family, participation=part.pk if part is not None else None)

    @staticmethod
    def _live_token(token: str, token_type_hint: str | None, client: Any) -> tuple[str, int, Any] | None:
        """(type, user id, refresh family) of the live token DOT's revoke_token will revoke — looked up as it does:
        the hinted type first (access token without a hint), then the other — or None."""
        if getattr(client, "pk", None) is None:
            return None
        checksum = hashlib.sha256(token.encode("utf-8")).hexdigest()
        kinds = ["access_token", "refresh_token"]
        order = kinds[::-1] if token_type_hint == kinds[1] else kinds
        for kind in order:
            if kind == "access_token":
                access = AccessToken.objects.filter(token_checksum=checksum, application_id=client.pk).first()
                if access is not None:
                    refresh = RefreshToken.objects.filter(access_token_id=access.pk).only("token_family").first()
                    family = refresh.token_family if refresh is not None else None
                    return ("access_token", access.user_id, family) if access.user_id is not None else None
            else:
                found = list(RefreshToken.objects.filter(token_checksum=checksum, application_id=client.pk)
                             .only("revoked", "user_id", "token_family"))
                if found:
                    live = next((r for r in found if r.revoked is None), None)
                    return ("refresh_token", live.user_id, live.token_family) if live is not None else None
        return None

    # -- ID tokens -----------------------------------------------------------------------------------------

    def _load_id_token(self, token: str) -> None:
        return None  # ID tokens are not stored; they are verified against the JWKS by whoever holds one

    def finalize_id_token(self, id_token: dict[str, Any], token: Any, token_handler: Any, request: Any) -> str:
        client = request.client
        part: SessionParticipation | None = getattr(request, "sso_participation", None)
        now = int(time.time())
        claims = dict(id_token)
        claims.update({
            "iss": claims_mod.issuer(),
            "sub": claims_mod.pairwise_sub(sector=client.sector, user_id=request.user.pk),
            "aud": client.client_id,
            "iat": now,
            "exp": now + int(oauth2_settings.ID_TOKEN_EXPIRE_SECONDS),
            "jti": uuid.uuid4().hex,
        })
        if "nonce" not in claims and request.nonce:
            claims["nonce"] = request.nonce
        if part is not None:
            claims["auth_time"] = int(part.auth_time.timestamp())
            acr = claims_mod.acr_uri(part.level)
            if acr:
                claims["acr"] = acr
            claims["amr"] = part.amr.split() or ["pwd"]
            claims["sid"] = part.sid
        return signing.sign(claims, alg=client.algorithm)

    # -- userinfo ------------------------------------------------------------------------------------------

    def get_userinfo_claims(self, request: Any) -> dict[str, Any]:
        from tongban.sso.models import Consent

        access = request.access_token
        client = access.application
        user = access.user
        result: dict[str, Any] = {"sub": claims_mod.pairwise_sub(sector=client.sector, user_id=user.pk)}
        consent = Consent.objects.filter(user=user, client=client, revoked_at__isnull=True).first()
        granted = set(access.scope.split()) & (set(consent.scope_set) if consent else set())
        result.update(claims_mod.identity_claims(user=user, client=client, scopes=granted,
                                                 request=claims_mod.http_request.get()))
        return result
