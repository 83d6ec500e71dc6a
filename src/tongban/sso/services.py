"""Writes of the SSO app: clients, consents, sign-in records; and the small reads the views need."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets as _secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core.logging import get_logger
from tongban.crypto.jose import JWSError, jws_verify
from tongban.sso import auditing, federation
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
                  skip_authorization: bool = False, client_id: str = "", actor: Actor | None = None) -> NewClient:
    """Register a relying party — from code, the demo and `tongban sso create-client`; the back office's admin
    screen does the same through the model: the same validation (`Client.clean`, the fields' own) and the
    same audit entry (`config.change`, event `sso_client_created`). Raises ValidationError."""
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
    if client_id:
        client.client_id = client_id
    client.full_clean(exclude=["client_secret", "user"])
    client.save()
    audit_record(action=Action.CONFIG_CHANGE, actor=actor or Actor.system("sso"), subject=Subject.of(client),
                 details={"event": "sso_client_created", "client_id": client.client_id, "name": name,
                          "organisation": organisation, "scopes": scopes, "alg": alg,
                          "grant_type": client.authorization_grant_type,
                          "client_credentials": client.allow_client_credentials,
                          "auth_method": client.token_endpoint_auth_method})
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


# -- signing in again by SMS code (prompt=login, max_age) ------------------------------------------------------


def _phone_on_account(user: Any) -> str:
    from tongban.accounts.models import CitizenProfile

    profile = CitizenProfile.objects.filter(user_id=user.pk, closed_at__isnull=True).first()
    return (profile.phone or "") if profile is not None else ""


def reauth_phone_masked(*, user: Any, request: HttpRequest | None = None) -> str:
    """The phone on the person's account, masked (`138****0000`), for the sign-in-again page to say where the
    code will go; "" if the account has none. Decrypting it is a read of personal data: audited."""
    from tongban.accounts.auditing import account_subject, audit_account_event
    from tongban.core.masking import mask_phone

    phone = _phone_on_account(user)
    if not phone:
        return ""
    with transaction.atomic():
        audit_account_event("personal_data_read", actor=user, subject=account_subject(user), request=request,
                            details={"fields": ["phone"], "purpose": "sso_reauth", "masked": True})
    return mask_phone(phone)


def reauth_code_send(*, user: Any, request: HttpRequest) -> Any:
    """A login code to the phone on the person's own account — never to a number from the request — by the
    accounts app's `otp_send` (its cooldown, per-phone and per-address limits, the outbox). Its ticket.
    Errors: reauth_no_phone, rate_limited."""
    from tongban.accounts.models import OtpPurpose
    from tongban.accounts.otp import otp_send
    from tongban.core.errors import TongbanError

    phone = _phone_on_account(user)
    if not phone:
        raise TongbanError("reauth_no_phone", message_zh="您的账号未绑定手机号，不能使用短信验证码，请使用其他方式登录。",
                           message_en="The account has no phone number; sign in another way.", status=422)
    return otp_send(phone=phone, purpose=OtpPurpose.LOGIN, request=request)


def reauth_code_check(*, user: Any, request: HttpRequest, ticket_id: int | None, code: str) -> None:
    """The person signs in again by the code sent by `reauth_code_send`: the accounts app's
    `citizen_login_code` (the code's five tries, the per-address limit, the lockout — a wrong code counts
    in the account's one budget for passwords and codes, and a locked account is refused before the code is
    checked — and the login that renews the session's LoginSession and so its auth_time).
    Errors: otp_invalid, otp_expired, rate_limited, login_locked."""
    from tongban.accounts import citizens
    from tongban.accounts.models import OneTimeCode, OtpPurpose
    from tongban.core.errors import TongbanError

    if not OneTimeCode.objects.filter(pk=ticket_id or 0, purpose=OtpPurpose.LOGIN, user_id=user.pk).exists():
        # Not a code sent to this account (the page keeps only its own ticket, so this is a stale one).
        raise TongbanError("otp_expired", message_zh="验证码已失效，请重新获取。",
                           message_en="The code no longer works; ask for a new one.", status=422,
                           details=[{"field": "code", "type": "otp_expired"}])
    citizens.citizen_login_code(request=request, ticket_id=ticket_id, code=code, reason="reauth_sms_code")


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


def _login_row(request: HttpRequest, user: Any) -> Any:
    """The accounts app's record of this browser session's sign-in (None if there is none)."""
    from tongban.accounts.models import LoginSession
    from tongban.accounts.sessions import key_hash

    key = getattr(getattr(request, "session", None), "session_key", None)
    return LoginSession.objects.filter(key_hash=key_hash(key), user_id=user.pk).first() if key else None


def session_auth_time(request: HttpRequest, user: Any) -> dt.datetime | None:
    """When the person signed in to this browser session — the server's own record (the session's
    LoginSession row, written at login), never anything the client says; for a sign-in through the national
    platform, when that platform last authenticated them if earlier (federation.national_auth_time). None if
    unknown."""
    row = _login_row(request, user)
    if row is None:
        return None
    if row.method == federation.PROVIDER:
        return federation.national_auth_time(request, row.created_at)
    return row.created_at


def _login_method(request: HttpRequest, user: Any) -> tuple[str, Any]:
    """How and when the person authenticated, for the ID token's `amr` and `auth_time`. A sign-in through
    the national platform authenticated them when that platform says it did (national_auth_time), which
    may be earlier than the sign-in here; if its ID token did not say, the sign-in here is the best known."""
    row = _login_row(request, user)
    if row is not None:
        auth_time = row.created_at
        if row.method == federation.PROVIDER:
            auth_time = federation.national_auth_time(request, row.created_at) or row.created_at
        return row.method or "password", auth_time
    return "password", user.last_login or timezone.now()


def participation_record(*, request: HttpRequest, user: Any, client: Client, code: str, level: int,
                         scopes: list[str] | None = None) -> SessionParticipation:
    """The person signed in to `client` (its code was just issued): the sign-in record that ties the code's
    tokens to this browser session, and its audit entry (`sso.signin`), in one transaction."""
    from tongban.accounts.sessions import key_hash

    method, auth_time = _login_method(request, user)
    sid = current_sid(request) or ""
    if request.session.session_key is None:
        request.session.save()
    with transaction.atomic():
        part = SessionParticipation.objects.create(
            sid=sid, session_key_hash=key_hash(request.session.session_key or ""),
            issuer=claims_mod.issuer(request), user=user, client=client, level=level,
            amr=" ".join(claims_mod.amr_for(method)), auth_time=auth_time, code_hash=code_hash(code))
        auditing.signin(request=request, user=user, client=client, part=part, scopes=scopes or [])
    return part


def session_end(*, sid: str = "", session_key_hash: str = "", reason: str,
                request: HttpRequest | None = None) -> int:
    """Every sign-in of the session (by its `sid`, or by its session key's hash) ends: its tokens are
    revoked and each client that registered a back-channel logout URI is told, through the outbox
    (retried until delivered). The number of clients told."""
    return _session_end(sid=sid, session_key_hash=session_key_hash, reason=reason, request=request)[1]


def _session_end(*, sid: str = "", session_key_hash: str = "", reason: str,
                 request: HttpRequest | None = None) -> tuple[int, int]:
    """`session_end`; (sign-ins this call ended, clients told). (0, 0) when another caller ended them first."""
    from tongban.jobs.services import outbox_send

    if not sid and not session_key_hash:
        return 0, 0
    found = SessionParticipation.objects.filter(ended_at__isnull=True).select_related("client")
    found = found.filter(sid=sid) if sid else found.filter(session_key_hash=session_key_hash)
    notified: set[int] = set()
    with transaction.atomic():
        # Locked in primary-key order: a logout and the sweep ending the same session at once end each
        # sign-in once (the second finds it ended); the outbox key makes the notification once anyway.
        parts = list(found.select_for_update(of=("self",)).order_by("pk"))
        for part in parts:
            participation_end(part, reason=reason)
            if part.client.backchannel_logout_uri and part.client_id not in notified:
                notified.add(part.client_id)
                sid_ref = hashlib.sha256(part.sid.encode()).hexdigest()[:24]
                iss = part.issuer or (claims_mod.issuer(request) if request is not None else "")
                outbox_send(channel="oidc_backchannel", payload={"participation": part.pk, "iss": iss},
                            idempotency_key=f"bcl:{sid_ref}:{part.client_id}")
    return len(parts), len(notified)


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
    except (JWSError, ValueError, TypeError, RecursionError):  # RecursionError: a header nested too deep
        return None
    if not isinstance(claims, dict) or claims.get("iss") != claims_mod.issuer():
        return None
    return claims


# -- the sweep: sessions that end without a logout -----------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    sessions: int  # browser sessions found over (and ended by this run)
    notified: int  # logout tokens queued (one per client with a back-channel URI, per session)
    more: bool = False  # the run stopped at its limit with at least one more session over: run again


SWEEP_BATCH = 500  # candidate sessions read (and their LoginSession rows loaded) per query


def sweep_limit() -> int:
    """How many sessions one run of the sweep ends at most: the setting TONGBAN_SSO_SWEEP_LIMIT (its default,
    500, is config/env.py's), read at call time like the other sso settings."""
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    value: Any = getattr(settings, "TONGBAN_SSO_SWEEP_LIMIT", None)
    try:
        limit = int(value)
    except (TypeError, ValueError):
        limit = 0
    if isinstance(value, bool) or limit < 1:
        raise ImproperlyConfigured(f"TONGBAN_SSO_SWEEP_LIMIT must be a whole number of at least 1, not {value!r}")
    return limit


def _session_store_usable(engine: str) -> bool:
    """A cache-backed session store answers "no such session" when the cache is down (Django swallows the
    error): before believing it about every session, check that it keeps what it is given."""
    if "cache" not in engine:
        return True
    from django.conf import settings
    from django.core.cache import caches

    probe = f"tongban:sso:sweep-probe:{_secrets.token_hex(8)}"
    try:
        cache = caches[settings.SESSION_CACHE_ALIAS]
        cache.set(probe, 1, 30)
        ok = cache.get(probe) == 1
        cache.delete(probe)
    except Exception:  # any backend's connection error
        ok = False
    return ok


def _session_over(row: Any, user_id: int, *, now: dt.datetime, idle: int, store: Any, cap: int = 0
                  ) -> str | None:
    """Why the browser session behind a LoginSession row is over, or None if it may still be in use."""
    from django.contrib.auth import SESSION_KEY

    from tongban.accounts.middleware import LAST_SEEN_KEY

    if row is None or row.user_id != user_id:
        return "session_gone"  # the row went without its post_delete reaching us (or never existed)
    if cap and (now - row.created_at).total_seconds() > cap:
        # The absolute cap after signing in (row.created_at: the last sign-in), whatever the activity: the
        # accounts middleware ends the session at its next request; its sign-ins end here, busy or not.
        return "session_expired"
    if (now - row.last_seen_at).total_seconds() > idle:
        return "session_idle"  # the idle timeout would sign the person out at their next request
    if store is None:
        return None
    data = store(session_key=row.session_key).load()  # {} when missing or past its expiry date
    if str(data.get(SESSION_KEY, "")) != str(user_id):
        return "session_expired"  # expired in the store, deleted, or someone else signed in over it
    last = data.get(LAST_SEEN_KEY)
    if isinstance(last, int | float) and now.timestamp() - last > idle:
        return "session_idle"
    return None


def _sweep_end(*, session_key_hash: str = "", sid: str = "", user_id: int, reason: str) -> int | None:
    """End one session that is over, in its own transaction (its sign-ins, their tokens, the outbox rows
    and the audit entry commit together, or not at all). The clients told; None if a logout or another
    sweep ended it first (then nothing is written)."""
    with transaction.atomic():
        ended, notified = _session_end(session_key_hash=session_key_hash, sid=sid, reason=reason)
        if not ended:
            return None
        audit_record(action=Action.AUTH_SESSION_TIMEOUT, actor=Actor.system("sso.sweep"),
                     subject=Subject("accounts.user", user_id),
                     details={"event": "sso_session_swept", "reason": reason, "notified": notified})
    log.info("sso.session_swept", user=user_id, reason=reason, notified=notified)
    return notified


def _keyed_candidates(open_parts: Any) -> Iterator[list[tuple[str, int]]]:
    """The (session key hash, user) pairs with open sign-ins, in that order, SWEEP_BATCH per query: a
    keyset walk, so memory stays bounded however many there are, and sessions ended on the way (their
    sign-ins no longer open) do not shift the pages."""
    from django.db.models import Q

    keyed = open_parts.exclude(session_key_hash="").values_list("session_key_hash", "user_id").distinct()
    after: tuple[str, int] | None = None
    while True:
        page = keyed
        if after is not None:
            page = page.filter(Q(session_key_hash__gt=after[0]) | Q(session_key_hash=after[0], user_id__gt=after[1]))
        batch = list(page.order_by("session_key_hash", "user_id")[:SWEEP_BATCH])
        if not batch:
            return
        yield batch
        after = batch[-1]


def sessions_sweep(*, now: dt.datetime | None = None, limit: int | None = None) -> SweepResult:
    """End the sign-ins of browser sessions that are over without a logout — idle past the timeout,
    expired or deleted in the session store, or gone from the accounts app's list — through
    `session_end`, as a logout would: tokens revoked, one logout token per client through the outbox
    (keyed, so a second sweep queues nothing new), an audit entry per session.

    At most `limit` sessions (default: `sweep_limit()`) end per run, each in its own transaction, so a
    crash loses none already ended; when the limit was reached and another session is over, the result
    says `more` and the recurring job `sso.sessions_sweep` (tongban.sso.tasks) queues a follow-up run at
    once. Also run by `tongban sso sweep [--limit N]`."""
    from importlib import import_module

    from django.conf import settings

    from tongban.accounts.conf import security
    from tongban.accounts.models import LoginSession

    limit = sweep_limit() if limit is None else limit
    if limit < 1:
        raise ValueError("the sweep's limit must be at least 1")
    now = now or timezone.now()
    idle = security().citizen_idle_seconds
    cap = security().session_max_seconds
    engine = settings.SESSION_ENGINE
    store = import_module(engine).SessionStore if _session_store_usable(engine) else None
    if store is None:
        log.warning("sso.sweep_session_store_unusable", engine=engine)
    open_parts = SessionParticipation.objects.filter(ended_at__isnull=True).order_by()
    sessions = notified = 0
    for batch in _keyed_candidates(open_parts):
        rows = {row.key_hash: row for row in LoginSession.objects.filter(key_hash__in=[h for h, _ in batch])}
        for key_hash, user_id in batch:
            reason = _session_over(rows.get(key_hash), user_id, now=now, idle=idle, store=store, cap=cap)
            if reason is None:
                continue
            if sessions >= limit:  # one more is over: say so, and leave it to the next run
                return SweepResult(sessions=sessions, notified=notified, more=True)
            told = _sweep_end(session_key_hash=key_hash, user_id=user_id, reason=reason)
            if told is not None:
                sessions += 1
                notified += told
    # Sign-ins recorded before sessions were keyed (migration 0002) can only be matched by their sid:
    # they end once no session could still be alive (the store's lifetime since the sign-in).
    cutoff = now - dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    legacy = (open_parts.filter(session_key_hash="", created_at__lt=cutoff).values_list("sid", "user_id")
              .distinct().order_by("sid", "user_id"))
    for sid, user_id in legacy[:limit - sessions + 1]:
        if sessions >= limit:
            return SweepResult(sessions=sessions, notified=notified, more=True)
        told = _sweep_end(sid=sid, user_id=user_id, reason="session_expired")
        if told is not None:
            sessions += 1
            notified += told
    return SweepResult(sessions=sessions, notified=notified, more=False)
