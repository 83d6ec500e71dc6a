"""「使用国家政务服务平台账号登录」: the national government-service platform as an identity provider.

Trust decision (docs/sso.md): the national platform verifies identities itself; its ID token's `acr`
counts as our L1 or L2 (its own level, never more than L2), and the account records that the level
came from federation. A person is linked to an existing account **only** by the verified identity —
the blind index of the ID number — never by a phone number or an e-mail address; an assertion below
L1 carries no verified identity and is refused. A person not yet known gets an account at once.

Freshness (OIDC Core §3.1.2.1, docs/sso.md): signing in again for prompt=login / max_age through the national
platform asks it to authenticate the person again (`prompt=login`, `max_age=0`) and accepts its answer only
if its `auth_time` says it did; a national sign-in otherwise counts as recent only as of that `auth_time`.
It must also be the person signed in: decided by reading (federated_account) before anything is written,
so a refusal links or creates nothing for the other person.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import secrets
import time
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import login as django_login
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from jwcrypto import jwk

from tongban.core.errors import TongbanError
from tongban.core.logging import get_logger
from tongban.crypto.jose import JWSError, jws_verify
from tongban.sso.models import FederatedIdentity

log = get_logger("tongban.sso.federation")

PROVIDER = "national"
STATE_KEY = "tongban_national_login"
# When the person last proved who they are at the national platform, as far as this session's sign-in
# through it goes (Unix time, or None if its ID token did not say): see national_auth_time.
AUTH_TIME_KEY = "tongban_national_auth_time"


def _timeout() -> float:
    """Seconds for connecting to the national platform and for each read (TONGBAN_NATIONAL_IDP_TIMEOUT_MS)."""
    return float(settings.TONGBAN_BUDGETS.national_idp_timeout_ms) / 1000


# How far the national platform's clock may run behind ours when its auth_time is checked.
AUTH_TIME_SKEW_SECONDS = 60
_discovery_cache: dict[str, tuple[float, dict[str, Any]]] = {}


class FederationError(Exception):
    pass


def config() -> dict[str, Any] | None:
    cfg = getattr(settings, "TONGBAN_NATIONAL_IDP", None) or {}
    return cfg if cfg.get("ISSUER") and cfg.get("CLIENT_ID") else None


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=_timeout()) as response:  # noqa: S310 (configured https URL)
        return json.loads(response.read())  # type: ignore[no-any-return]


def _discovery(issuer: str) -> dict[str, Any]:
    cached = _discovery_cache.get(issuer)
    if cached and time.monotonic() - cached[0] < 300:
        return cached[1]
    doc = _get_json(f"{issuer.rstrip('/')}/.well-known/openid-configuration")
    if doc.get("issuer") != issuer.rstrip("/"):
        raise FederationError("the discovery document names another issuer")
    _discovery_cache[issuer] = (time.monotonic(), doc)
    return doc


def _callback_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("sso:national_callback"))


@dataclass(frozen=True)
class Freshness:
    """How recent the national platform's sign-in must be for the login request this one serves."""

    reauth: bool = False  # signing in again from /o/authorize/login/
    not_before: float = 0.0  # its auth_time must be at least this recent (Unix time, less the skew); 0: any
    max_age: int | None = None  # what to ask the national platform for (0: with prompt=login)


def _freshness(request: HttpRequest, next_url: str, now: float) -> Freshness:
    """What the login request behind `next` asks. The query only names the request (`txn`); what it asks —
    prompt=login, max_age — comes from the request as validated and kept in this session by the authorize
    endpoint, so a forged or stale `txn` asks nothing (and a dropped `next` gains nothing: a national sign-in
    counts only as of its auth_time, see national_auth_time)."""
    from tongban.sso import views

    parts = urlsplit(next_url)
    txn = (parse_qs(parts.query).get("txn") or [""])[0][:64]
    data = request.session.get(views.TXN_PREFIX + txn) if txn else None
    if not isinstance(data, dict) or now - data.get("at", 0) > views.TXN_SECONDS:
        return Freshness()
    if parts.path == reverse("sso:reauthenticate"):
        return Freshness(reauth=True, not_before=now, max_age=0)  # authenticated after this very moment
    not_before = data.get("auth_not_before")
    if parts.path != reverse("sso:authorize_continue") or not isinstance(not_before, int | float) or not not_before:
        return Freshness()
    again = "login" in (data.get("prompt") or []) or data.get("max_age") == 0
    return Freshness(not_before=float(not_before), max_age=0 if again else max(0, int(now - not_before)))


