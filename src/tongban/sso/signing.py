"""The provider's signing keys: one current key per algorithm (ES256 by default, RS256, SM2SM3),
rotation with overlap (the old key stays in the JWKS until every token it signed has expired), and
signing of ID tokens and logout tokens. Private keys are kept SM4-GCM encrypted (SigningKey).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from django.db import IntegrityError, transaction
from django.utils import timezone
from jwcrypto import jwk

from tongban.crypto.jose import jws_sign, sm2_jwk_from_keypair
from tongban.crypto.sm2 import SM2PrivateKey
from tongban.sso.models import IdTokenAlg, SigningKey, SigningKeyState

ALGS = tuple(a.value for a in IdTokenAlg)
CACHE_SECONDS = 30.0

_lock = threading.Lock()
_private: dict[str, jwk.JWK] = {}  # kid -> private JWK (immutable once made)
_current: dict[str, tuple[float, str]] = {}  # alg -> (loaded at, kid)
_jwks: list[Any] = [0.0, None]  # [loaded at, document]


def clear_cache() -> None:
    with _lock:
        _pyca.clear()
        _private.clear()
        _current.clear()
        _jwks[0], _jwks[1] = 0.0, None


def _generate(alg: str) -> jwk.JWK:
    if alg == IdTokenAlg.ES256:
        key = jwk.JWK.from_pyca(ec.generate_private_key(ec.SECP256R1()))
    elif alg == IdTokenAlg.RS256:
        key = jwk.JWK.from_pyca(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    elif alg == IdTokenAlg.SM2SM3:
        key = sm2_jwk_from_keypair(SM2PrivateKey.generate())
    else:
        raise ValueError(f"unknown signing algorithm {alg!r}")
    key["alg"] = alg
    key["use"] = "sig"
    key["kid"] = f"{alg.lower()}-{key.thumbprint()[:16]}"
    return key


def _public(key: jwk.JWK) -> dict[str, Any]:
    public = json.loads(key.export_public())
    for member in ("alg", "use", "kid"):
        if member in key:
            public[member] = key[member]
    return public


def signing_key_create(*, alg: str, state: str = SigningKeyState.CURRENT) -> SigningKey:
    key = _generate(alg)
    return SigningKey.objects.create(kid=key["kid"], alg=alg, state=state,
                                     private_jwk=key.export_private().encode(), public_jwk=_public(key))


def _token_lifetime() -> int:
    from oauth2_provider.settings import oauth2_settings

    return int(oauth2_settings.ID_TOKEN_EXPIRE_SECONDS)


@transaction.atomic
def signing_key_rotate(*, alg: str, actor: Any = None) -> SigningKey:
    """Make a new current key for `alg`. The previous one keeps being published (and verifies the
    tokens it signed) until the longest-lived of those tokens has expired, then is retired."""
    from tongban.audit.actions import Action
    from tongban.audit.services import Actor, Subject, audit_record

    now = timezone.now()
    old = list(SigningKey.objects.select_for_update().filter(alg=alg, state=SigningKeyState.CURRENT))
    for row in old:
        row.state = SigningKeyState.RETIRING
        row.retiring_at = now
        row.publish_until = now + dt.timedelta(seconds=_token_lifetime() + 300)
        row.save(update_fields=["state", "retiring_at", "publish_until"])
    new = signing_key_create(alg=alg)
    audit_record(action=Action.KEY_ROTATE, actor=actor or Actor.system("sso.signing"),
                 subject=Subject("sso.signingkey", new.kid),
                 details={"alg": alg, "retiring": [r.kid for r in old],
                          "publish_until": old[0].publish_until.isoformat() if old and old[0].publish_until else None})
    transaction.on_commit(clear_cache)
    return new


def signing_keys_retire_expired() -> int:
    """Retire the keys whose publication overlap has run out (they leave the JWKS), each with a `key.retire`
    entry in the transaction of the change. Nothing due: one query, no transaction."""
    from tongban.audit.actions import Action
    from tongban.audit.services import Actor, Subject, audit_record

    due = SigningKey.objects.filter(state=SigningKeyState.RETIRING, publish_until__lte=timezone.now())
    if not due.exists():
        return 0
    retired = 0
    with transaction.atomic():
        for row in due.select_for_update().order_by("pk"):
            row.state = SigningKeyState.RETIRED
            row.save(update_fields=["state"])
            audit_record(action=Action.KEY_RETIRE, actor=Actor.system("sso.signing"),
                         subject=Subject("sso.signingkey", row.kid),
                         details={"alg": row.alg, "publish_until": row.publish_until.isoformat()
                                  if row.publish_until else None})
            retired += 1
    return retired


def _load_private(row: SigningKey) -> jwk.JWK:
    key = jwk.JWK.from_json(bytes(row.private_jwk).decode())
    with _lock:
        _private[row.kid] = key
    return key


def current_key(alg: str) -> jwk.JWK:
    """The current private key for `alg` (made on first use)."""
    now = time.monotonic()
    cached = _current.get(alg)
    if cached is not None and now - cached[0] < CACHE_SECONDS and cached[1] in _private:
        return _private[cached[1]]
    row = SigningKey.objects.filter(alg=alg, state=SigningKeyState.CURRENT).first()
    if row is None:
        try:
            with transaction.atomic():
                row = signing_key_create(alg=alg)
        except IntegrityError:
            row = SigningKey.objects.get(alg=alg, state=SigningKeyState.CURRENT)
        with _lock:
            _jwks[0] = 0.0
    key = _private.get(row.kid) or _load_private(row)
    with _lock:
        _current[alg] = (now, row.kid)
    return key


def jwks() -> dict[str, Any]:
    """The published key set: every current key and every retiring key still within its overlap."""
    now = time.monotonic()
    if _jwks[1] is not None and now - _jwks[0] < CACHE_SECONDS:
        return _jwks[1]  # type: ignore[no-any-return]
    for alg in ALGS:
        current_key(alg)
    signing_keys_retire_expired()
    rows = SigningKey.objects.filter(state__in=[SigningKeyState.CURRENT, SigningKeyState.RETIRING]).order_by(
        "alg", "-created_at")
    document = {"keys": [row.public_jwk for row in rows]}
    with _lock:
        _jwks[0], _jwks[1] = now, document
    return document


_pyca: dict[str, Any] = {}  # kid -> the cryptography private key (ES256, RS256)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign_direct(key: jwk.JWK, alg: str, header: dict[str, Any], payload: bytes) -> str:
    """ES256 / RS256 straight through `cryptography` (RFC 7515/7518): the same bytes jwcrypto makes,
    without its per-call copies of the key (a third of the token endpoint's time)."""
    private = _pyca.get(key["kid"])
    if private is None:
        private = key.get_op_key("sign")
        _pyca[key["kid"]] = private
    signing_input = f"{_b64(json.dumps(header, separators=(',', ':')).encode())}.{_b64(payload)}".encode()
    if alg == IdTokenAlg.ES256:
        r, s_ = decode_dss_signature(private.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s_.to_bytes(32, "big")
    else:
        signature = private.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input.decode()}.{_b64(signature)}"


def sign(claims: dict[str, Any], *, alg: str, typ: str = "JWT") -> str:
    key = current_key(alg)
    payload = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode()
    if alg in (IdTokenAlg.ES256, IdTokenAlg.RS256):
        return _sign_direct(key, alg, {"alg": alg, "kid": key["kid"], "typ": typ}, payload)
    return jws_sign(payload, key, alg, headers={"typ": typ, "kid": key["kid"]})
