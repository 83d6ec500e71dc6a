"""The wire format of a batch (docs/exchange.md, "Wire format"): JSON, SM2-signed over the exact body bytes,
personal fields SM4-GCM encrypted per message under an envelope key that travels SM2-encrypted (C1C3C2)."""

from __future__ import annotations

import base64
import json
from typing import Any

from tongban.crypto.sm2 import SM2PrivateKey, SM2PublicKey
from tongban.crypto.sm3 import sm3
from tongban.crypto.sm4 import SM4GCM

WIRE_VERSION = 1
SIGNATURE_HEADER = "X-Exchange-Signature"
SIGNER_HEADER = "X-Exchange-Signer"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def seal_personal(cipher: SM4GCM, key: str, personal: dict[str, Any] | None) -> str | None:
    """The personal fields of one message, bound to its idempotency key (moved to another message, they do
    not decrypt)."""
    if not personal:
        return None
    return b64(cipher.encrypt(dumps(personal), aad=key.encode()))


def open_personal(cipher: SM4GCM, key: str, blob: str | None) -> dict[str, Any] | None:
    if not blob:
        return None
    value = json.loads(cipher.decrypt(unb64(blob), aad=key.encode()))
    return value if isinstance(value, dict) else None


def keys_digest(keys: list[str]) -> str:
    return sm3("\n".join(keys).encode()).hex()


def sign(private: SM2PrivateKey, body: bytes) -> str:
    return b64(private.sign(body))


def verify(public: SM2PublicKey, body: bytes, signature: str) -> bool:
    try:
        raw = unb64(signature)
    except (ValueError, TypeError):
        return False
    return public.verify(raw, body)


def receipt_input(batch_id: str, body_sm3: str) -> bytes:
    return f"{batch_id}|{body_sm3}".encode()
