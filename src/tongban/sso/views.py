"""The provider's endpoints: discovery, JWKS, authorize (login → step-up → consent), token, userinfo,
revocation, RP-initiated logout; and the citizen's list of authorisations at /me/authorizations/.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from jwcrypto import jwk
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.models import AccessToken
from oauthlib.common import add_params_to_uri

from tongban.core.middleware import error_response
from tongban.crypto.jose import JWSError, jws_verify
from tongban.sso import claims as claims_mod
from tongban.sso import services, signing
from tongban.sso.core import GRANT_TYPES, oauthlib_core
from tongban.sso.models import Client, ClientAuthMethod, Consent
from tongban.sso.secrets import verify_secret
from tongban.sso.validators import client_by_id, usable_id
from tongban.verification.levels import AssuranceLevel, supported_levels

TXN_PREFIX = "tongban_sso_txn:"
TXN_SECONDS = 1800


def _bind(request: HttpRequest) -> None:
    claims_mod.http_request.set(request)


def _json(data: Any, *, status: int = 200, cache_seconds: int = 0) -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    if cache_seconds:
        response["Cache-Control"] = f"public, max-age={cache_seconds}"
    else:
        response["Cache-Control"] = "no-store"
    return response


def _oauth_response(headers: dict[str, str], body: str, status: int) -> HttpResponse:
    response = HttpResponse(body or "", status=status, content_type="application/json")
    for name, value in (headers or {}).items():
        response[name] = value
    return response


# -- discovery and keys ---------------------------------------------------------------------------------


def discovery_document(request: HttpRequest) -> dict[str, Any]:
    iss = claims_mod.issuer(request)
    return {
        "issuer": iss,
        "authorization_endpoint": f"{iss}/o/authorize/",
        "token_endpoint": f"{iss}/o/token/",
        "userinfo_endpoint": f"{iss}/o/userinfo/",
        "jwks_uri": f"{iss}/o/jwks/",
        "end_session_endpoint": f"{iss}/o/logout/",
        "revocation_endpoint": f"{iss}/o/revoke/",
        "scopes_supported": list(claims_mod.SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256", "RS256", "SM2SM3"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt", "none"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "SM2SM3"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": [lvl.uri for lvl in sorted(supported_levels())],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "sid",
                             "name", "family_name", "given_name", "name#en", "family_name#en", "given_name#en",
                             "id_type", "id_number", "id_number_masked", "phone_number",
                             "phone_number_verified"],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,  # its default is true (OIDC Discovery §3): said explicitly
        "authorization_response_iss_parameter_supported": True,  # RFC 9207
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        "ui_locales_supported": ["zh-CN"],
    }


_discovery_bytes: dict[str, bytes] = {}


@require_GET
def discovery(request: HttpRequest) -> HttpResponse:
    iss = claims_mod.issuer(request)
    body = _discovery_bytes.get(iss)
    if body is None:
        body = json.dumps(discovery_document(request), ensure_ascii=False).encode()
        if len(_discovery_bytes) < 16:  # a configured issuer has one; request-derived ones are few
            _discovery_bytes[iss] = body
    response = HttpResponse(body, content_type="application/json")
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    return _json(signing.jwks(), cache_seconds=60)


# -- authorize ---------------------------------------------------------------------------------------------


def _error_page(request: HttpRequest, message: str, *, status: int = 400) -> HttpResponse:
    return render(request, "sso/error.html", {"message": message}, status=status)


def _to_client(uri: str) -> HttpResponse:
    """A redirect to a client's registered URI (already matched exactly), custom app schemes included."""
    scheme = urlsplit(uri).scheme
    return OAuth2ResponseRedirect(uri, ["https", "http", scheme] if scheme else ["https", "http"])


def _hand_back(request: HttpRequest, uri: str) -> HttpResponse:
    """The last hop back to the client. After one of our own forms (login, consent, verification) a
    redirect to another origin would be blocked by our CSP's form-action 'self' — so the browser is
    sent on by a page (meta refresh, plus a link) instead of a 302."""
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}):
        return render(request, "sso/redirect.html", {"uri": uri})
    return _to_client(uri)