def national_auth_time(request: HttpRequest, login_at: dt.datetime) -> dt.datetime | None:
    """When the person behind this session's sign-in through the national platform (at `login_at`) last
    authenticated: the national platform's auth_time if it is earlier — its own session may be hours old —
    else `login_at`; None if its ID token did not say (then no prompt=login / max_age is satisfied by it)."""
    value = request.session.get(AUTH_TIME_KEY)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return min(login_at, dt.datetime.fromtimestamp(value, tz=dt.UTC))


@never_cache
@require_GET
def start(request: HttpRequest) -> HttpResponse:
    cfg = config()
    if cfg is None:
        return render(request, "sso/error.html", {"message": "国家政务服务平台登录暂未开通。"}, status=404)
    try:
        doc = _discovery(cfg["ISSUER"])
    except (OSError, ValueError, FederationError):
        return render(request, "sso/error.html", {"message": "暂时无法连接国家政务服务平台，请稍后再试或使用本平台账号登录。"},
                      status=503)
    verifier = secrets.token_urlsafe(48)
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/me/"
    now = time.time()
    fresh = _freshness(request, next_url, now)
    request.session[STATE_KEY] = {"state": state, "nonce": nonce, "verifier": verifier, "next": next_url,
                                  "at": int(now), "reauth": fresh.reauth, "not_before": fresh.not_before}
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    params = {"response_type": "code", "client_id": cfg["CLIENT_ID"], "redirect_uri": _callback_url(request),
              "scope": "openid realname idcard", "state": state, "nonce": nonce, "code_challenge": challenge,
              "code_challenge_method": "S256"}
    if fresh.max_age == 0:
        params.update(prompt="login", max_age="0")
    elif fresh.max_age is not None:
        params["max_age"] = str(fresh.max_age)
    return HttpResponseRedirect(f"{doc['authorization_endpoint']}?{urlencode(params)}")


