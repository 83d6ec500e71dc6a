"""A small client for the partner verification API (docs/partner-api.md), on the standard library.

    from tongban.client import PartnerClient

    client = PartnerClient("https://tongban.example.gov.cn", "pa_…", open("app.key.pem").read(),
                           platform_public_key=None)  # None: fetched from /partner/v1/keys and pinned
    answer = client.verify(id_number="…", name="…", level="l2", purpose="gov_service",
                           valid_from="2020-01-01", valid_to="2040-01-01")
    answer.body["passed"], answer.body["verification_id"]

SM2 and SM3 come from tongban.crypto when it is importable (the OpenSSL binding: ~3,000 signatures/s)
and otherwise from the pure-Python `gmalg` package (pip install gmalg; ~70 signatures/s), so a
partner can use this file without the rest of tongban: copy it, `pip install gmalg`, and pass the
private key as PEM (PKCS#8 or SEC 1, unencrypted: read here with the standard library), 32 raw bytes
or 64 hex digits.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

__all__ = ["Answer", "PartnerClient", "ResponseSignatureError", "canonical_request", "canonical_response"]

UID = b"1234567812345678"
SCHEME = "TONGBAN-SM2-SM3"
RESPONSE_SCHEME = "TONGBAN-SM2-SM3-RESPONSE"


class ResponseSignatureError(Exception):
    """The platform's answer does not carry a valid signature: do not trust it."""


# -- SM2 / SM3, from tongban.crypto or gmalg ----------------------------------------------------------------

try:  # pragma: no cover - which branch runs depends on the installation
    from tongban.crypto.sm2 import SM2PrivateKey as _Priv
    from tongban.crypto.sm2 import SM2PublicKey as _Pub
    from tongban.crypto.sm3 import sm3 as _sm3

    def _load_private(key: bytes | str) -> tuple[Callable[[bytes], bytes], bytes]:
        private = _Priv.from_pem(key) if _is_pem(key) else _Priv.from_raw(_raw_key(key))
        return (lambda m: private.sign(m, uid=UID, fmt="raw")), private.public_key().to_raw()

    def _verify(public: bytes, message: bytes, signature: bytes) -> bool:
        return _Pub.from_raw(public).verify(signature, message, uid=UID, fmt="raw")

    BACKEND = "tongban.crypto"
except ImportError:  # pragma: no cover
    import gmalg

    def _sm3(data: bytes) -> bytes:
        h = gmalg.SM3()
        h.update(data)
        return h.value()

    def _load_private(key: bytes | str) -> tuple[Callable[[bytes], bytes], bytes]:
        secret = _pem_private_scalar(key) if _is_pem(key) else _raw_key(key)
        public = gmalg.SM2().generate_pk(secret)
        signer = gmalg.SM2(sk=secret, uid=UID, pk=public)

        def sign(message: bytes) -> bytes:
            r, s = signer.sign(message)
            return r.rjust(32, b"\0") + s.rjust(32, b"\0")

        return sign, public

    def _verify(public: bytes, message: bytes, signature: bytes) -> bool:
        return bool(gmalg.SM2(uid=UID, pk=public).verify(message, signature[:32], signature[32:]))

    BACKEND = "gmalg"


def _is_pem(key: bytes | str) -> bool:
    return (key.encode() if isinstance(key, str) else key).lstrip().startswith(b"-----BEGIN")


def _der_items(data: bytes) -> list[tuple[int, bytes]]:
    """The (tag, content) elements of a DER sequence's content (short and long lengths)."""
    items, i = [], 0
    while i < len(data):
        tag, length = data[i], data[i + 1]
        i += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[i:i + count], "big")
            i += count
        items.append((tag, data[i:i + length]))
        i += length
    return items


