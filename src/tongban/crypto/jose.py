"""JWS with SM2: the "SM2SM3" algorithm registered in jwcrypto, and a pinned sign/verify API.

"SM2SM3" is not an IANA-registered JWS algorithm. Use it only with parties that agreed to it;
ordinary OIDC clients keep ES256 / RS256. Definition used here (and in docs/crypto.md):

* Key: a JWK {"kty": "EC", "crv": "SM2", "x": b64url(X), "y": b64url(Y)} (+ "d" for the private
  half), each coordinate 32 bytes big-endian, on sm2p256v1. The key carries "alg": "SM2SM3".
* Signature: SM2 with SM3 over the JWS signing input ASCII(b64url(header) "." b64url(payload)),
  user ID "1234567812345678", encoded as r || s (64 bytes) then base64url — the same shape as ES256.

Importing this module registers the algorithm with jwcrypto (idempotent). jwcrypto's default
allowed-algorithm list is left alone, so SM2SM3 is never accepted unless a caller lists it.
`jws_verify` always takes the accepted algorithms explicitly and never accepts "none".
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from typing import Any

from jwcrypto import jwa, jwk, jws
from jwcrypto.common import JWException, base64url_decode, base64url_encode

from tongban.crypto.errors import CryptoError, KeyFormatError
from tongban.crypto.sm2 import SM2PrivateKey, SM2PublicKey

ALG = "SM2SM3"
CRV = "SM2"
_FORBIDDEN_ALGS = frozenset({"none"})


class JWSError(CryptoError):
    """A token was malformed, used an algorithm not accepted, or did not verify. The message is
    for logs; callers answer every case the same way (an invalid token)."""


# --- the jwcrypto algorithm -------------------------------------------------------------------------


def _coordinate(jwk_obj: Mapping[str, Any], name: str) -> bytes:
    value = jwk_obj.get(name)
    if not isinstance(value, str):
        raise KeyFormatError(f"SM2 JWK lacks {name!r}")
    raw = base64url_decode(value)
    if len(raw) != 32:
        raise KeyFormatError(f"SM2 JWK {name!r} must be 32 bytes")
    return raw


def _check_sm2_jwk(key: Mapping[str, Any], usage_op: str) -> None:
    if key.get("kty") != "EC" or key.get("crv") != CRV:
        raise KeyFormatError("SM2SM3 needs a JWK with kty EC and crv SM2")
    if key.get("alg") not in (None, ALG):
        raise KeyFormatError(f"this key is for {key.get('alg')!r}, not {ALG}")
    if key.get("use") not in (None, "sig"):
        raise KeyFormatError("this key is not for signatures")
    ops = key.get("key_ops")
    if ops is not None and usage_op not in (ops if isinstance(ops, list) else [ops]):
        raise KeyFormatError(f"this key does not allow {usage_op!r}")


@functools.lru_cache(maxsize=256)
def _public_key(x: bytes, y: bytes) -> SM2PublicKey:
    # Parsing validates the point (a scalar multiplication); verification of many tokens under
    # one key should not pay it every time.
    return SM2PublicKey.from_raw(b"\x04" + x + y)


@functools.lru_cache(maxsize=16)
def _private_key(d: bytes, x: bytes, y: bytes) -> SM2PrivateKey:
    key = SM2PrivateKey.from_raw(d)
    if key.public_key().to_raw() != b"\x04" + x + y:
        raise KeyFormatError("SM2 JWK: d does not match x, y")
    return key


class _SM2SM3(jwa.JWAAlgorithm):
    name = ALG
    description = "SM2 signature with SM3 (GB/T 32918.2, ID 1234567812345678), r||s"
    keysize = 256
    algorithm_usage_location = "alg"
    algorithm_use = "sig"

    def sign(self, key: jwk.JWK, payload: bytes) -> bytes:
        _check_sm2_jwk(key, "sign")
        d = key.get("d")
        if not isinstance(d, str):
            raise KeyFormatError("signing needs the private JWK (with 'd')")
        private = _private_key(base64url_decode(d), _coordinate(key, "x"), _coordinate(key, "y"))
        return private.sign(payload, fmt="raw")

    def verify(self, key: jwk.JWK, payload: bytes, signature: bytes) -> None:
        _check_sm2_jwk(key, "verify")
        public = _public_key(_coordinate(key, "x"), _coordinate(key, "y"))
        if not public.verify(signature, payload, fmt="raw"):
            raise JWSError("SM2SM3 signature does not verify")


def register() -> None:
    """Make jwcrypto know "SM2SM3" (and the curve name "SM2"). Safe to call more than once."""
    jwa.JWA.algorithms_registry[ALG] = _SM2SM3
    jwk.JWKEllipticCurveRegistry.setdefault(CRV, "SM2 curve sm2p256v1 (GB/T 32918.5; not IANA-registered)")


register()


# --- keys -----------------------------------------------------------------------------------------------


def sm2_jwk_from_keypair(
    private_key: SM2PrivateKey | None = None,
    public_key: SM2PublicKey | None = None,
    *,
    kid: str | None = None,
) -> jwk.JWK:
    """A JWK for an SM2 key: the private JWK if `private_key` is given, otherwise the public one.

    `kid` defaults to the RFC 7638 thumbprint. Publish only `jwk.export_public()`.
    """
    if private_key is None and public_key is None:
        raise ValueError("give a private or a public key")
    if private_key is not None:
        derived = private_key.public_key()
        if public_key is not None and public_key != derived:
            raise KeyFormatError("the public key is not the private key's")
        public_key = derived
    if public_key is None:  # unreachable; narrows the type
        raise ValueError("give a private or a public key")
    raw = public_key.to_raw()
    params: dict[str, str] = {
        "kty": "EC",
        "crv": CRV,
        "x": base64url_encode(raw[1:33]),
        "y": base64url_encode(raw[33:]),
        "alg": ALG,
        "use": "sig",
    }
    if private_key is not None:
        params["d"] = base64url_encode(private_key.to_raw())
    key = jwk.JWK(**params)
    key["kid"] = kid or key.thumbprint()
    return key


# --- pinned sign / verify ------------------------------------------------------------------------------


def _pinned(allowed_algs: Iterable[str]) -> list[str]:
    if isinstance(allowed_algs, str):
        raise TypeError("allowed_algs is a list of algorithm names, not one string")
    algs = list(allowed_algs)
    if not algs:
        raise ValueError("name the accepted algorithms explicitly; an empty list is not 'any'")
    if _FORBIDDEN_ALGS.intersection(algs):
        raise ValueError("the 'none' algorithm is never accepted")
    for alg in algs:
        if alg not in jwa.JWA.algorithms_registry or jwa.JWA.algorithms_registry[alg].algorithm_use != "sig":
            raise ValueError(f"{alg!r} is not a known JWS signature algorithm")
    return algs


def jws_sign(
    payload: bytes,
    key: jwk.JWK,
    alg: str,
    *,
    headers: Mapping[str, Any] | None = None,
) -> str:
    """Sign `payload` as a compact JWS with `alg` (e.g. "SM2SM3", "ES256"). The key's "kid", if
    any, goes into the protected header, with any extra `headers`."""
    algs = _pinned([alg])
    protected: dict[str, Any] = dict(headers or {})
    protected["alg"] = alg
    if "kid" in key and "kid" not in protected:
        protected["kid"] = key["kid"]
    token = jws.JWS(payload)
    token.allowed_algs = algs
    try:
        token.add_signature(key, alg=alg, protected=json.dumps(protected, separators=(",", ":")))
        return str(token.serialize(compact=True))
    except (JWException, ValueError, KeyFormatError) as exc:
        raise JWSError(f"cannot sign with {alg}: {exc}") from exc


def jws_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWS, unverified (for choosing a key by "kid")."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise JWSError("not a compact JWS")
    try:
        header = json.loads(base64url_decode(token.split(".", 1)[0]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise JWSError("unreadable JWS header") from exc
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        raise JWSError("JWS header has no algorithm")
    return header


def jws_verify(token: str, key: jwk.JWK | jwk.JWKSet, allowed_algs: Iterable[str]) -> bytes:
    """Verify a compact JWS and return its payload.

    `allowed_algs` is required and pinned: a token whose header names any other algorithm is
    rejected before any key is used ("none" can never be allowed). JSON serialisations are not
    accepted. Raises JWSError on every failure.
    """
    algs = _pinned(allowed_algs)
    header = jws_header(token)
    alg = header["alg"]
    if alg not in algs:
        raise JWSError(f"algorithm {alg!r} is not accepted here")
    # A key bound to one algorithm (its "alg" member, RFC 7517 §4.4) is never used for another.
    candidates = [k for k in (key if isinstance(key, jwk.JWKSet) else [key]) if k.get("alg") in (None, alg)]
    if not candidates:
        raise JWSError(f"no key for algorithm {alg!r}")
    verify_key: jwk.JWK | jwk.JWKSet
    if isinstance(key, jwk.JWKSet):
        verify_key = jwk.JWKSet()
        for k in candidates:
            verify_key.add(k)
    else:
        verify_key = candidates[0]
    obj = jws.JWS()
    obj.allowed_algs = algs
    try:
        obj.deserialize(token, key=verify_key, alg=alg)
    except JWException as exc:
        raise JWSError(f"JWS does not verify: {exc}") from exc
    return bytes(obj.payload)
