"""Signed requests and signed answers on the partner API (docs/partner-api.md has the worked example).

A request carries four headers:

    X-Tongban-App        the app's public id (pa_…)
    X-Tongban-Timestamp  unix time in whole seconds (decimal ASCII), within ±300 s of ours
    X-Tongban-Nonce      16-64 characters of [A-Za-z0-9_-], never used before by this app
    X-Tongban-Signature  base64 of the SM2 signature (raw r||s, 64 bytes; DER also accepted) made with
                         the app's private key, SM3 digest, distinguishing ID "1234567812345678",
                         over the canonical request (UTF-8, lines joined by a single "\\n", no final newline):

    TONGBAN-SM2-SM3
    <METHOD, upper case>
    <path exactly as sent, without the query>[?<canonical query>]
    <timestamp, as in the header>
    <nonce, as in the header>
    <lowercase hex of SM3(request body bytes); SM3 of the empty string for no body>

The canonical query, only when the URL has one: each name and value percent-decoded, then encoded
again with RFC 3986 unreserved characters left as they are, pairs sorted by name then value, joined
as name=value with "&".

Every answer (errors included) is signed by the platform's api_signing key over

    TONGBAN-SM2-SM3-RESPONSE
    <the request's nonce, or empty if it had none>
    <HTTP status, decimal>
    <lowercase hex of SM3(response body bytes)>

and carries X-Tongban-Response-Signature (base64 raw r||s) and X-Tongban-Key-Id (the key's id at
/partner/v1/keys).
"""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import parse_qsl, quote

from tongban.crypto import keys
from tongban.crypto.models import KeyPurpose, KeyState
from tongban.crypto.sm2 import SM2PublicKey
from tongban.crypto.sm3 import sm3

SCHEME = "TONGBAN-SM2-SM3"
RESPONSE_SCHEME = "TONGBAN-SM2-SM3-RESPONSE"
UID = b"1234567812345678"

HEADER_APP = "X-Tongban-App"
HEADER_TIMESTAMP = "X-Tongban-Timestamp"
HEADER_NONCE = "X-Tongban-Nonce"
HEADER_SIGNATURE = "X-Tongban-Signature"
HEADER_RESPONSE_SIGNATURE = "X-Tongban-Response-Signature"
HEADER_KEY_ID = "X-Tongban-Key-Id"

NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
KEY_ID_PREFIX = "api-v"


def canonical_query(query: str) -> str:
    if not query:
        return ""
    pairs = parse_qsl(query, keep_blank_values=True)
    encoded = sorted((quote(k, safe="-_.~"), quote(v, safe="-_.~")) for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in encoded)


def canonical_request(*, method: str, path: str, query: str = "", timestamp: str, nonce: str, body: bytes) -> bytes:
    target = path + ("?" + canonical_query(query) if query else "")
    return "\n".join([SCHEME, method.upper(), target, timestamp, nonce, sm3(body).hex()]).encode("utf-8")


def canonical_response(*, nonce: str, status: int, body: bytes) -> bytes:
    return "\n".join([RESPONSE_SCHEME, nonce, str(int(status)), sm3(body).hex()]).encode("utf-8")


def decode_signature(value: str) -> tuple[bytes, str] | None:
    """(signature bytes, "raw" or "der"), or None if it is not base64."""
    try:
        data = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return data, ("raw" if len(data) == 64 else "der")


def verify_request(public_key: SM2PublicKey, canonical: bytes, signature_header: str) -> bool:
    decoded = decode_signature(signature_header)
    if decoded is None:
        return False
    signature, fmt = decoded
    return public_key.verify(signature, canonical, uid=UID, fmt=fmt)  # type: ignore[arg-type]


def key_id(version: int) -> str:
    return f"{KEY_ID_PREFIX}{version}"


def version_of(key_id_value: str) -> int | None:
    if not key_id_value.startswith(KEY_ID_PREFIX) or not key_id_value[len(KEY_ID_PREFIX):].isdigit():
        return None
    return int(key_id_value[len(KEY_ID_PREFIX):])


def sign_response(*, nonce: str, status: int, body: bytes) -> tuple[str, str]:
    """(base64 raw signature, key id) of an answer, with the current api_signing key."""
    version, private = keys.current_signing_key(KeyPurpose.API_SIGNING)
    signature = private.sign(canonical_response(nonce=nonce, status=status, body=body), uid=UID, fmt="raw")
    return base64.b64encode(signature).decode("ascii"), key_id(version)


def published_keys() -> list[dict[str, object]]:
    """Every api_signing public key, current first: a retired key signs nothing new, but an answer it
    signed stays verifiable (a partner may need to prove, later, what it was told)."""
    ring = keys.keyring()
    current = keys.current_version(KeyPurpose.API_SIGNING)
    result: list[dict[str, object]] = []
    versions = ring.versions(KeyPurpose.API_SIGNING, states=[s.value for s in KeyState])
    for version in sorted(versions, key=lambda v: (v != current, -v)):
        public = ring.public_key(KeyPurpose.API_SIGNING, version)
        result.append({
            "key_id": key_id(version),
            "status": "current" if version == current else ring.state(KeyPurpose.API_SIGNING, version),
            "algorithm": "SM2-SM3",
            "uid": UID.decode(),
            "public_key": base64.b64encode(public.to_raw()).decode("ascii"),
            "public_key_pem": public.to_pem().decode("ascii"),
        })
    return result
