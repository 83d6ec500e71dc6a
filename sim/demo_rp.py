"""A demo relying party of tongban: a tiny web application that signs people in with tongban's OpenID Connect
provider, as a provincial platform or a business system would. `tongban demo` serves two of them on loopback,
so a newcomer sees single sign-on and single logout across two applications (docs/sso.md, "The demo").

    GET  /                      who is signed in here, or a button to sign in with tongban
    GET  /login                 to tongban's authorization endpoint: code flow, PKCE (S256), state, nonce
    GET  /callback              the code exchanged (client_secret_basic); the ID token validated — signature
                                against tongban's JWKS with the algorithm pinned, iss, aud (azp), exp, iat,
                                nonce, at_hash — then userinfo; a session of this application starts
    POST /logout                RP-initiated logout at tongban (id_token_hint, post_logout_redirect_uri, state)
    GET  /logged-out            where tongban sends the browser back after logging out
    POST /backchannel-logout    a logout token (OpenID Connect Back-Channel Logout 1.0): validated — signature,
                                typ logout+jwt, iss, aud, iat/exp, jti once, the event, sid or sub, no nonce —
                                and this application's sessions of that sid (or subject) end

Standard library and jwcrypto only, everything in memory, built from tongban's discovery document alone: it
knows nothing of tongban but its issuer URL and the client credentials it was registered with. Its cookie
is named after it (`demo_rp_<key>`): browsers share cookies between the ports of one host, and tongban and
the other demo applications all live on 127.0.0.1.

    rp = DemoRelyingParty.start(key="province", name="省级政务服务平台", issuer="http://127.0.0.1:8000")
    rp.redirect_uri, rp.backchannel_uri, rp.post_logout_uri      # what to register at tongban
    rp.configure(client_id=..., client_secret=...)               # then it signs people in
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
import json
import secrets
import socketserver
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qs, urlencode
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from jwcrypto import jwk, jws

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
CLOCK_SKEW = 120  # seconds either way for iat/exp
MAX_BODY = 64 * 1024
ACR_LABELS = {"urn:tongban:acr:l1": "L1 实名", "urn:tongban:acr:l2": "L2 实证", "urn:tongban:acr:l3": "L3 实人"}
AMR_LABELS = {"pwd": "密码", "sms": "短信验证码", "otp": "一次性口令", "fed": "国家政务服务平台账号"}
_SHANGHAI = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
CLAIM_LABELS = (("name", "姓名"), ("id_number_masked", "证件号码（部分隐藏）"), ("phone_number", "手机号码"))

# Loopback only: never through a proxy configured in the environment.
_http = urllib.request.build_opener(urllib.request.ProxyHandler({}))

StartResponse = Callable[..., Any]


class RelyingPartyError(Exception):
    """Something tongban sent did not pass this relying party's checks (shown, never trusted)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _left_hash(value: str) -> str:
    """at_hash for an ES256/RS256-signed ID token (OIDC Core §3.1.3.6): the left half of SHA-256."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return _b64(digest[: len(digest) // 2])


@dataclass
class Session:
    claims: dict[str, Any]
    userinfo: dict[str, Any]
    id_token: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    started: float = field(default_factory=time.time)
    ended: str = ""  # why it ended: "logout" (here), "backchannel" (told by tongban)


@dataclass
class Peer:
    name: str
    url: str


class DemoRelyingParty:
    """One demo application: its WSGI app (`self`), its state and, once started, its server thread."""

    def __init__(self, *, key: str, name: str, issuer: str, organisation: str = "",
                 scope: str = "openid realname idcard_masked", alg: str = "ES256") -> None:
        self.key, self.name, self.organisation = key, name, organisation
        self.issuer = issuer.rstrip("/")
        self.scope, self.alg = scope, alg
        self.client_id = ""
        self.client_secret = ""
        self.base_url = ""
        self.peers: list[Peer] = []
        self.cookie = f"demo_rp_{key}"
        self.sessions: dict[str, Session] = {}
        self.pending: dict[str, dict[str, Any]] = {}  # state -> verifier, nonce, when
        self.logouts: list[dict[str, Any]] = []  # the logout tokens accepted (their claims)
        self.refused_logouts = 0
        self._jtis: dict[str, float] = {}
        self._discovery: tuple[float, dict[str, Any]] | None = None
        self._lock = threading.Lock()
        self.server: WSGIServer | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------

    @classmethod
    def start(cls, *, host: str = "127.0.0.1", port: int = 0, **kwargs: Any) -> DemoRelyingParty:
        rp = cls(**kwargs)
        server = make_server(host, port, rp, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
        rp.server = server
        rp.base_url = f"http://{host}:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, name=f"demo-rp-{rp.key}",
                         daemon=True).start()
        return rp

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def configure(self, *, client_id: str, client_secret: str, peers: Iterable[Peer] = ()) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.peers = list(peers)

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/callback"

    @property
    def post_logout_uri(self) -> str:
        return f"{self.base_url}/logged-out"

    @property
    def backchannel_uri(self) -> str:
        return f"{self.base_url}/backchannel-logout"

    # -- talking to tongban --------------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        cached = self._discovery
        if cached and time.monotonic() - cached[0] < 300:
            return cached[1]
        doc = _get_json(f"{self.issuer}/.well-known/openid-configuration")
        if doc.get("issuer") != self.issuer:
            raise RelyingPartyError(f"the discovery document names another issuer: {doc.get('issuer')!r}")
        self._discovery = (time.monotonic(), doc)
        return doc

    def _verify(self, token: str, *, typ: str | None = None) -> dict[str, Any]:
        """A JWS from tongban: the algorithm pinned to ours, the key from its JWKS, issued by it, to us."""
        doc = self.discovery()
        obj = jws.JWS()
        try:
            obj.deserialize(token)
            header = obj.jose_header
            if header.get("alg") != self.alg:
                raise RelyingPartyError(f"unexpected algorithm {header.get('alg')!r}")
            if typ is not None and header.get("typ") != typ:
                raise RelyingPartyError(f"unexpected token type {header.get('typ')!r}")
            keys = jwk.JWKSet.from_json(json.dumps(_get_json(doc["jwks_uri"])))
            obj.allowed_algs = [self.alg]
            obj.verify(keys, alg=self.alg)
            claims = json.loads(obj.payload)
        except RelyingPartyError:
            raise
        except Exception as exc:  # noqa: BLE001  (jwcrypto raises several kinds: all mean "not valid")
            raise RelyingPartyError(f"signature not valid: {type(exc).__name__}") from exc
        if not isinstance(claims, dict):
            raise RelyingPartyError("the token's payload is not a JSON object")
        if claims.get("iss") != doc["issuer"]:
            raise RelyingPartyError("issued by someone else")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self.client_id not in audiences or (len(audiences) > 1 and claims.get("azp") != self.client_id):
            raise RelyingPartyError("not issued to this application")
        now = time.time()
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or iat > now + CLOCK_SKEW:
            raise RelyingPartyError("issued in the future (or iat missing)")
        exp = claims.get("exp")
        if exp is not None and (not isinstance(exp, int | float) or exp < now - CLOCK_SKEW):
            raise RelyingPartyError("expired")
        return claims

    def login_url(self) -> str:
        doc = self.discovery()
        verifier, state, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        with self._lock:
            self._forget_old_pending()
            self.pending[state] = {"verifier": verifier, "nonce": nonce, "at": time.time()}
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                  "scope": self.scope, "state": state, "nonce": nonce,
                  "code_challenge": _b64(hashlib.sha256(verifier.encode()).digest()), "code_challenge_method": "S256"}
        return f"{doc['authorization_endpoint']}?{urlencode(params)}"

    def _forget_old_pending(self) -> None:
        cutoff = time.time() - 600
        for state in [s for s, p in self.pending.items() if p["at"] < cutoff]:
            del self.pending[state]

    def callback(self, query: dict[str, str]) -> str:
        """The authorization response: a new session's id, or RelyingPartyError."""
        with self._lock:
            pending = self.pending.pop(query.get("state", ""), None)
        if pending is None:
            raise RelyingPartyError("unknown or used state")
        if "error" in query:
            raise RelyingPartyError(f"tongban answered {query['error']}: {query.get('error_description', '')}")
        doc = self.discovery()
        if query.get("iss") not in (None, doc["issuer"]):  # RFC 9207, when tongban sends it
            raise RelyingPartyError("the authorization response names another issuer")
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        tokens = _post_form(doc["token_endpoint"], {
            "grant_type": "authorization_code", "code": query.get("code", ""), "redirect_uri": self.redirect_uri,
            "code_verifier": pending["verifier"]}, {"Authorization": f"Basic {basic}"})
        if not isinstance(tokens.get("id_token"), str) or not isinstance(tokens.get("access_token"), str):
            raise RelyingPartyError("no ID token or access token in the token response")
        claims = self._verify(tokens["id_token"])
        if claims.get("nonce") != pending["nonce"]:
            raise RelyingPartyError("the ID token's nonce is not ours (replayed?)")
        if "exp" not in claims or not claims.get("sub"):
            raise RelyingPartyError("the ID token lacks exp or sub")
        if "at_hash" in claims and claims["at_hash"] != _left_hash(tokens["access_token"]):
            raise RelyingPartyError("at_hash does not match the access token")
        userinfo = _get_json(doc["userinfo_endpoint"], {"Authorization": f"Bearer {tokens['access_token']}"})
        if userinfo.get("sub") != claims["sub"]:
            raise RelyingPartyError("userinfo is about someone else")
        session_id = secrets.token_urlsafe(24)
        with self._lock:
            self.sessions[session_id] = Session(claims=claims, userinfo=userinfo, id_token=tokens["id_token"])
        return session_id

    def backchannel_logout(self, logout_token: str) -> bool:
        """Back-Channel Logout 1.0 §2.6: validate, then end this application's sessions of that sid or sub."""
        try:
            claims = self._verify(logout_token, typ="logout+jwt")
            events = claims.get("events")
            if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
                raise RelyingPartyError("not a back-channel logout event")
            if "nonce" in claims:
                raise RelyingPartyError("a logout token carries no nonce")
            if not claims.get("sid") and not claims.get("sub"):
                raise RelyingPartyError("neither sid nor sub")
            jti = claims.get("jti")
            if not isinstance(jti, str) or not jti:
                raise RelyingPartyError("no jti")
            with self._lock:
                now = time.time()
                for old in [j for j, at in self._jtis.items() if at < now - 600]:
                    del self._jtis[old]
                if jti in self._jtis:
                    raise RelyingPartyError("a logout token already used")
                self._jtis[jti] = now
        except RelyingPartyError:
            with self._lock:
                self.refused_logouts += 1
            return False
        with self._lock:
            self.logouts.append(claims)
            for session in self.sessions.values():
                c = session.claims
                if session.ended:
                    continue
                if (claims.get("sid") and c.get("sid") == claims["sid"]) or (
                        not claims.get("sid") and c.get("sub") == claims.get("sub")):
                    session.ended = "backchannel"
        return True

    def session_of(self, environ: dict[str, Any]) -> tuple[str, Session | None]:
        cookie = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        session_id = cookie[self.cookie].value if self.cookie in cookie else ""
        with self._lock:
            return session_id, self.sessions.get(session_id)

    # -- the web application -------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ["REQUEST_METHOD"], environ.get("PATH_INFO", "/")
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            if not self.client_id:
                return _respond(start_response, 503, self._page("本演示应用尚未在一网通办登记。", []))
            if path == "/" and method == "GET":
                return self._home(environ, start_response, query)
            if path == "/login" and method == "GET":
                return _redirect(start_response, self.login_url())
            if path == "/callback" and method == "GET":
                return self._callback(start_response, query)
            if path == "/logout" and method == "POST":
                return self._logout(environ, start_response)
            if path == "/logged-out" and method == "GET":
                body = self._page('<p id="status">已退出</p><p>您已退出本应用和一网通办。</p>',
                                  ['<a class="button" id="login" href="/">返回首页</a>'])
                return _respond(start_response, 200, body)
            if path == "/backchannel-logout" and method == "POST":
                token = _form(environ).get("logout_token", "")
                ok = self.backchannel_logout(token)
                return _respond(start_response, 200 if ok else 400, b"" if ok else b'{"error":"invalid_request"}',
                                content_type="application/json", headers=[("Cache-Control", "no-store")])
            return _respond(start_response, 404, self._page("页面不存在。", []))
        except (RelyingPartyError, OSError, ValueError, KeyError) as exc:
            message = f"无法完成登录：{html.escape(str(exc))}"
            return _respond(start_response, 502, self._page(f'<p id="error" role="alert">{message}</p>',
                                                             ['<a class="button" href="/">返回首页</a>']))

    def _home(self, environ: dict[str, Any], start_response: StartResponse, query: dict[str, str]) -> Iterable[bytes]:
        _, session = self.session_of(environ)
        if session is None or session.ended:
            note = ""
            if session is not None and session.ended == "backchannel":
                note = '<p id="note">您已在一网通办退出（后端通道通知），本应用随之退出。</p>'
            body = self._page(f'<p id="status">未登录</p>{note}',
                              ['<a class="button" id="login" href="/login">使用一网通办账号登录</a>'])
            return _respond(start_response, 200, body)
        c, info = session.claims, session.userinfo
        rows = [(label, str(info[name])) for name, label in CLAIM_LABELS if info.get(name)]
        rows += [("认证等级（acr）", ACR_LABELS.get(str(c.get("acr")), str(c.get("acr") or "未实名"))),
                 ("登录方式（amr）", "、".join(AMR_LABELS.get(a, a) for a in c.get("amr") or [])),
                 ("本应用的用户标识（sub）", str(c.get("sub"))),
                 ("一网通办会话（sid）", str(c.get("sid", ""))[:12] + "…"),
                 ("登录时间", dt.datetime.fromtimestamp(c.get("auth_time") or c["iat"], _SHANGHAI).strftime(
                     "%Y-%m-%d %H:%M:%S"))]
        table = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
        body = self._page(
            f'<p id="status">已通过一网通办登录</p><p id="who">{html.escape(str(info.get("name") or c["sub"]))}</p>'
            f'<table id="claims">{table}</table>',
            [f'<form method="post" action="/logout"><input type="hidden" name="csrf" value="{session.csrf}">'
             '<button type="submit" id="logout">退出登录</button></form>'])
        return _respond(start_response, 200, body)

    def _callback(self, start_response: StartResponse, query: dict[str, str]) -> Iterable[bytes]:
        session_id = self.callback(query)
        return _redirect(start_response, "/", headers=[
            ("Set-Cookie", f"{self.cookie}={session_id}; Path=/; HttpOnly; SameSite=Lax")])

    def _logout(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        _, session = self.session_of(environ)
        form = _form(environ)
        clear = [("Set-Cookie", f"{self.cookie}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax")]
        if session is None or not secrets.compare_digest(session.csrf, form.get("csrf", "")):
            return _redirect(start_response, "/", headers=clear)
        with self._lock:
            session.ended = session.ended or "logout"
        doc = self.discovery()
        params = {"id_token_hint": session.id_token, "post_logout_redirect_uri": self.post_logout_uri,
                  "client_id": self.client_id, "state": secrets.token_urlsafe(8)}
        return _redirect(start_response, f"{doc['end_session_endpoint']}?{urlencode(params)}", headers=clear)

    def _page(self, content: str, actions: list[str]) -> bytes:
        peers = "".join(f'<li><a href="{html.escape(p.url)}">{html.escape(p.name)}</a></li>' for p in self.peers)
        organisation = f"<p class='org'>{html.escape(self.organisation)}</p>" if self.organisation else ""
        return (
            '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(self.name)}（演示接入应用）</title><style>{_CSS}</style></head><body><main>"
            f'<h1 id="app-name">{html.escape(self.name)}</h1>{organisation}'
            f'<section>{content}<div class="actions">{"".join(actions)}</div></section>'
            + (f"<section><h2>其他演示应用</h2><ul id='peers'>{peers}</ul>"
               "<p class='muted'>在一处登录后打开另一个应用并点登录：一网通办已认得您，不再输入密码。</p></section>"
               if peers else "")
            + "<p class='muted'>本页是 tongban 演示环境中的接入应用（授权码 + PKCE，验证 ID Token，"
            "RP 发起退出与后端通道退出），不是真实业务系统。</p></main></body></html>"
        ).encode()


_CSS = (
    "body{font-family:system-ui,'Noto Sans CJK SC','WenQuanYi Micro Hei',sans-serif;margin:0;background:#f4f6f9;"
    "color:#1f2933}main{max-width:40rem;margin:2rem auto;padding:0 1rem}h1{font-size:1.5rem;margin-bottom:.2rem}"
    "section{background:#fff;border-radius:8px;padding:1rem 1.25rem;margin:1rem 0;box-shadow:0 1px 3px #0002}"
    "#status{font-weight:600}.org,.muted{color:#52606d;font-size:.9rem}table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #e4e7eb;font-size:.9rem;word-break:break-all}"
    "th{width:40%;color:#52606d;font-weight:normal}.actions{margin-top:1rem}"
    ".button,button{display:inline-block;background:#1d4ed8;color:#fff;border:0;border-radius:6px;padding:.55rem 1rem;"
    "font-size:1rem;text-decoration:none;cursor:pointer}"
)


def _get_json(url: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (tongban's URLs, loopback)
    try:
        with _http.open(request, timeout=10) as response:
            data = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise RelyingPartyError(f"{url} answered {exc.code}") from exc
    if not isinstance(data, dict):
        raise RelyingPartyError(f"{url} did not answer a JSON object")
    return data


def _post_form(url: str, form: dict[str, str], headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=urlencode(form).encode(), method="POST", headers={  # noqa: S310
        "Content-Type": "application/x-www-form-urlencoded", **headers})
    try:
        with _http.open(request, timeout=10) as response:
            data = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read()).get("error", "")
        except ValueError:
            error = ""
        raise RelyingPartyError(f"the token endpoint answered {exc.code} {error}".strip()) from exc
    if not isinstance(data, dict):
        raise RelyingPartyError("the token endpoint did not answer a JSON object")
    return data


def _form(environ: dict[str, Any]) -> dict[str, str]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length <= 0 or length > MAX_BODY:
        return {}
    body = environ["wsgi.input"].read(length).decode("utf-8", "replace")
    return {k: v[-1] for k, v in parse_qs(body).items()}


def _respond(start_response: StartResponse, status: int, body: bytes, *, content_type: str = "text/html",
             headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    reason = {200: "OK", 302: "Found", 400: "Bad Request", 404: "Not Found", 502: "Bad Gateway",
              503: "Service Unavailable"}[status]
    start_response(f"{status} {reason}", [("Content-Type", f"{content_type}; charset=utf-8"),
                                          ("Content-Length", str(len(body))), *(headers or [])])
    return [body]


def _redirect(start_response: StartResponse, location: str, *, headers: list[tuple[str, str]] | None = None
              ) -> list[bytes]:
    return _respond(start_response, 302, b"", content_type="text/plain",
                    headers=[("Location", location), ("Cache-Control", "no-store"), *(headers or [])])


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return
