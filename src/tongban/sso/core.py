"""The oauthlib server behind the endpoints: django-oauth-toolkit's OAuthLibCore around an OpenID
Connect server with tongban's validator, built once per process — cut down to what tongban offers:
the `code` response type and the authorization_code, refresh_token and client_credentials grants.
oauthlib's pre-configured server also wires the password, implicit, hybrid and device-code grants;
none of them is reachable here (the token view refuses their grant types before anything else, and
this server no longer knows them either)."""

from __future__ import annotations

import functools
from typing import Any

from django.db import transaction
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauthlib.oauth2.rfc6749 import errors
from oauthlib.openid import Server
from oauthlib.openid.connect.core import exceptions as oidc_errors

from tongban.sso.validators import TongbanValidator, code_exchange_refused

# The grant types the token endpoint offers (discovery's grant_types_supported says the same).
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
RESPONSE_TYPE = "code"
RESPONSE_MODES = ("query",)


def authorization_request_checks(request: Any) -> dict[str, Any]:
    """What tongban does not offer at the authorization endpoint, refused with the error the standards
    name. oauthlib runs this once the client and its redirect URI are known to be good (a `pre_auth`
    validator), so each error goes back to the client's redirect URI."""
    params = request._params
    if params.get("request") is not None:
        raise oidc_errors.RequestNotSupported(request=request)  # OIDC Core §6.1
    if params.get("request_uri") is not None:
        raise oidc_errors.RequestURINotSupported(request=request)  # OIDC Core §6.2
    if params.get("registration") is not None:
        raise oidc_errors.RegistrationNotSupported(request=request)  # OIDC Core §7.2.1
    if request.response_type is not None and request.response_type != RESPONSE_TYPE:
        # the implicit and hybrid flows (token, id_token, code id_token, …) and `none` are not offered
        raise errors.UnsupportedResponseTypeError(
            request=request, description="only response_type=code is supported")
    mode = params.get("response_mode")
    if mode is not None and mode not in RESPONSE_MODES:
        # fragment, form_post, the JARM modes: not offered. Answered in the query, the default (and only)
        # response mode of the code flow (RFC 6749 §4.1.2.1; OAuth 2.0 Multiple Response Types §2.1).
        raise errors.InvalidRequestError(
            request=request, description="response_mode is not supported: only query")
    return {}


class CodeExchange:
    """The authorization_code grant at the token endpoint, in one transaction. A code that the validator
    accepted (and so claimed: TongbanValidator.validate_code) is spent whatever follows — a wrong PKCE
    verifier, a redirect_uri that is not the authorization request's: the code is deleted, its sign-in
    ended and the refusal audited with it (RFC 6749 §4.1.2: a code is used once)."""

    def __init__(self, dispatcher: Any) -> None:
        self.dispatcher = dispatcher

    def __getattr__(self, name: str) -> Any:
        return getattr(self.dispatcher, name)

    def create_token_response(self, request: Any, token_handler: Any) -> tuple[dict[str, str], str, int]:
        with transaction.atomic():
            headers, body, status = self.dispatcher.create_token_response(request, token_handler)
            if status != 200 and getattr(request, "sso_code_claimed", None) is not None:
                code_exchange_refused(request, body)
        return headers, body, status


@functools.lru_cache(maxsize=1)
def oauthlib_core() -> Any:
    from oauth2_provider.settings import oauth2_settings

    server = Server(TongbanValidator(), **oauth2_settings.server_kwargs)
    server._grant_types = {name: server.grant_types[name] for name in GRANT_TYPES}
    server._grant_types["authorization_code"] = CodeExchange(server.grant_types["authorization_code"])
    server._response_types = {RESPONSE_TYPE: server.auth_grant_choice}
    for grant in (server.auth_grant, server.openid_connect_auth.proxy_target):
        grant.custom_validators.pre_auth.append(authorization_request_checks)
    return OAuthLibCore(server)