def _with_iss(request: HttpRequest, uri: str) -> str:
    """An authorization response (a code or an error) carries our issuer identifier: RFC 9207, so that a
    client talking to several providers can tell which one answered (mix-up defence)."""
    return add_params_to_uri(uri, [("iss", claims_mod.issuer(request))])


def _redirect_error(request: HttpRequest, redirect_uri: str, error: str, description: str,
                    state: str | None) -> HttpResponse:
    """An error answered at the client's (already validated) redirect URI, in the query: the code flow's one
    response mode (RFC 6749 §4.1.2.1), with `iss` (RFC 9207)."""
    params = [("error", error)]
    if description:
        params.append(("error_description", description))
    if state:
        params.append(("state", state))
    return _to_client(_with_iss(request, add_params_to_uri(redirect_uri, params)))


def _oauth_error(request: HttpRequest, error: OAuthToolkitError) -> HttpResponse:
    err = error.oauthlib_error
    if isinstance(error, FatalClientError) or not getattr(err, "redirect_uri", None):
        description = getattr(err, "description", "") or getattr(err, "error", "")
        return _error_page(request, f"应用发起的登录请求无效：{description}", status=400)
    # Always in the query, even if the request asked for response_mode=fragment (refused: it is not offered).
    return _redirect_error(request, err.redirect_uri, err.error, err.description, err.state)


def _requested_level(acr_values: str) -> int | None:
    """The lowest level among the acr values asked for (each an acceptable alternative); None if none
    was asked; -1 if none of them is a level we know."""
    values = acr_values.split()
    if not values:
        return None
    levels = []
    for value in values:
        try:
            levels.append(int(AssuranceLevel.from_uri(value)))
        except ValueError:
            continue
    return min(levels) if levels else -1


def _max_age(value: str) -> int | None:
    """max_age in seconds; None if absent (an empty value counts as absent, RFC 6749 §3.1); -1 if malformed."""
    if value == "":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return -1
    return int(value)


@never_cache
@require_GET
def authorize(request: HttpRequest) -> HttpResponse:
    _bind(request)
    try:
        scopes, credentials = oauthlib_core().validate_authorization_request(request)
    except OAuthToolkitError as error:
        return _oauth_error(request, error)
    redirect_uri = credentials["redirect_uri"]
    state = credentials.get("state")
    if credentials.get("response_type") != "code":
        return _redirect_error(request, redirect_uri, "unsupported_response_type", "only response_type=code", state)
    if credentials.get("code_challenge_method") != "S256" or not credentials.get("code_challenge"):
        return _redirect_error(request, redirect_uri, "invalid_request", "PKCE with code_challenge_method=S256 is required",
                               state)
    client = Client.objects.get(client_id=credentials["client_id"])
    level = _requested_level(request.GET.get("acr_values", ""))
    if level is not None and (level < 1 or level not in client.levels):
        return _redirect_error(request, redirect_uri, "invalid_request", "acr_values names no level this client may ask",
                               state)
    max_age = _max_age(request.GET.get("max_age", ""))
    if max_age == -1:
        return _redirect_error(request, redirect_uri, "invalid_request", "max_age must be a whole number of seconds", state)
    prompt = sorted(credentials.get("prompt") or [])
    now = time.time()
    # The sign-in must be at least this recent (a Unix time; 0: any): now for prompt=login and max_age=0,
    # max_age seconds before the request otherwise (OIDC Core §3.1.2.1). Compared with the server's own
    # record of the session's sign-in in authorize_continue.
    auth_not_before = now if "login" in prompt or max_age == 0 else (now - max_age if max_age else 0.0)
    txn = secrets.token_urlsafe(16)
    request.session[TXN_PREFIX + txn] = {
        "client_id": client.client_id, "redirect_uri": redirect_uri, "state": state, "response_type": "code",
        "code_challenge": credentials["code_challenge"], "code_challenge_method": "S256",
        "nonce": credentials.get("nonce"), "scopes": list(scopes), "level": level or 0,
        "prompt": prompt, "at": int(now), "auth_not_before": auth_not_before, "max_age": max_age,
    }
    return HttpResponseRedirect(_txn_url("sso:authorize_continue", txn))


