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


def seal_personal(cipher: SM4GCM, batch_id: str, personal: dict[str, dict[str, Any]]) -> str | None:
    """The personal fields of a whole batch — {idempotency key: fields} — in one SM4-GCM operation bound to
    the batch id (moved to another batch, they do not decrypt). One seal a batch, not one a message: the
    backfill's largest cost before (docs/performance.md)."""
    if not personal:
        return None
    return b64(cipher.encrypt(dumps(personal), aad=batch_id.encode()))


def open_personal(cipher: SM4GCM, batch_id: str, blob: str | None) -> dict[str, dict[str, Any]]:
    if not blob:
        return {}
    value = json.loads(cipher.decrypt(unb64(blob), aad=batch_id.encode()))
    return value if isinstance(value, dict) else {}


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
