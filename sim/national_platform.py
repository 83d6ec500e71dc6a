"""A simulator of the national government-service platform (国家政务服务平台), both ways round:

* **a relying party of tongban** (`/rp/...`): it runs the authorization code flow with PKCE against
  tongban's discovery document, validates the ID token against tongban's JWKS, calls userinfo, and
  receives back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0), which it verifies;
* **an identity provider for tongban** (`/idp/...`): a minimal OpenID Connect provider whose ID tokens
  carry a person's verified identity (name, ID number, its own assurance level as `acr`) and when they
  last signed in here (`auth_time`), signed ES256 with its own key — what "使用国家政务服务平台账号登录" on
  tongban's login page talks to. Someone signed in here is signed in silently; `prompt=login`, or a
  sign-in older than `max_age`, shows the login form again (OIDC Core §3.1.2.1).

It speaks plain HTTP on loopback, keeps everything in memory and uses only the standard library and
jwcrypto, as the real counterpart would use its own stack. Started by the tests (and the demo) with
`NationalPlatformSimulator.start()`; nothing in tongban knows it is a simulator.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from jwcrypto import jwk, jws

from sim.national_exchange import ExchangeSide

ACR_PREFIX = "urn:cn:gov:zwfw:acr:"
PASSWORD = "National-2026-pw"  # noqa: S105  (every simulated person's password unless given)
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
IDP_COOKIE = "np_idp_session"  # interactive mode: a browser's sign-in at the national platform


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _s256(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode()).digest())


@dataclass
class Person:
    """Someone registered and verified at the national platform."""

    sub: str
    name: str
    id_number: str
    level: int
    password: str = PASSWORD


@dataclass
class RpConfig:
    """The simulator as a client of tongban."""

    issuer: str
    client_id: str
    client_secret: str
    scope: str = "openid realname idcard_masked"
    alg: str = "ES256"


@dataclass
class State:
    people: dict[str, Person] = field(default_factory=dict)
    signed_in: str | None = None  # the person signed in at the national platform (the IdP side)
    signed_in_at: float = 0.0  # when they signed in (Unix time): the ID tokens' auth_time
    logins: dict[str, dict[str, str]] = field(default_factory=dict)  # IdP: login form id -> authorization request
    browsers: dict[str, tuple[str, float]] = field(default_factory=dict)  # IdP, interactive: cookie -> (sub, when)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # RP: state -> verifier, nonce
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)  # RP: our session id -> what tongban said
    logouts: list[dict[str, Any]] = field(default_factory=list)  # RP: verified logout tokens
    refused_logouts: int = 0


class NationalPlatformSimulator:
    def __init__(self, server: ThreadingHTTPServer, *, idp_client_id: str, idp_client_secret: str,
                 idp_redirect_uris: list[str]) -> None:
        self.server = server
        self.state = State()
        self.key = jwk.JWK.generate(kty="EC", crv="P-256", kid="national-1", alg="ES256", use="sig")
        self.idp_client_id = idp_client_id
        self.idp_client_secret = idp_client_secret
        self.idp_redirect_uris = idp_redirect_uris
        self.rp: RpConfig | None = None
        # Test knobs: a national platform that misreports when the person signed in — `auth_time` this many
        # seconds older than the truth, or left out of its ID tokens.
        self.auth_time_shift = 0
        self.auth_time_omitted = False
        # People at browsers (the demo) rather than tests: each browser has its own sign-in here (a cookie)
        # instead of the one `sign_in` sets for everybody, and nobody signed in without a prompt gets the login
        # form instead of login_required (the simulator's answer since its first version, kept for the tests).
        self.interactive = False
        # The unified data exchange (sim/national_exchange.py): batches from tongban, digests, faults.
        self.exchange = ExchangeSide()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------------

    @classmethod
    def start(cls, host: str = "127.0.0.1", port: int = 0, *, idp_client_id: str = "tongban",
              idp_client_secret: str | None = None, idp_redirect_uris: list[str] | None = None
              ) -> NationalPlatformSimulator:
        server = ThreadingHTTPServer((host, port), _Handler)
        server.daemon_threads = True
        sim = cls(server, idp_client_id=idp_client_id, idp_client_secret=idp_client_secret or secrets.token_urlsafe(24),
                  idp_redirect_uris=idp_redirect_uris or [])
        server.sim = sim  # type: ignore[attr-defined]
        sim._thread = threading.Thread(target=server.serve_forever, name="national-platform-sim", daemon=True)
        sim._thread.start()
        return sim

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    @property
    def idp_issuer(self) -> str:
        return f"{self.url}/idp"

    # -- the identity-provider side ---------------------------------------------------------------------

    def add_person(self, *, name: str, id_number: str, level: int = 2, password: str = PASSWORD,
                   sub: str | None = None) -> Person:
        """Someone registered here; `sub` fixed when the same person must be recognised across restarts (the
        demo), random otherwise."""
        person = Person(sub=sub or "np-" + secrets.token_hex(8), name=name, id_number=id_number, level=level,
                        password=password)
        with self._lock:
            self.state.people[person.sub] = person
        return person

    def sign_in(self, person: Person | None, *, at: float | None = None) -> None:
        """The person is (or nobody is) signed in at the national platform's own site — now, or at `at`."""
        with self._lock:
            self.state.signed_in = person.sub if person else None
            self.state.signed_in_at = (time.time() if at is None else at) if person else 0.0

    def id_token_for(self, person: Person, *, nonce: str | None, auth_time: float | None = None) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.idp_issuer, "aud": self.idp_client_id, "sub": person.sub, "iat": now, "exp": now + 300,
            "acr": f"{ACR_PREFIX}l{person.level}", "amr": ["pwd"], "name": person.name,
            "id_number": person.id_number, "id_type": "resident_id"}
        if not self.auth_time_omitted:
            claims["auth_time"] = int(now if auth_time is None else auth_time) - self.auth_time_shift
        if nonce:
            claims["nonce"] = nonce
        token = jws.JWS(json.dumps(claims).encode())
        token.add_signature(self.key, alg="ES256", protected=json.dumps({"alg": "ES256", "kid": self.key["kid"],
                                                                          "typ": "JWT"}))
        return str(token.serialize(compact=True))

    # -- the relying-party side ----------------------------------------------------------------------------

    def configure_rp(self, *, issuer: str, client_id: str, client_secret: str, scope: str | None = None,
                     alg: str = "ES256") -> None:
        self.rp = RpConfig(issuer=issuer.rstrip("/"), client_id=client_id, client_secret=client_secret,
                           scope=scope or RpConfig.scope, alg=alg)

    @property
    def rp_redirect_uri(self) -> str:
        return f"{self.url}/rp/callback"

    @property
    def rp_backchannel_uri(self) -> str:
        return f"{self.url}/rp/backchannel-logout"

    def _discovery(self) -> dict[str, Any]:
        assert self.rp is not None
        return _get_json(f"{self.rp.issuer}/.well-known/openid-configuration")

    def _tongban_keys(self, doc: dict[str, Any]) -> jwk.JWKSet:
        return jwk.JWKSet.from_json(json.dumps(_get_json(doc["jwks_uri"])))

    def _verify(self, token: str, doc: dict[str, Any], *, typ: str | None = None) -> dict[str, Any]:
        assert self.rp is not None
        obj = jws.JWS()
        obj.deserialize(token)
        header = obj.jose_header
        if header.get("alg") != self.rp.alg or (typ and header.get("typ") != typ):
            raise ValueError("unexpected algorithm or type")
        obj.allowed_algs = [self.rp.alg]
        obj.verify(self._tongban_keys(doc), alg=self.rp.alg)
        claims = json.loads(obj.payload)
        if claims.get("iss") != doc["issuer"] or claims.get("aud") not in (self.rp.client_id, [self.rp.client_id]):
            raise ValueError("not issued to us")
        return claims  # type: ignore[no-any-return]

    def rp_login_url(self) -> tuple[str, str]:
        """(tongban's authorization URL, state) for a new login; the caller's browser goes there."""
        assert self.rp is not None
        doc = self._discovery()
        verifier, state, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        with self._lock:
            self.state.pending[state] = {"verifier": verifier, "nonce": nonce}
        params = {"response_type": "code", "client_id": self.rp.client_id, "redirect_uri": self.rp_redirect_uri,
                  "scope": self.rp.scope, "state": state, "nonce": nonce, "code_challenge": _s256(verifier),
                  "code_challenge_method": "S256"}
        return f"{doc['authorization_endpoint']}?{urlencode(params)}", state

    def rp_callback(self, query: dict[str, str]) -> tuple[str, dict[str, Any]]:
        assert self.rp is not None
        with self._lock:
            pending = self.state.pending.pop(query.get("state", ""), None)
        if pending is None:
            raise ValueError("unknown state")
        if "error" in query:
            raise ValueError(query["error"])
        doc = self._discovery()
        body = urlencode({"grant_type": "authorization_code", "code": query["code"],
                          "redirect_uri": self.rp_redirect_uri, "code_verifier": pending["verifier"]}).encode()
        basic = base64.b64encode(f"{self.rp.client_id}:{self.rp.client_secret}".encode()).decode()
        tokens = _post_json(doc["token_endpoint"], body, {"Authorization": f"Basic {basic}"})
        claims = self._verify(tokens["id_token"], doc)
        if claims.get("nonce") != pending["nonce"] or claims.get("exp", 0) < time.time():
            raise ValueError("replayed or expired ID token")
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        request = urllib.request.Request(doc["userinfo_endpoint"], headers=bearer)  # noqa: S310 (loopback)
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
            userinfo = json.loads(response.read())
        session_id = secrets.token_urlsafe(16)
        record = {"id_token_claims": claims, "userinfo": userinfo, "tokens": tokens, "logged_out": False}
        with self._lock:
            self.state.sessions[session_id] = record
        return session_id, record

    def rp_backchannel(self, logout_token: str) -> bool:
        """Validate a logout token as the spec asks (signature, iss, aud, events, sid or sub, no nonce)."""
        try:
            doc = self._discovery()
            claims = self._verify(logout_token, doc, typ="logout+jwt")
            if BACKCHANNEL_EVENT not in (claims.get("events") or {}) or "nonce" in claims:
                raise ValueError("not a logout token")
            if not claims.get("sid") and not claims.get("sub"):
                raise ValueError("neither sid nor sub")
        except (ValueError, KeyError, TypeError, urllib.error.URLError, Exception):  # noqa: BLE001
            with self._lock:
                self.state.refused_logouts += 1
            return False
        with self._lock:
            self.state.logouts.append(claims)
            for record in self.state.sessions.values():
                c = record["id_token_claims"]
                if c.get("sid") == claims.get("sid") or (not claims.get("sid") and c.get("sub") == claims.get("sub")):
                    record["logged_out"] = True
        return True


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())  # type: ignore[no-any-return]