def _pem_private_scalar(pem: bytes | str) -> bytes:
    """The 32-byte SM2 private scalar of a PEM key, with the standard library alone: PKCS#8 (`BEGIN PRIVATE
    KEY`, what `tongban partners create-app` and `openssl genpkey -algorithm SM2` write) or SEC 1 (`BEGIN EC
    PRIVATE KEY`). Encrypted keys are not read: decrypt them first."""
    text = pem.decode("ascii") if isinstance(pem, bytes) else pem
    lines = [line.strip() for line in text.strip().splitlines()]
    if "ENCRYPTED" in lines[0]:
        raise ValueError("an encrypted private key: decrypt it first (openssl pkey -in key.pem -out plain.pem)")
    der = base64.b64decode("".join(line for line in lines if line and not line.startswith("-----")))
    try:
        (tag, body), = _der_items(der)
        fields = _der_items(body)
        if "EC PRIVATE KEY" not in lines[0]:  # PKCS#8: version, algorithm, OCTET STRING { ECPrivateKey }
            (tag, body), = _der_items(fields[2][1])
            fields = _der_items(body)
        scalar = fields[1][1]  # ECPrivateKey: version 1, OCTET STRING privateKey, ...
    except (IndexError, ValueError) as exc:
        raise ValueError("not an SM2 private key in PKCS#8 or SEC 1 PEM") from exc
    if len(scalar) > 32 or not scalar.strip(b"\0"):
        raise ValueError("not an SM2 private key in PKCS#8 or SEC 1 PEM")
    return scalar.rjust(32, b"\0")


def _raw_key(key: bytes | str) -> bytes:
    if isinstance(key, str):
        return bytes.fromhex(key.strip())
    return key if len(key) == 32 else bytes.fromhex(key.decode().strip())


# -- the canonical forms (docs/partner-api.md §2) -----------------------------------------------------------


def _canonical_query(query: str) -> str:
    pairs = parse_qsl(query, keep_blank_values=True)
    return "&".join(f"{k}={v}" for k, v in sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs))