def _txn_url(view: str, txn: str) -> str:
    """A page of the login request `txn` (the continuation, sign-in-again, step-up)."""
    return f"{reverse(view)}?{urlencode({'txn': txn})}"


def _txn(request: HttpRequest) -> tuple[str, dict[str, Any] | None]:
    txn = (request.POST.get("txn") or request.GET.get("txn") or "")[:64]
    data = request.session.get(TXN_PREFIX + txn) if txn else None
    if not isinstance(data, dict) or time.time() - data.get("at", 0) > TXN_SECONDS:
        return txn, None
    return txn, data


def _citizen(request: HttpRequest) -> Any:
    user = request.user
    return user if user.is_authenticated and getattr(user, "kind", None) == "citizen" and user.is_active else None


def _fresh_enough(request: HttpRequest, user: Any, data: dict[str, Any]) -> bool:
    """Whether the session's sign-in is as recent as prompt=login / max_age asked (always, if neither)."""
    not_before = data.get("auth_not_before")
    if not isinstance(not_before, int | float) or not not_before:
        return True
    auth_time = services.session_auth_time(request, user)
    return auth_time is not None and auth_time.timestamp() >= not_before


@never_cache
@require_http_methods(["GET", "POST"])
def authorize_continue(request: HttpRequest) -> HttpResponse:
    """After the request was validated: sign in, reach the level asked, consent, then the code."""
    _bind(request)
    txn, data = _txn(request)
    if data is None:
        return _error_page(request, gettext("登录请求已过期或无效，请返回应用重新登录。"))
    client = Client.objects.filter(client_id=data["client_id"], is_active=True).first()
    if client is None:
        return _error_page(request, gettext("该应用已停用。"))
    prompt = set(data["prompt"])
    here = _txn_url("sso:authorize_continue", txn)

    def fail(error: str, description: str) -> HttpResponse:
        request.session.pop(TXN_PREFIX + txn, None)
        return _hand_back(request, _redirect_error(request, data["redirect_uri"], error, description, data.get("state"))["Location"])

    user = _citizen(request)
    if user is None:
        if "none" in prompt:
            return fail("login_required", "the person is not signed in")
        return HttpResponseRedirect(f"{reverse('portal:login')}?{urlencode({'next': here})}")
    if not _fresh_enough(request, user, data):
        if "none" in prompt:
            return fail("login_required", "the person's sign-in is older than max_age allows")
        return HttpResponseRedirect(_txn_url("sso:reauthenticate", txn))

    level = services.person_level(user)
    wanted = int(data["level"])
    if wanted > level:
        if "none" in prompt or AssuranceLevel(wanted) not in supported_levels():
            return fail("unmet_authentication_requirements",
                        f"the person is verified to level {level}; level {wanted} cannot be reached here")
        return HttpResponseRedirect(_txn_url("sso:step_up", txn))

    scopes = services.grantable_scopes(user=user, client=client, requested=data["scopes"])
    consent = Consent.objects.filter(user=user, client=client, revoked_at__isnull=True).first()
    covered = consent is not None and set(scopes) <= consent.scope_set and "consent" not in prompt
    if not covered and not client.skip_authorization:
        if "none" in prompt:
            return fail("consent_required", "the person has not consented to this client")
        if request.method != "POST":
            items = claims_mod.consent_items(user=user, client=client, scopes=scopes, request=request)
            return render(request, "sso/consent.html", {"client": client, "items": items, "txn": txn,
                                                        "level_wanted": wanted})
        if request.POST.get("decision") != "allow":
            return fail("access_denied", "the person declined")
        services.consent_grant(user=user, client=client, scopes=scopes, request=request)
    request.session.pop(TXN_PREFIX + txn, None)
    credentials = {key: data[key] for key in ("client_id", "redirect_uri", "response_type", "state",
                                              "code_challenge", "code_challenge_method", "nonce") if data.get(key)}
    try:
        uri, _headers, _body, _status = oauthlib_core().create_authorization_response(
            request=request, scopes=scopes, credentials=credentials, allow=True)
    except OAuthToolkitError as error:
        return _oauth_error(request, error)
    code = (parse_qs(urlsplit(uri).query).get("code") or [""])[0]
    services.participation_record(request=request, user=user, client=client, code=code, level=level,
                                  scopes=list(scopes))
    return _hand_back(request, _with_iss(request, uri))


