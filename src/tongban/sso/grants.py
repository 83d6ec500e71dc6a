"""The token endpoint's refresh_token grant, answered without oauthlib: the presented refresh token is
claimed atomically (of two concurrent uses exactly one wins), rotated, and the new access and refresh
tokens written — on PostgreSQL in one statement — and audited (`sso.token.refresh`) in the same
transaction. The rules are django-oauth-toolkit's
(rotation, reuse detection by token family) and tongban's validator's (a refresh token dies with its
sign-in); requests or settings it does not cover go through the general path (views.token).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

import psycopg
from django.db import connections, router, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from oauth2_provider.models import (
    AccessToken,
    RefreshToken,
    get_access_token_model,
    get_refresh_token_model,
    refresh_token_expire_timedelta,
    set_token_value,
)
from oauth2_provider.oauth2_validators import GRANT_TYPE_MAPPING
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import UNICODE_ASCII_CHARACTER_SET
from oauthlib.oauth2.rfc6749 import errors

from tongban.core.logging import get_logger
from tongban.sso import auditing, signing
from tongban.sso import claims as claims_mod
from tongban.sso.models import Client, ClientAuthMethod, SessionParticipation
from tongban.sso.secrets import verify_secret
from tongban.sso.validators import client_by_id, client_from_assertion

log = get_logger("tongban.sso")

_HEADERS = {"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"}
_REFRESH_GRANT_TYPES = GRANT_TYPE_MAPPING["refresh_token"]


def _response(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> HttpResponse:
    response = HttpResponse(json.dumps(body), status=status, content_type="application/json")
    for name, value in {**_HEADERS, **(headers or {})}.items():
        response[name] = value
    return response


def _error(error: errors.OAuth2Error) -> HttpResponse:
    """The answer oauthlib gives for the same error (body, status, WWW-Authenticate on 401)."""
    return _response(json.loads(error.json), error.status_code, error.headers)


def _supported() -> bool:
    """The settings this grant implements: rotation with reuse protection and no grace period, DOT's own
    token models and oauthlib's token generator. Any other configuration takes the general path."""
    s = oauth2_settings
    return bool(s.ROTATE_REFRESH_TOKEN and s.REFRESH_TOKEN_REUSE_PROTECTION
                and not s.REFRESH_TOKEN_GRACE_PERIOD_SECONDS and s.ACCESS_TOKEN_GENERATOR is None
                and s.REFRESH_TOKEN_GENERATOR is None and get_access_token_model() is AccessToken
                and get_refresh_token_model() is RefreshToken)


# -- client authentication ----------------------------------------------------------------------------------


def _authenticate(request: HttpRequest) -> Client | None:
    """The client, authenticated as the validator would (TongbanValidator.authenticate_client and
    authenticate_client_id), or None — and then the general path answers, with oauthlib's error."""
    post = request.POST
    if "client_assertion" in post or "client_assertion_type" in post:
        return client_from_assertion(post, claimed_client_id=post.get("client_id"))
    if "client_secret" in post:
        return None  # secrets travel only in the Basic header
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    if auth:
        if not auth.startswith("Basic "):
            return None
        try:
            client_id, secret = (unquote_plus(part) for part in
                                 base64.b64decode(auth[6:], validate=True).decode().split(":", 1))
        except (ValueError, UnicodeDecodeError, binascii.Error):
            return None
        client = client_by_id(client_id)
        if client is None or client.token_endpoint_auth_method != ClientAuthMethod.SECRET_BASIC \
                or not verify_secret(secret, client.client_secret):
            return None
        return client
    public_id = post.get("client_id")
    client = client_by_id(public_id) if public_id else None
    if client is None or client.client_type != Client.CLIENT_PUBLIC \
            or client.token_endpoint_auth_method != ClientAuthMethod.NONE:
        return None
    return client  # a public client (PKCE at the code step); its refresh tokens are bound to it


