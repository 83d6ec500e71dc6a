"""The oauthlib server behind the endpoints: django-oauth-toolkit's OAuthLibCore around an OpenID
Connect server with tongban's validator, built once per process."""

from __future__ import annotations

import functools
from typing import Any

from oauth2_provider.oauth2_backends import OAuthLibCore
from oauthlib.openid import Server

from tongban.sso.validators import TongbanValidator


@functools.lru_cache(maxsize=1)
def oauthlib_core() -> Any:
    from oauth2_provider.settings import oauth2_settings

    server = Server(TongbanValidator(), **oauth2_settings.server_kwargs)
    return OAuthLibCore(server)