@never_cache
@require_http_methods(["GET", "POST"])
def reauthenticate(request: HttpRequest) -> HttpResponse:
    """prompt=login, or a sign-in older than max_age: the person signs in again — by password, or by a code
    sent to the phone on their account (the accounts app's login services, with their limits, lockout and
    audit), or through the national platform — and the login carries on. The session stays the same one —
    the same person signing in again keeps its data and its sign-ins at other clients; giving up answers
    login_required."""
    from tongban.accounts import citizens
    from tongban.core.errors import TongbanError
    from tongban.portal.forms import CodeForm
    from tongban.sso import federation

    txn, data = _txn(request)
    if data is None:
        return _error_page(request, gettext("登录请求已过期或无效，请返回应用重新登录。"))
    back, here = _txn_url("sso:authorize_continue", txn), _txn_url("sso:reauthenticate", txn)
    user = _citizen(request)
    if user is None or _fresh_enough(request, user, data):
        return HttpResponseRedirect(back)  # signing in from scratch is fresh anyway (the continuation sees to it)
    posted = request.method == "POST"
    action = request.POST.get("action", "password") if posted else ""
    if posted and request.POST.get("decision") == "cancel":
        request.session.pop(TXN_PREFIX + txn, None)
        return _hand_back(request, _redirect_error(request, data["redirect_uri"], "login_required",
                                                   "the person did not sign in again", data.get("state"))["Location"])

    def remember(**values: Any) -> None:  # the transaction's own state; never the phone itself
        data.update(values)
        request.session[TXN_PREFIX + txn] = data

    if "sms_to" not in data:  # where a code would go, masked: read (and audited) once per login request
        remember(sms_to=services.reauth_phone_masked(user=user, request=request))
    sms_error = ""
    if posted and action == "send_code":
        try:
            ticket = services.reauth_code_send(user=user, request=request)
        except TongbanError as exc:
            sms_error = exc.message("zh-hans")
        else:
            remember(sms_ticket=ticket.id, sms_to=ticket.phone_masked)
            return HttpResponseRedirect(here)  # a reload shows the code field; it does not send again
    code_form = None
    if data.get("sms_ticket"):
        code_form = CodeForm(request.POST if posted and action == "code" else None)
        if code_form.is_bound and code_form.is_valid():
            try:
                services.reauth_code_check(user=user, request=request, ticket_id=data["sms_ticket"],
                                           code=code_form.cleaned_data["code"])
            except TongbanError as exc:
                code_form.add_error("code", exc.message("zh-hans"))
            else:
                remember(sms_ticket=None)
                return HttpResponseRedirect(back)
    elif posted and action == "code":
        sms_error = gettext("请先获取短信验证码。")
    form = None
    if user.has_usable_password():
        form = ReauthForm(request.POST if posted and action == "password" else None)
        if form.is_bound and form.is_valid():
            try:
                citizens.citizen_login_password(request=request, identifier=user.username,
                                                password=form.cleaned_data["password"])
            except TongbanError as exc:
                form.add_error("password", exc.message("zh-hans"))
            else:
                return HttpResponseRedirect(back)
    national = (f"{reverse('sso:national_login')}?{urlencode({'next': here})}"
                if federation.config() is not None else "")
    client = Client.objects.filter(client_id=data["client_id"]).first()
    failed = bool(sms_error or (form is not None and form.errors) or (code_form is not None and code_form.errors))
    return render(request, "sso/reauth.html", {"form": form, "code_form": code_form, "sms_to": data.get("sms_to"),
                                               "sms_error": sms_error, "client": client, "txn": txn,
                                               "national_url": national, "max_age": data.get("max_age")},
                  status=422 if failed else 200)