def _post_json(url: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(url, data=body, method="POST", headers={  # noqa: S310
        "Content-Type": "application/x-www-form-urlencoded", **headers})
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (loopback)
        return json.loads(response.read())  # type: ignore[no-any-return]


_HOME = ('<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>国家政务服务平台（模拟）</title>'
         "<h1>国家政务服务平台（模拟）</h1>"
         "<p>一网通办的对接方模拟器，两个方向：</p><ul>"
         '<li><a id="rp-login" href="/rp/login">使用一网通办账号登录国家政务服务平台</a>（本平台是一网通办的接入应用）</li>'
         "<li>在一网通办的登录页点“使用国家政务服务平台账号登录”：本平台是一网通办的身份提供方，"
         "在此用身份证号和密码登录。</li></ul></html>")


class _Handler(BaseHTTPRequestHandler):
    server_version = "NationalPlatformSim/1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return

    @property
    def sim(self) -> NationalPlatformSimulator:
        return self.server.sim  # type: ignore[attr-defined,no-any-return]

    def _send(self, status: int, body: Any, *, content_type: str = "application/json", headers: dict[str, str] | None = None
              ) -> None:
        data = body if isinstance(body, bytes) else (json.dumps(body, ensure_ascii=False).encode()
                                                     if content_type == "application/json" else str(body).encode())
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _redirect(self, location: str, headers: dict[str, str] | None = None) -> None:
        self._send(302, b"", content_type="text/plain", headers={"Location": location, **(headers or {})})

    def _query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}

    def _form(self) -> dict[str, str]:
        length = int(self.headers.get("Content-Length") or 0)
        return {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        sim = self.sim
        if path == "/idp/.well-known/openid-configuration":
            iss = sim.idp_issuer
            return self._send(200, {"issuer": iss, "authorization_endpoint": f"{iss}/authorize",
                                    "token_endpoint": f"{iss}/token", "jwks_uri": f"{iss}/jwks",
                                    "response_types_supported": ["code"], "subject_types_supported": ["pairwise"],
                                    "id_token_signing_alg_values_supported": ["ES256"],
                                    "code_challenge_methods_supported": ["S256"]})
        if path == "/":
            return self._send(200, _HOME, content_type="text/html")
        if path.startswith("/exchange/"):
            return self._exchange_get(path)
        if path == "/idp/jwks":
            return self._send(200, {"keys": [json.loads(sim.key.export_public())]})
        if path == "/idp/authorize":
            return self._idp_authorize()
        if path == "/rp/login":
            url, _ = sim.rp_login_url()
            return self._redirect(url)
        if path == "/rp/callback":
            try:
                session_id, record = sim.rp_callback(self._query())
            except (ValueError, KeyError, urllib.error.URLError) as exc:
                return self._send(400, {"error": str(exc)})
            claims = record["id_token_claims"]
            page = (f"<h1>国家政务服务平台（模拟）</h1><p id='status'>已通过一网通办登录</p>"
                    f"<p id='sub'>{html.escape(claims['sub'])}</p><p id='acr'>{html.escape(str(claims.get('acr')))}</p>"
                    f"<pre id='userinfo'>{html.escape(json.dumps(record['userinfo'], ensure_ascii=False))}</pre>")
            return self._send(200, page, content_type="text/html",
                              headers={"Set-Cookie": f"np_session={session_id}; Path=/; HttpOnly"})
        if path == "/rp/me":
            cookie = SimpleCookie(self.headers.get("Cookie", ""))
            mine = sim.state.sessions.get(cookie["np_session"].value) if "np_session" in cookie else None
            if mine is None or mine["logged_out"]:
                return self._send(401, {"signed_in": False})
            return self._send(200, {"signed_in": True, "claims": mine["id_token_claims"], "userinfo": mine["userinfo"]})
        return self._send(404, {"error": "not_found"})

    def do_POST(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        if path == "/exchange/batches":
            length = int(self.headers.get("Content-Length") or 0)
            status, answer = self.sim.exchange.handle_batch(self.headers, self.rfile.read(length))
            return self._send(status, answer)
        if path == "/exchange/_faults":  # the test and benchmark knob, for a simulator in another process
            length = int(self.headers.get("Content-Length") or 0)
            knobs = json.loads(self.rfile.read(length) or b"{}")
            if "trust" in knobs:
                for signer, key_hex in knobs["trust"].items():
                    self.sim.exchange.trust(signer, bytes.fromhex(key_hex))
            else:
                self.sim.exchange.set_faults(knobs.get("mode"), slow_seconds=float(knobs.get("slow_seconds", 0)),
                                             reject_keys=knobs.get("reject_keys"))
            return self._send(200, {"ok": True})
        if path == "/idp/token":
            return self._idp_token()
        if path == "/idp/login":
            return self._idp_login()
        if path == "/rp/backchannel-logout":
            token = self._form().get("logout_token", "")
            ok = self.sim.rp_backchannel(token)
            return self._send(200 if ok else 400, {} if ok else {"error": "invalid_request"},
                              headers={"Cache-Control": "no-store"})
        return self._send(404, {"error": "not_found"})

    def _exchange_get(self, path: str) -> None:
        ex, q = self.sim.exchange, self._query()
        if path == "/exchange/digest":
            return self._send(200, ex.digest(q.get("date", "")))
        if path == "/exchange/keys":
            return self._send(200, {"keys": ex.keys(q.get("type", ""), q.get("date", ""))})
        if path == "/exchange/log":
            return self._send(200, {"entries": list(ex.log)})
        if path == "/exchange/public-key":
            return self._send(200, {"public_key": ex.public_key_hex})
        if path == "/exchange/stats":
            return self._send(200, {"records": len(ex.records), "deliveries": ex.deliveries,
                                    "duplicates": ex.duplicates, "batches": ex.batches,
                                    "order_violations": len(ex.order_violations), "refused": ex.refused_batches})
        if path == "/exchange/records":  # the query API: one message by key, or an entity's messages
            if q.get("key"):
                rec = ex.records.get(q["key"])
                return self._send(200 if rec else 404, {"record": rec.__dict__ if rec else None})
            return self._send(200, {"records": [r.__dict__ for r in ex.entity_records(q.get("entity", ""))]})
        return self._send(404, {"error": "not_found"})

    def _idp_authorize(self) -> None:
        sim, q = self.sim, self._query()
        if q.get("client_id") != sim.idp_client_id or q.get("redirect_uri") not in sim.idp_redirect_uris:
            return self._send(400, "未登记的应用或回调地址", content_type="text/plain")
        redirect_uri = q["redirect_uri"]
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return self._redirect(f"{redirect_uri}?{urlencode({'error': 'invalid_request', 'state': q.get('state', '')})}")
        person, signed_in_at = self._signed_in()
        prompt = set(q.get("prompt", "").split())
        max_age = q.get("max_age", "")
        too_old = (person is not None and max_age.isdigit()
                   and time.time() - signed_in_at > int(max_age))
        if person is None or too_old or "login" in prompt:
            if "none" in prompt or ("login" not in prompt and not too_old and not sim.interactive):
                # Nobody signed in and no form asked for: the simulator's answer since its first version.
                return self._redirect(f"{redirect_uri}?{urlencode({'error': 'login_required', 'state': q.get('state', '')})}")
            login_id = secrets.token_urlsafe(16)
            with sim._lock:
                sim.state.logins[login_id] = q
            return self._login_form(login_id)
        return self._issue_code(q, person, signed_in_at)

    def _signed_in(self) -> tuple[Person | None, float]:
        """Who is signed in at the national platform, and since when: this browser's sign-in (interactive), or
        the one `sign_in` set."""
        sim = self.sim
        if sim.interactive:
            cookie = SimpleCookie(self.headers.get("Cookie", ""))
            sub, at = sim.state.browsers.get(cookie[IDP_COOKIE].value, ("", 0.0)) if IDP_COOKIE in cookie else ("", 0.0)
            return sim.state.people.get(sub), at
        return sim.state.people.get(sim.state.signed_in or ""), sim.state.signed_in_at

    def _issue_code(self, q: dict[str, str], person: Person, auth_time: float,
                    headers: dict[str, str] | None = None) -> None:
        sim = self.sim
        code = secrets.token_urlsafe(24)
        with sim._lock:
            sim.state.codes[code] = {"sub": person.sub, "nonce": q.get("nonce"), "challenge": q["code_challenge"],
                                     "redirect_uri": q["redirect_uri"], "at": time.time(), "auth_time": auth_time}
        return self._redirect(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q.get('state', '')})}", headers)

    def _login_form(self, login_id: str, *, error: str = "", status: int = 200) -> None:
        page = ('<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>国家政务服务平台（模拟）登录</title>'
                "<h1>国家政务服务平台（模拟）</h1><p>请登录以继续</p>"
                + (f'<p id="error" role="alert">{html.escape(error)}</p>' if error else "")
                + '<form method="post" action="/idp/login" id="np-login">'
                f'<input type="hidden" name="login_id" value="{html.escape(login_id)}">'
                '<label>身份证号 <input name="username" autocomplete="username"></label>'
                '<label>密码 <input name="password" type="password" autocomplete="current-password"></label>'
                '<button type="submit">登录</button></form></html>')
        return self._send(status, page, content_type="text/html")

    def _idp_login(self) -> None:
        """The login form posted: the person signs in here (a new session, auth_time now) and goes back."""
        sim, form = self.sim, self._form()
        login_id = form.get("login_id", "")
        q = sim.state.logins.get(login_id)
        if q is None:
            return self._send(400, "登录请求已过期", content_type="text/plain")
        person = next((p for p in sim.state.people.values() if p.id_number == form.get("username")), None)
        if person is None or not secrets.compare_digest(person.password.encode(), form.get("password", "").encode()):
            return self._login_form(login_id, error="账号或密码错误", status=401)
        with sim._lock:
            sim.state.logins.pop(login_id, None)
        now = time.time()
        if sim.interactive:
            browser = secrets.token_urlsafe(16)
            with sim._lock:
                sim.state.browsers[browser] = (person.sub, now)
            return self._issue_code(q, person, now, {"Set-Cookie": f"{IDP_COOKIE}={browser}; Path=/idp; HttpOnly"})
        sim.sign_in(person, at=now)
        return self._issue_code(q, person, now)

    def _idp_token(self) -> None:
        sim, form = self.sim, self._form()
        auth = self.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(f"{sim.idp_client_id}:{sim.idp_client_secret}".encode()).decode()
        if not secrets.compare_digest(auth, expected):
            return self._send(401, {"error": "invalid_client"})
        with sim._lock:
            grant = sim.state.codes.pop(form.get("code", ""), None)
        if (grant is None or time.time() - grant["at"] > 60 or grant["redirect_uri"] != form.get("redirect_uri")
                or _s256(form.get("code_verifier", "")) != grant["challenge"]):
            return self._send(400, {"error": "invalid_grant"})
        person = sim.state.people[grant["sub"]]
        return self._send(200, {"access_token": secrets.token_urlsafe(24), "token_type": "Bearer", "expires_in": 300,
                                "id_token": sim.id_token_for(person, nonce=grant["nonce"],
                                                             auth_time=grant["auth_time"])},
                          headers={"Cache-Control": "no-store"})


def main() -> None:  # pragma: no cover - manual use: python -m sim.national_platform
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--exchange-key", help="hex of the exchange's SM2 private key (default: a new one)")
    args = parser.parse_args()
    sim = NationalPlatformSimulator.start(args.host, args.port)
    if args.exchange_key:
        from tongban.crypto.sm2 import SM2PrivateKey

        sim.exchange.key = SM2PrivateKey.from_raw(bytes.fromhex(args.exchange_key))
    print(f"national platform simulator at {sim.url} (IdP issuer {sim.idp_issuer}); exchange public key "
          f"{sim.exchange.public_key_hex}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sim.stop()


if __name__ == "__main__":  # pragma: no cover
    main()