def canonical_request(method: str, path_and_query: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """TONGBAN-SM2-SM3 \\n METHOD \\n path[?sorted query] \\n timestamp \\n nonce \\n hex(SM3(body))."""
    parts = urlsplit(path_and_query)
    target = parts.path + ("?" + _canonical_query(parts.query) if parts.query else "")
    return "\n".join([SCHEME, method.upper(), target, timestamp, nonce, _sm3(body).hex()]).encode("utf-8")


def canonical_response(nonce: str, status: int, body: bytes) -> bytes:
    return "\n".join([RESPONSE_SCHEME, nonce, str(int(status)), _sm3(body).hex()]).encode("utf-8")


# -- the client ---------------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    body: Any  # the decoded JSON
    raw: bytes  # the bytes the signature covers: keep them (and the signature) as evidence
    signature: str
    key_id: str
    nonce: str
    headers: Mapping[str, str]

    @property
    def ok(self) -> bool:
        return self.status == 200


class PartnerClient:
    """Signs each request as documented and checks the platform's signature on each answer.

    `platform_public_key`: the platform's api_signing public key(s) — 65 raw bytes, or a mapping of
    key id to 65 raw bytes. With None the keys are fetched once from /partner/v1/keys over the same
    connection and pinned (fetch them out of band in production). `transport` is for tests: a callable
    (method, url, body, headers) -> (status, headers, body).
    """

    def __init__(self, base_url: str, app_id: str, private_key_pem_or_raw: bytes | str,
                 platform_public_key: bytes | Mapping[str, bytes] | None = None, *, timeout: float = 10.0,
                 transport: Callable[[str, str, bytes | None, dict[str, str]], tuple[int, Mapping[str, str], bytes]]
                 | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self._sign, self.public_key = _load_private(private_key_pem_or_raw)
        self._platform_keys: dict[str, bytes] | bytes | None = (
            dict(platform_public_key) if isinstance(platform_public_key, Mapping) else platform_public_key)
        self.timeout = timeout
        self._transport = transport or self._urllib

    # transport

    def _urllib(self, method: str, url: str, body: bytes | None,
                headers: dict[str, str]) -> tuple[int, Mapping[str, str], bytes]:
        request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                return response.status, dict(response.headers.items()), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers.items()), exc.read()

    # signing

    def signed_headers(self, method: str, path_and_query: str, body: bytes, *, timestamp: int | None = None,
                       nonce: str | None = None) -> dict[str, str]:
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_urlsafe(24)
        signature = self._sign(canonical_request(method, path_and_query, ts, nonce, body))
        return {"X-Tongban-App": self.app_id, "X-Tongban-Timestamp": ts, "X-Tongban-Nonce": nonce,
                "X-Tongban-Signature": base64.b64encode(signature).decode("ascii")}

    def _platform_key(self, key_id: str) -> bytes:
        if isinstance(self._platform_keys, bytes):
            return self._platform_keys
        if self._platform_keys is None or key_id not in self._platform_keys:
            status, _, raw = self._transport("GET", self.base_url + "/partner/v1/keys", None, {})
            if status != 200:
                raise ResponseSignatureError(f"cannot fetch the platform keys (HTTP {status})")
            fetched = {k["key_id"]: base64.b64decode(k["public_key"]) for k in json.loads(raw)["keys"]}
            self._platform_keys = {**(self._platform_keys or {}), **fetched}
        try:
            return self._platform_keys[key_id]
        except KeyError:
            raise ResponseSignatureError(f"unknown platform key {key_id!r}") from None

    def request(self, method: str, path: str, payload: Any = None, *,
                idempotency_key: str | None = None) -> Answer:
        body = b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = self.signed_headers(method, path, body)
        nonce = headers["X-Tongban-Nonce"]
        headers["Content-Type"] = "application/json; charset=utf-8"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        status, response_headers, raw = self._transport(method, self.base_url + path, body or None, headers)
        lower = {k.lower(): v for k, v in response_headers.items()}
        signature, key_id = lower.get("x-tongban-response-signature", ""), lower.get("x-tongban-key-id", "")
        try:
            valid = bool(signature) and _verify(self._platform_key(key_id), canonical_response(nonce, status, raw),
                                               base64.b64decode(signature))
        except (ValueError, TypeError):
            valid = False
        if not valid:
            raise ResponseSignatureError(f"the answer (HTTP {status}) is not signed by the platform")
        return Answer(status=status, body=json.loads(raw) if raw else None, raw=raw, signature=signature,
                      key_id=key_id, nonce=nonce, headers=response_headers)

    # the API

    def verify(self, *, id_number: str, name: str, level: str = "l1", purpose: str,
               id_type: str = "resident_id", valid_from: str | None = None, valid_to: str | None = None,
               idempotency_key: str | None = None) -> Answer:
        """One person. `valid_to` is a date (YYYY-MM-DD) or "长期"; both dates are needed for l2."""
        payload = _person(id_type=id_type, id_number=id_number, name=name, valid_from=valid_from, valid_to=valid_to)
        payload.update(level=level, purpose=purpose)
        return self.request("POST", "/partner/v1/verifications", payload, idempotency_key=idempotency_key)

    def verify_batch(self, people: Iterable[Mapping[str, Any]], *, level: str = "l1", purpose: str,
                     idempotency_key: str | None = None) -> Answer:
        """Up to 100 people (dicts with id_number, name, and optionally id_type, valid_from, valid_to)."""
        items = [_person(**{k: v for k, v in p.items()}) for p in people]
        return self.request("POST", "/partner/v1/verifications/batch",
                            {"level": level, "purpose": purpose, "items": items}, idempotency_key=idempotency_key)


def _person(*, id_number: str, name: str, id_type: str = "resident_id", valid_from: str | None = None,
            valid_to: str | None = None) -> dict[str, Any]:
    person: dict[str, Any] = {"id_type": id_type, "id_number": id_number, "name": name}
    if valid_from is not None:
        person["valid_from"] = str(valid_from)
    if valid_to is not None:
        person["valid_to"] = str(valid_to)
    return person