class ReauthForm(forms.Form):
    password = forms.CharField(label=_("登录密码"), max_length=128, strip=False,
                               widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


@never_cache
@require_http_methods(["GET", "POST"])
def step_up(request: HttpRequest) -> HttpResponse:
    """The client asked for a higher level than the person has: verify now (the accounts service),
    then carry on with the login. Giving up answers unmet_authentication_requirements."""
    from tongban.accounts import citizens
    from tongban.core.errors import TongbanError
    from tongban.portal.forms import IdentityForm

    txn, data = _txn(request)
    if data is None:
        return _error_page(request, gettext("登录请求已过期或无效，请返回应用重新登录。"))
    back, here = _txn_url("sso:authorize_continue", txn), _txn_url("sso:step_up", txn)
    user = _citizen(request)
    if user is None:
        return HttpResponseRedirect(f"{reverse('portal:login')}?{urlencode({'next': here})}")
    wanted = int(data["level"])
    if request.method == "POST" and request.POST.get("decision") == "cancel":
        request.session.pop(TXN_PREFIX + txn, None)
        return _hand_back(request, _redirect_error(request, data["redirect_uri"], "unmet_authentication_requirements",
                                                   "the person did not complete verification",
                                                   data.get("state"))["Location"])
    if services.person_level(user) >= wanted:
        return HttpResponseRedirect(back)
    if wanted >= 3 and services.person_level(user) >= 2:
        # 实人 (L3): the face check on the portal's camera page, which comes back here when passed.
        return HttpResponseRedirect(f"{reverse('face:camera')}?{urlencode({'next': here})}")
    form = IdentityForm(request.POST if request.method == "POST" else None, initial={"level": wanted})
    if wanted >= 2:
        form.fields["level"].choices = [(2, _("实证 L2"))]  # type: ignore[attr-defined]
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            profile, outcome = citizens.citizen_verify_identity(
                user=user, id_type=d["id_type"], id_number=d["id_number"], name=d["name"], level=d["level"],
                card_valid_from=d.get("card_valid_from"), card_valid_to=d.get("card_valid_to"),
                card_long_term=bool(d.get("card_long_term")), name_en=d.get("name_en") or "",
                request=request)
        except TongbanError as exc:
            form.add_error(None, exc.message("zh-hans"))
        else:
            if profile.level >= wanted:
                return HttpResponseRedirect(back)
            if wanted >= 3 and profile.level >= 2:
                return HttpResponseRedirect(here)  # now the face check
            form.add_error(None, _("认证未达到应用要求的等级：%(reason)s。") % {
                "reason": citizens.reason_label(outcome) or _("请核对后重试")})
    client = Client.objects.filter(client_id=data["client_id"]).first()
    return render(request, "sso/step_up.html", {"form": form, "client": client, "txn": txn,
                                                "wanted": AssuranceLevel(wanted)},
                  status=422 if form.errors else 200)


# -- token, userinfo, revocation --------------------------------------------------------------------------


CC_TOKEN_SECONDS = 600
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _token_error(error: str, status: int, description: str = "") -> HttpResponse:
    body = {"error": error, **({"error_description": description} if description else {})}
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="tongban"'
    return _oauth_response(headers, json.dumps(body), status)


def _client_credentials(request: HttpRequest) -> HttpResponse | None:
    """The client-credentials grant with client_secret_basic, answered here without oauthlib and
    without a database write: the access token is a signed JWT (RFC 9068, `typ: at+jwt`, 10 minutes)
    that resource servers check against the JWKS. Anything else (private_key_jwt, other grants) goes
    through the general path, which also answers the malformed cases."""
    if request.POST.get("grant_type") != "client_credentials" or "client_assertion" in request.POST \
            or "client_secret" in request.POST:
        return None
    auth = request.META.get("HTTP_AUTHORIZATION", "")
    if not auth.startswith("Basic "):
        return None
    try:
        client_id, secret = (unquote_plus(part) for part in
                             base64.b64decode(auth[6:], validate=True).decode().split(":", 1))
    except (ValueError, UnicodeDecodeError):
        return _token_error("invalid_client", 401)
    client = client_by_id(client_id)
    if client is None or client.token_endpoint_auth_method != ClientAuthMethod.SECRET_BASIC \
            or not verify_secret(secret, client.client_secret):
        return _token_error("invalid_client", 401)
    if not client.allows_grant_type(Client.GRANT_CLIENT_CREDENTIALS):
        return _token_error("unauthorized_client", 400)
    requested = request.POST.get("scope", "").split()
    scopes = requested or (["api"] if "api" in client.scope_set else [])
    allowed = (set(client.scope_set) & set(claims_mod.SCOPES)) - {"openid", *claims_mod.IDENTITY_SCOPES}
    if not set(scopes) <= allowed:
        return _token_error("invalid_scope", 400)
    now = int(time.time())
    token = signing.sign({"iss": claims_mod.issuer(request), "sub": client.client_id, "aud": client.client_id,
                          "client_id": client.client_id, "scope": " ".join(scopes), "iat": now,
                          "exp": now + CC_TOKEN_SECONDS, "jti": secrets.token_urlsafe(16)},
                         alg=client.algorithm, typ="at+jwt")
    body = {"access_token": token, "token_type": "Bearer", "expires_in": CC_TOKEN_SECONDS, "scope": " ".join(scopes)}
    return _oauth_response(_NO_STORE, json.dumps(body), 200)


def _body_checked(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """The token, userinfo and revocation endpoints read their body through Django's form parser: a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE (2 MiB) answers 413 in the JSON error envelope — whatever its content type,
    and before it is read — and a body the parser refuses (too many fields, broken multipart) answers
    `invalid_request`. (These views take the fast lane, where anything raised would be a 500.)"""

    @functools.wraps(view)
    def checked(request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return error_response(request, "payload_too_large")
        try:
            return view(request)
        except RequestDataTooBig:
            return error_response(request, "payload_too_large")
        except (SuspiciousOperation, MultiPartParserError):
            return _token_error("invalid_request", 400, "the request is malformed")

    return checked


@csrf_exempt
@require_POST
@_body_checked
def token(request: HttpRequest) -> HttpResponse:
    from tongban.sso.grants import refresh_token_grant  # here: this function is the only user

    # Every grant type not offered (password, device_code, jwt-bearer, token-exchange, …) is refused before any
    # credential is looked at: asking for one teaches nothing about a client, an account or a password.
    grant_type = request.POST.get("grant_type")
    if grant_type not in GRANT_TYPES:
        if not grant_type:
            return _token_error("invalid_request", 400, "grant_type is required")
        return _token_error("unsupported_grant_type", 400,
                            "supported grant types: authorization_code, refresh_token, client_credentials")
    _bind(request)
    fast = _client_credentials(request)
    if fast is None:
        fast = refresh_token_grant(request)
    if fast is not None:
        return fast
    _uri, headers, body, status = oauthlib_core().create_token_response(request)
    return _oauth_response(headers, body, status)


def _bearer_token(request: HttpRequest) -> str | None:
    """The access token as oauthlib's userinfo endpoint reads it (the Authorization header if there is one,
    else the body's or the query's access_token), or None if the request carries none."""
    auth = request.META.get("HTTP_AUTHORIZATION")
    if auth is not None:
        parts = auth.split()
        return parts[1] if len(parts) == 2 and parts[0].lower() == "bearer" else None
    return request.POST.get("access_token") or request.GET.get("access_token") or None


def _valid_without_openid(token: str) -> bool:
    """Whether `token` is one of our live access tokens that simply lacks the `openid` scope: a stored one
    (code flow without openid) or a client-credentials JWT (never openid)."""
    if token.count(".") == 2:
        try:
            claims = json.loads(jws_verify(token, jwk.JWKSet.from_json(json.dumps(signing.jwks())),
                                           ["ES256", "RS256", "SM2SM3"]))
        except (JWSError, ValueError, TypeError, RecursionError):
            return False
        return (isinstance(claims, dict) and claims.get("iss") == claims_mod.issuer()
                and isinstance(claims.get("exp"), int) and claims["exp"] > time.time()
                and "openid" not in str(claims.get("scope", "")).split())
    access = (AccessToken.objects.select_related("application")
              .filter(token_checksum=hashlib.sha256(token.encode("utf-8")).hexdigest()).first())
    return (access is not None and not access.is_expired() and access.application is not None
            and access.application.is_active and "openid" not in str(access.scope).split())


_USERINFO_REALM = 'Bearer realm="tongban"'


@csrf_exempt
@require_http_methods(["GET", "POST"])
@_body_checked
def userinfo(request: HttpRequest) -> HttpResponse:
    """OIDC Core §5.3 with RFC 6750's errors: no token at all → 401 and a bare challenge (no error code,
    §3.1); a token that is not a live one → 401 `invalid_token`; a live token without the `openid` scope →
    403 `insufficient_scope`."""
    _bind(request)
    bearer = _bearer_token(request)
    if bearer is None:
        response = _oauth_response({"WWW-Authenticate": _USERINFO_REALM}, "", 401)
    else:
        _uri, headers, body, status = oauthlib_core().create_userinfo_response(request)
        if status == 401 and _valid_without_openid(bearer):
            headers = {"WWW-Authenticate": f'{_USERINFO_REALM}, error="insufficient_scope", scope="openid"'}
            body, status = json.dumps({"error": "insufficient_scope",
                                       "error_description": "the access token lacks the openid scope"}), 403
        elif status == 401:
            headers = {**headers, "WWW-Authenticate": f'{_USERINFO_REALM}, error="invalid_token"'}
        response = _oauth_response(headers, body, status)
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_POST
@_body_checked
def revoke(request: HttpRequest) -> HttpResponse:
    _bind(request)
    _uri, headers, body, status = oauthlib_core().create_revocation_response(request)
    return _oauth_response(headers, body, status)


# -- RP-initiated logout ------------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def end_session(request: HttpRequest) -> HttpResponse:
    """OpenID Connect RP-Initiated Logout 1.0. A valid id_token_hint for this very session logs out at
    once; otherwise the person confirms. Logging out notifies every client of the session (back-channel)."""
    _bind(request)
    params = request.POST if request.method == "POST" else request.GET
    hint = services.id_token_hint_claims(params.get("id_token_hint", ""))
    if params.get("id_token_hint") and hint is None:
        # RP-Initiated Logout 1.0 §4: a hint that is not an ID token of ours fails validation — no logout on
        # its say-so and no redirection; the person is told.
        return _error_page(request, gettext("退出请求无效（invalid_request）：id_token_hint 不是本平台签发的 ID Token。"))
    client_id = params.get("client_id") or (hint or {}).get("aud")
    client = Client.objects.filter(client_id=client_id).first() if usable_id(client_id) else None
    target = params.get("post_logout_redirect_uri", "")
    if target and (client is None or target not in client.post_logout_redirect_uris.split()):
        return _error_page(request, gettext("退出后的返回地址未登记。"))
    state = params.get("state", "")
    back = f"{target}{'&' if '?' in target else '?'}{urlencode({'state': state})}" if target and state else target
    user = _citizen(request)
    if user is None:
        return _to_client(back) if back else render(request, "sso/logged_out.html")
    same_session = hint is not None and hint.get("sid") == services.current_sid(request, create=False)
    if same_session or (request.method == "POST" and params.get("confirm") == "yes"):
        logout(request)  # tongban.sso.logout ends the session's sign-ins and notifies the clients
        return _hand_back(request, back) if back else render(request, "sso/logged_out.html")
    return render(request, "sso/logout_confirm.html", {
        "client": client, "fields": {k: v for k, v in {"client_id": client_id if isinstance(client_id, str) else "",
                                                      "post_logout_redirect_uri": target, "state": state}.items()
                                     if v}})


# -- the citizen's authorisations ----------------------------------------------------------------------------


def _citizen_required(request: HttpRequest) -> HttpResponse | None:
    if _citizen(request) is None:
        if request.user.is_authenticated:
            raise Http404
        return redirect(f"{reverse('portal:login')}?next={request.path}")
    return None


@never_cache
@require_GET
def authorizations(request: HttpRequest) -> HttpResponse:
    gate = _citizen_required(request)
    if gate is not None:
        return gate
    rows = services.consents_of(request.user)
    return render(request, "sso/authorizations.html", {"consents": rows})


@require_POST
def authorization_revoke(request: HttpRequest, consent_id: int) -> HttpResponse:
    gate = _citizen_required(request)
    if gate is not None:
        return gate
    if not services.consent_revoke(user=request.user, consent_id=consent_id, request=request):
        raise Http404
    messages.success(request, gettext("已撤销授权，该应用已不能再获取您的信息，需重新授权。"))
    return redirect("sso:authorizations")


def scope_labels(scopes: str) -> list[str]:
    return [claims_mod.SCOPES.get(s, s) for s in scopes.split()]