def _exchange(cfg: dict[str, Any], doc: dict[str, Any], code: str, verifier: str, redirect_uri: str) -> str:
    body = urlencode({"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                      "code_verifier": verifier}).encode()
    basic = base64.b64encode(f"{cfg['CLIENT_ID']}:{cfg.get('CLIENT_SECRET', '')}".encode()).decode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": f"Basic {basic}"}
    req = urllib.request.Request(doc["token_endpoint"], data=body, method="POST", headers=headers)  # noqa: S310
    with urllib.request.urlopen(req, timeout=_timeout()) as response:  # noqa: S310
        answer = json.loads(response.read())
    token = answer.get("id_token")
    if not isinstance(token, str):
        raise FederationError("no ID token")
    return token


def verify_id_token(cfg: dict[str, Any], doc: dict[str, Any], token: str, nonce: str) -> dict[str, Any]:
    keyset = jwk.JWKSet.from_json(json.dumps(_get_json(doc["jwks_uri"])))
    claims = json.loads(jws_verify(token, keyset, [cfg.get("ALG", "ES256")]))
    now = time.time()
    if (claims.get("iss") != doc["issuer"] or claims.get("aud") not in (cfg["CLIENT_ID"], [cfg["CLIENT_ID"]])
            or not isinstance(claims.get("exp"), int | float) or claims["exp"] < now - 30
            or claims.get("nonce") != nonce or not claims.get("sub")):
        raise FederationError("the ID token is not for us, expired or replayed")
    return claims  # type: ignore[no-any-return]


def asserted_level(cfg: dict[str, Any], acr: Any) -> int:
    levels: dict[str, int] = cfg.get("LEVELS") or {"urn:cn:gov:zwfw:acr:l1": 1, "urn:cn:gov:zwfw:acr:l2": 2}
    return min(int(levels.get(str(acr), 0)), 2)


@never_cache
@require_GET
def callback(request: HttpRequest) -> HttpResponse:
    cfg = config()
    pending = request.session.pop(STATE_KEY, None)
    if cfg is None or not isinstance(pending, dict) or request.GET.get("state") != pending.get("state") \
            or time.time() - pending.get("at", 0) > 600:
        return render(request, "sso/error.html", {"message": "登录已过期，请重新使用国家政务服务平台账号登录。"}, status=400)
    if request.GET.get("error") or not request.GET.get("code"):
        return render(request, "sso/error.html", {"message": "您在国家政务服务平台未完成登录。"}, status=400)
    try:
        doc = _discovery(cfg["ISSUER"])
        token = _exchange(cfg, doc, request.GET["code"], pending["verifier"], _callback_url(request))
        claims = verify_id_token(cfg, doc, token, pending["nonce"])
    except (OSError, ValueError, JWSError, FederationError) as exc:
        log.warning("sso.national_login_failed", error=type(exc).__name__, detail=str(exc)[:120])
        return render(request, "sso/error.html", {"message": "国家政务服务平台登录未能完成，请重试。"}, status=502)
    auth_time = claims.get("auth_time")
    if not isinstance(auth_time, int | float) or isinstance(auth_time, bool):
        auth_time = None
    not_before = pending.get("not_before")
    if isinstance(not_before, int | float) and not_before:
        refused = _not_fresh(request, claims=claims, auth_time=auth_time, not_before=float(not_before),
                             reauth=bool(pending.get("reauth")))
        if refused is not None:
            return render(request, "sso/error.html", {"message": refused.message("zh-hans"), "code": refused.code,
                                                      "retry_url": pending.get("next") or ""},
                          status=refused.http_status())
    # Signing in again is for the account signed in here: the national identity must be that account's
    # (federated_account, a read) before anything is written; another person's is refused with nothing
    # written for them. Linking or creating the account and signing in are one transaction.
    reauth_of = request.user if pending.get("reauth") and request.user.is_authenticated else None
    refused_as: TongbanError | None = None
    someone_else = False
    with transaction.atomic():
        try:
            user = _account_for(cfg, claims, reauth_of=reauth_of, request=request)
        except _SomeoneElse:
            someone_else = True
            transaction.set_rollback(True)
        except TongbanError as exc:
            refused_as = exc
            transaction.set_rollback(True)  # federated_login may have written before refusing
        else:
            setattr(request, "tongban_login_method", PROVIDER)  # noqa: B010  (LoginSession.method → amr "fed")
            django_login(request, user, backend="tongban.accounts.backends.TongbanBackend")
            # What this sign-in proves about how recently the person authenticated (national_auth_time):
            # checked above, as of now; otherwise only as of the national platform's own auth_time.
            now = time.time()
            if not_before:
                request.session[AUTH_TIME_KEY] = now
            else:
                request.session[AUTH_TIME_KEY] = min(float(auth_time), now) if auth_time is not None else None
    if someone_else:
        refused = _someone_else(request, signed_in=reauth_of)
        return render(request, "sso/error.html", {"message": refused.message("zh-hans"), "code": refused.code,
                                                  "retry_url": pending.get("next") or ""},
                      status=refused.http_status())
    if refused_as is not None:
        return render(request, "sso/error.html", {"message": refused_as.message("zh-hans")},
                      status=refused_as.http_status())
    return HttpResponseRedirect(pending.get("next") or "/me/")


def _not_fresh(request: HttpRequest, *, claims: dict[str, Any], auth_time: float | None, not_before: float,
               reauth: bool) -> TongbanError | None:
    """Whether the national platform's sign-in is too old (or of unknown age) for the login request it serves:
    the error to show, after the refusal is audited (auth.login.failure, the reason in its details); the
    session and its sign-in stay as they were. None if it is recent enough."""
    from tongban.accounts.events import SecurityEvent, record_security_event

    if auth_time is not None and auth_time >= not_before - AUTH_TIME_SKEW_SECONDS:
        return None
    reason = "auth_time_missing" if auth_time is None else "auth_time_too_old"
    # The account concerned: the one signed in again, else the one the national identity is linked to.
    subject = request.user if request.user.is_authenticated else None
    if subject is None:
        link = FederatedIdentity.objects.filter(provider=PROVIDER, subject=str(claims.get("sub"))
                                                ).select_related("user").first()
        subject = link.user if link is not None else None
    record_security_event(SecurityEvent.LOGIN_FAILED, user=subject, request=request, outcome="failure",
                          details={"via": "national_platform", "reason": reason, "reauth": reauth,
                                   "auth_time": int(auth_time) if auth_time is not None else None,
                                   "not_before": int(not_before)})
    log.warning("sso.national_login_not_fresh", reason=reason, reauth=reauth)
    return TongbanError("federation_not_reauthenticated",
                        message_zh="国家政务服务平台未重新验证您的身份，请重新登录。",
                        message_en="The national platform did not authenticate you again; sign in again.",
                        status=403)


class _SomeoneElse(Exception):  # noqa: N818  (a control-flow signal inside callback, never shown)
    """The national identity is not the account signed in again."""


def _account_for(cfg: dict[str, Any], claims: dict[str, Any], *, reauth_of: Any, request: HttpRequest) -> Any:
    """The account the national identity signs in to (linked or made by federated_login). Signing in again
    (`reauth_of`, the account signed in) first checks, reading only, that the identity is that account's —
    by its link, else by its verified ID number — so nothing is linked, made or touched for another person;
    raises _SomeoneElse if not. Called inside callback's transaction."""
    subject, level = str(claims["sub"]), asserted_level(cfg, claims.get("acr"))
    id_number, name = str(claims.get("id_number") or ""), str(claims.get("name") or "")
    if reauth_of is not None:
        known = federated_account(subject=subject, level=level, id_number=id_number, name=name)
        if known is None or known.pk != reauth_of.pk:
            raise _SomeoneElse
    user = federated_login(subject=subject, level=level, id_number=id_number, name=name, request=request)
    if reauth_of is not None and user.pk != reauth_of.pk:
        raise _SomeoneElse  # linked to someone else since the check (a concurrent sign-in): rolled back
    return user


def _someone_else(request: HttpRequest, *, signed_in: Any) -> TongbanError:
    """Signing in again must prove the same person: a national identity that belongs to another account
    is refused, audited under the account signed in (auth.login.failure), and changes nothing — that
    account stays signed in, its login request waits on the sign-in-again page."""
    from tongban.accounts.events import SecurityEvent, record_security_event

    record_security_event(SecurityEvent.LOGIN_FAILED, user=signed_in, request=request, outcome="failure",
                          details={"via": "national_platform", "reason": "different_person", "reauth": True})
    log.warning("sso.national_reauth_different_person")
    return TongbanError("federation_different_person",
                        message_zh="您使用的国家政务服务平台账号与当前登录的账号不是同一人。请使用本人的国家政务服务平台账号，"
                                   "或改用本平台的登录密码、短信验证码重新验证。",
                        message_en="The national platform account is not the person signed in here; use your own, "
                                   "or sign in again with your password or an SMS code.",
                        status=403)


def _refuse(message: str) -> TongbanError:
    return TongbanError("federation_refused", message_zh=message, message_en="The national platform's assertion "
                        "cannot be used to sign in here.", status=403)


def _linked(subject: str) -> FederatedIdentity | None:
    return FederatedIdentity.objects.filter(provider=PROVIDER, subject=subject).select_related("user").first()


def _verified_number(*, level: int, id_number: str, name: str) -> str:
    """The ID number an identity not yet linked is matched by: only a verified one (L1 and up, with a name)."""
    from tongban.core.identifiers import validate_resident_id

    if level < 1 or not id_number or not name:
        raise _refuse("国家政务服务平台未提供已核验的身份，无法登录本平台。请先在国家政务服务平台完成实名认证。")
    return validate_resident_id(id_number).number


def _profile_holding(number: str, *, lock: bool = False) -> Any:
    """The open citizen profile holding this ID number, found by its blind index."""
    from tongban.accounts.models import CitizenProfile
    from tongban.crypto.fields import blind_lookup

    rows = CitizenProfile.objects.filter(**blind_lookup(CitizenProfile, "person_key", number), closed_at__isnull=True)
    return (rows.select_for_update() if lock else rows.select_related("user")).first()


def federated_account(*, subject: str, level: int, id_number: str, name: str) -> Any | None:
    """The account federated_login would sign this national identity in to, found the same way — its link,
    else the blind index of its verified ID number — but reading only: None if it would make a new one.
    Refuses (federation_refused) what federated_login refuses before matching (no link, no verified identity)."""
    link = _linked(subject)
    if link is not None:
        return link.user
    profile = _profile_holding(_verified_number(level=level, id_number=id_number, name=name))
    return profile.user if profile is not None else None


def federated_login(*, subject: str, level: int, id_number: str, name: str, request: HttpRequest | None = None
                    ) -> Any:
    """The account for a national-platform identity: the one already linked, else the one holding the
    same verified ID number (by its blind index), else a new one — never matched by phone or e-mail.
    Writes (the link, a new account, a raised level); the caller runs it in a transaction and rolls it
    back on a refusal raised after those writes (an account that is not active)."""
    from tongban.accounts.auditing import account_subject, audit_account_event
    from tongban.accounts.citizens import _generated_username
    from tongban.accounts.models import CitizenProfile, IdType, User, UserKind

    link = _linked(subject)
    if link is not None:
        if not link.user.is_active:
            raise _refuse("该账号已注销或停用。")
        FederatedIdentity.objects.filter(pk=link.pk).update(last_login_at=timezone.now())
        return link.user
    number = _verified_number(level=level, id_number=id_number, name=name)
    try:
        with transaction.atomic():
            profile = _profile_holding(number, lock=True)
            created = profile is None
            if profile is None:
                user = User(username=_generated_username(), kind=UserKind.CITIZEN)
                user.set_unusable_password()
                user.save()
                profile = CitizenProfile(user=user, id_type=IdType.RESIDENT_ID, id_number=number, person_key=number,
                                         name=" ".join(name.split()), level=level, verified_at=timezone.now())
                profile.save()
            else:
                user = profile.user
                if level > profile.level:
                    old = profile.level
                    profile.level = level
                    profile.verified_at = timezone.now()
                    profile.save()
                    audit_account_event("identity_verified", actor=user, subject=account_subject(user), request=request,
                                        details={"old_level": old, "new_level": level, "via": "national_platform",
                                                 "federated": True})
            FederatedIdentity.objects.create(provider=PROVIDER, subject=subject, user=user, level_asserted=level,
                                             created_account=created, last_login_at=timezone.now())
            audit_account_event("citizen_registered" if created else "identity_verified", actor=user,
                                subject=account_subject(user), request=request,
                                details={"via": "national_platform", "federated": True, "linked_by": "id_number_bidx",
                                         "level": level, "created": created})
    except IntegrityError:  # a concurrent sign-in of the same identity linked it first
        link = _linked(subject)
        if link is None:
            raise
        if not link.user.is_active:
            raise _refuse("该账号已注销或停用。") from None
        return link.user
    if not user.is_active:
        raise _refuse("该账号已注销或停用。")
    return user