# -- the rotation ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rotated:
    user_id: int
    scope: str
    participation: tuple[str, int, str, datetime] | None  # sid, level, amr, auth_time
    participation_id: int | None
    family: uuid.UUID | None


@dataclass(frozen=True)
class _NewTokens:
    access: str
    refresh: str
    now: datetime
    expires: datetime


# Random bytes to [A-Za-z0-9] by rejection: a byte below 248 (= 4 × 62) maps to the character of its value
# mod 62, uniformly; the 8 values above are dropped (bytes.translate does both in C).
_TOKEN_TABLE = "".join(UNICODE_ASCII_CHARACTER_SET[b % 62] if b < 248 else "?" for b in range(256)).encode()
_TOKEN_DROP = bytes(range(248, 256))


def _new_token() -> str:
    """30 characters of [A-Za-z0-9], uniform, as oauthlib's generate_token makes them (≈178 bits): from the
    system's randomness in one read (40 bytes; fewer than 30 survive the rejection once in ~10**10 draws,
    and then another read tops them up) instead of 30 SystemRandom calls or a big-integer loop."""
    chars = os.urandom(40).translate(_TOKEN_TABLE, _TOKEN_DROP)
    while len(chars) < 30:
        chars += os.urandom(8).translate(_TOKEN_TABLE, _TOKEN_DROP)
    return chars[:30].decode()


def _checksum(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _stored(token: str) -> str:
    """The `token` column: empty under RFC 9700 token storage (only the checksum is kept)."""
    return "" if oauth2_settings.COMPLIANT_BCP_RFC9700_TOKEN_STORAGE else token


def _cutoff(now: datetime) -> datetime | None:
    """A refresh token is dead REFRESH_TOKEN_EXPIRE_SECONDS after its access token expired (DOT)."""
    delta = refresh_token_expire_timedelta()
    return now - delta if delta else None


# The whole rotation on PostgreSQL, one statement (atomic by itself):
# * `claimed` revokes the presented refresh token if it is live, this client's, its access token not
#   past the refresh lifetime, its account active, its sign-in not ended (that row locked first: logout locks it first
#   too, so the two cannot deadlock) and the scopes asked for among the original ones. A concurrent
#   use of the same token waits on the row lock, then finds it revoked: it matches nothing;
#   (a family has one sign-in record; the sub-selects filter on its indexed refresh_family before
#   anything else, so the plan cannot become a scan of every sign-in ordered by id;)
# * `gone` deletes the old access token (what RefreshToken.revoke does);
# * `new_at` / `new_rt` insert the new pair in the same family; `linked` points the sign-in record at
#   the new access token (as TongbanValidator._save_bearer_token does).
# No row back means refused: _refusal then says why (and revokes the family on reuse).
_ROTATE_POSTGRESQL = """
WITH claimed AS (
    UPDATE oauth2_provider_refreshtoken AS rt
       SET revoked = %(now)s, updated = %(now)s, access_token_id = NULL
      FROM oauth2_provider_accesstoken AS old
     WHERE rt.token_checksum = %(checksum)s AND rt.revoked IS NULL AND rt.application_id = %(client)s
       AND old.id = rt.access_token_id
       AND (%(cutoff)s::timestamptz IS NULL OR old.expires > %(cutoff)s::timestamptz)
       AND (%(wanted)s::text[] IS NULL OR string_to_array(btrim(old.scope), ' ') @> %(wanted)s::text[])
       AND EXISTS (SELECT 1 FROM accounts_user AS u WHERE u.id = rt.user_id AND u.is_active)
       AND COALESCE((SELECT bool_and(f.ended_at IS NULL) FROM (
                          SELECT p.ended_at FROM sso_sessionparticipation AS p
                           WHERE p.refresh_family = rt.token_family FOR UPDATE) AS f), TRUE)
    RETURNING rt.id, rt.user_id, rt.token_family, rt.resource, old.id AS old_access_id, old.scope AS old_scope
), gone AS (
    DELETE FROM oauth2_provider_accesstoken AS a USING claimed WHERE a.id = claimed.old_access_id
), family AS MATERIALIZED (
    SELECT p.id, p.sid, p.level, p.amr, p.auth_time FROM sso_sessionparticipation AS p
     WHERE p.refresh_family = (SELECT token_family FROM claimed)
), part AS (
    SELECT * FROM family ORDER BY id LIMIT 1
), new_at AS (
    INSERT INTO oauth2_provider_accesstoken (user_id, source_refresh_token_id, token, token_checksum, id_token_id,
                                             application_id, expires, scope, resource, created, updated)
    SELECT user_id, id, %(access)s, %(access_checksum)s, NULL, %(client)s, %(expires)s,
           COALESCE(%(scope)s::text, btrim(old_scope)), resource, %(now)s, %(now)s FROM claimed
    RETURNING id, scope
), new_rt AS (
    INSERT INTO oauth2_provider_refreshtoken (user_id, token, token_checksum, application_id, access_token_id,
                                              token_family, resource, created, updated, revoked)
    SELECT claimed.user_id, %(refresh)s, %(refresh_checksum)s, %(client)s, new_at.id, claimed.token_family,
           claimed.resource, %(now)s, %(now)s, NULL FROM claimed, new_at
), linked AS (
    UPDATE sso_sessionparticipation AS p SET access_token_id = new_at.id FROM part, new_at WHERE p.id = part.id
)
SELECT claimed.user_id, new_at.scope, part.sid, part.level, part.amr, part.auth_time, part.id,
       claimed.token_family
  FROM claimed CROSS JOIN new_at LEFT JOIN part ON TRUE
"""


class _PreparingCursor(psycopg.Cursor):  # type: ignore[type-arg]
    """Binds parameters on the server and prepares the statement (once per connection): Django's default
    cursor interpolates on the client and its connections never prepare, and planning the rotation costs
    PostgreSQL as much as running it."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None,
                binary: bool | None = None) -> Any:
        return super().execute(query, params, prepare=True, binary=binary)


def _prepared_cursor(db: Any) -> Any:
    db.ensure_connection()
    db.validate_thread_sharing()
    if db.connection.prepare_threshold is None:
        # Django leaves it None (nothing prepared) unless configured; a huge threshold keeps automatic
        # preparation off and lets _PreparingCursor prepare its statement. Django's own cursors bind on
        # the client and never prepare either way.
        db.connection.prepare_threshold = 2**31 - 1
    raw = _PreparingCursor(db.connection)
    return db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)


def _rotate_postgresql(alias: str, *, checksum: str, client: Client, wanted: list[str] | None,
                       new: _NewTokens) -> _Rotated | None:
    params = {"now": new.now, "checksum": checksum, "client": client.pk, "cutoff": _cutoff(new.now),
              "wanted": wanted, "access": _stored(new.access), "access_checksum": _checksum(new.access),
              "expires": new.expires, "scope": " ".join(wanted) if wanted is not None else None,
              "refresh": _stored(new.refresh), "refresh_checksum": _checksum(new.refresh)}
    with _prepared_cursor(connections[alias]) as cursor:
        cursor.execute(_ROTATE_POSTGRESQL, params)
        row = cursor.fetchone()
    if row is None:
        return None
    user_id, scope, sid, level, amr, auth_time, participation_id, family = row
    return _Rotated(user_id=user_id, scope=scope,
                    participation=(sid, level, amr, auth_time) if sid is not None else None,
                    participation_id=participation_id, family=family)


def _original_scopes(access: AccessToken) -> list[str]:
    return str(access.scope).strip().split(" ")  # oauthlib's scope_to_list


def _participation(family: Any) -> tuple[SessionParticipation | None, bool]:
    """The sign-in record of a token family (it has one) and whether that sign-in has ended."""
    rows = list(SessionParticipation.objects.filter(refresh_family=family).order_by("pk")) if family else []
    return (rows[0] if rows else None), any(row.ended_at is not None for row in rows)


def _rotate_portable(alias: str, *, checksum: str, client: Client, wanted: list[str] | None,
                     new: _NewTokens) -> _Rotated | None:
    """The same rotation in a few ORM statements in one transaction (SQLite, the embedded default: writers
    are serialised there) — the caller's, which holds its audit entry too. The claim is still a conditional
    UPDATE, so a lost race is seen, not assumed."""
    cutoff = _cutoff(new.now)
    with transaction.atomic(using=alias, savepoint=False):
        old = (RefreshToken.objects.using(alias).select_related("access_token")
               .filter(token_checksum=checksum, revoked__isnull=True, application_id=client.pk,
                       user__is_active=True).first())
        access = old.access_token if old is not None else None
        if old is None or access is None or (cutoff is not None and access.expires <= cutoff):
            return None
        part, ended = _participation(old.token_family)
        if ended:
            return None
        if wanted is not None and not all(s in _original_scopes(access) for s in wanted):
            return None
        claimed = RefreshToken.objects.using(alias).filter(pk=old.pk, revoked__isnull=True).update(
            revoked=new.now, updated=new.now, access_token=None)
        if claimed != 1:
            return None
        AccessToken.objects.using(alias).filter(pk=access.pk).delete()
        scope = " ".join(wanted) if wanted is not None else " ".join(_original_scopes(access))
        at = AccessToken(user_id=old.user_id, scope=scope, expires=new.expires, application_id=client.pk,
                         source_refresh_token_id=old.pk, resource=old.resource)
        set_token_value(at, new.access)
        at.save(using=alias)
        rt = RefreshToken(user_id=old.user_id, application_id=client.pk, access_token=at,
                          token_family=old.token_family, resource=old.resource)
        set_token_value(rt, new.refresh)
        rt.save(using=alias)
        if part is not None:
            SessionParticipation.objects.using(alias).filter(pk=part.pk).update(access_token_id=at.pk)
    return _Rotated(user_id=old.user_id, scope=scope,
                    participation=(part.sid, part.level, part.amr, part.auth_time) if part is not None else None,
                    participation_id=part.pk if part is not None else None, family=old.token_family)


def _refusal(request: HttpRequest, *, checksum: str, client: Client, wanted: list[str] | None,
             now: datetime) -> HttpResponse:
    """Why the rotation matched nothing, in the order DOT and TongbanValidator check it. A token that was
    already rotated or revoked (reuse, or the loser of a concurrent double use) revokes its whole family,
    audited (`sso.token.reuse`, denied) in the same transaction."""
    rt = (RefreshToken.objects.filter(token_checksum=checksum).select_related("access_token", "user")
          .order_by(F("revoked").desc(nulls_first=True)).first())
    if rt is None:
        return _error(errors.InvalidGrantError())
    if rt.revoked is not None:
        if rt.token_family:
            with transaction.atomic():
                RefreshToken.revoke_family(rt.token_family)
                part = (SessionParticipation.objects.filter(refresh_family=rt.token_family).order_by("pk")
                        .values_list("pk", flat=True).first())
                auditing.refresh_reuse(request=request, client=client, user_id=rt.user_id, participation=part,
                                       family=rt.token_family, own=rt.application_id == client.pk, path="fast")
            log.warning("sso.refresh_token_reused", client=client.client_id, family=str(rt.token_family))
        return _error(errors.InvalidGrantError())
    cutoff = _cutoff(now)
    access = rt.access_token
    if access is None or (cutoff is not None and access.expires <= cutoff) or rt.application_id != client.pk \
            or not rt.user.is_active:
        return _error(errors.InvalidGrantError())
    if _participation(rt.token_family)[1]:
        return _error(errors.InvalidGrantError())
    if wanted is not None and not all(s in _original_scopes(access) for s in wanted):
        return _error(errors.InvalidScopeError())
    return _error(errors.InvalidGrantError())  # changed under us (revoked meanwhile): refused all the same


# -- the answer -------------------------------------------------------------------------------------------------


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def _id_token(request: HttpRequest, *, client: Client, rotated: _Rotated, access_token: str) -> str:
    """What TongbanValidator.finalize_id_token signs for a refresh (oauthlib's aud, iat, at_hash first)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": client.client_id, "iat": now, "at_hash": _at_hash(access_token),
        "iss": claims_mod.issuer(request),
        "sub": claims_mod.pairwise_sub(sector=client.sector, user_id=rotated.user_id),
        "exp": now + int(oauth2_settings.ID_TOKEN_EXPIRE_SECONDS), "jti": uuid.uuid4().hex,
    }
    nonce = request.POST.get("nonce")
    if nonce:
        claims["nonce"] = nonce  # oauthlib passes a nonce parameter of the request through
    if rotated.participation is not None:
        sid, level, amr, auth_time = rotated.participation
        claims["auth_time"] = int(auth_time.timestamp())
        acr = claims_mod.acr_uri(level)
        if acr:
            claims["acr"] = acr
        claims["amr"] = amr.split() or ["pwd"]
        claims["sid"] = sid
    return signing.sign(claims, alg=client.algorithm)


def refresh_token_grant(request: HttpRequest) -> HttpResponse | None:
    """The refresh_token grant for client_secret_basic, private_key_jwt and public clients; None for what
    the general path must answer (another grant, failed client authentication, `resource` indicators,
    a CORS request, query parameters, a configuration other than rotation with reuse protection)."""
    post = request.POST
    if post.get("grant_type") != "refresh_token" or not _supported():
        return None
    presented = post.get("refresh_token")
    scope = post.get("scope")
    wanted = scope.strip().split(" ") if scope else None  # oauthlib's scope_to_list
    if not presented or (wanted is not None and "" in wanted) or "resource" in post \
            or request.META.get("QUERY_STRING") or "HTTP_ORIGIN" in request.META:
        return None
    client = _authenticate(request)
    if client is None:
        return None
    # Authenticated (a private_key_jwt assertion is spent): from here on every answer is given here.
    if not client.allows_grant_type(*_REFRESH_GRANT_TYPES):
        return _error(errors.UnauthorizedClientError())
    signing.current_key(client.algorithm)  # loaded (or made) before the token is spent
    now = timezone.now()
    new = _NewTokens(access=_new_token(), refresh=_new_token(), now=now,
                     expires=now + timedelta(seconds=int(oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS)))
    checksum = _checksum(presented)
    alias = router.db_for_write(RefreshToken)
    rotate = _rotate_postgresql if connections[alias].vendor == "postgresql" else _rotate_portable
    # The rotation and its audit entry commit together (DESIGN.md §3, invariant 3): on PostgreSQL the
    # rotation statement's row locks are held until the audit INSERT is in, one round trip longer. No
    # savepoint: nothing here is retried, a failure rolls the whole of it back.
    with transaction.atomic(using=alias, savepoint=False):
        rotated = rotate(alias, checksum=checksum, client=client, wanted=wanted, new=new)
        if rotated is not None:
            auditing.refresh(request=request, client=client, user_id=rotated.user_id,
                             participation=rotated.participation_id, family=rotated.family,
                             scope=rotated.scope, path="fast")
    if rotated is None:
        return _refusal(request, checksum=checksum, client=client, wanted=wanted, now=now)
    scopes = rotated.scope.split(" ")
    body: dict[str, Any] = {"access_token": new.access,
                            "expires_in": int(oauth2_settings.ACCESS_TOKEN_EXPIRE_SECONDS),
                            "token_type": "Bearer", "scope": rotated.scope, "refresh_token": new.refresh}
    if "openid" in scopes:
        body["id_token"] = _id_token(request, client=client, rotated=rotated, access_token=new.access)
    return _response(body)
