"""The canonical byte form of audit entries, chains and checkpoints, and the masking of details.

Canonical JSON: UTF-8, keys sorted, no whitespace (separators "," and ":"), non-ASCII kept as is,
no floats (details are normalised before storing: floats and decimals become strings), timestamps
as UTC ISO 8601 with microseconds and a "Z" (2025-01-31T08:00:00.000000Z), hashes as lowercase hex.
docs/audit.md gives the exact member list of each object; `FORMAT_VERSION` is inside each.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from collections.abc import Mapping
from typing import Any

from tongban.core.masking import mask_name, scrub
from tongban.crypto.sm3 import sm3

FORMAT_VERSION = 1
ZERO_HASH = "0" * 64
MAX_DETAILS_BYTES = 16 * 1024
_MAX_DEPTH = 8

# Keys whose values are never kept, and keys whose values are personal names.
_SECRET_KEYS = ("password", "passwd", "secret", "token", "otp", "totp", "private_key", "credential")
_NAME_KEYS = frozenset({"name", "full_name", "xm", "real_name", "holder_name", "owner_name"})


def iso_utc(value: dt.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dumps(obj: Any) -> bytes:
    """The canonical JSON bytes of `obj` (which must already be normalised: no floats)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


_secret_key_cache: dict[str, bool] = {}


def _is_secret_key(lowered: str) -> bool:
    """Does this (lower-cased) key name a secret? Memoised: details use a small, fixed set of keys."""
    secret = _secret_key_cache.get(lowered)
    if secret is None:
        secret = any(part in lowered for part in _SECRET_KEYS)
        if len(_secret_key_cache) < 4096:
            _secret_key_cache[lowered] = secret
    return secret


def _clean_text(value: str) -> str:
    # PostgreSQL jsonb refuses NUL characters; scrub masks ID, permit and phone numbers.
    return scrub(value.replace("\x00", ""))


def _normalise(value: Any, key: str, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise ValueError("audit details nest too deeply")
    lowered = key.lower()
    if lowered and _is_secret_key(lowered):
        return "[redacted]"
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return mask_name(value) if lowered in _NAME_KEYS else _clean_text(value)
    if isinstance(value, float | decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return value.hex
    if isinstance(value, Mapping):
        return {_clean_text(str(k)): _normalise(v, str(k), depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v, key, depth + 1) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_normalise(v, key, depth + 1) for v in value), key=lambda v: dumps(v))
    if isinstance(value, bytes):
        return "[bytes]"
    return _clean_text(str(value))


def normalise_details(details: Mapping[str, Any] | None) -> dict[str, Any]:
    """Masked, JSON-safe, float-free details; raises ValueError if they are too large."""
    if not details:
        return {}
    result = _normalise(details, "", 0)
    if len(dumps(result)) > MAX_DETAILS_BYTES:
        raise ValueError(f"audit details exceed {MAX_DETAILS_BYTES} bytes: log ids, not documents")
    return result  # type: ignore[no-any-return]


def entry_document(
    *, chain_id: str, seq: int, occurred_at: dt.datetime, actor_type: str, actor_id: str, action: str,
    subject_type: str, subject_id: str, outcome: str, client_ip: str, request_id: str, details: Any,
) -> dict[str, Any]:
    return {
        "v": FORMAT_VERSION,
        "chain": chain_id,
        "seq": seq,
        "occurred_at": iso_utc(occurred_at),
        "actor_type": actor_type,
        "actor_id": actor_id,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
        "outcome": outcome,
        "client_ip": client_ip,
        "request_id": request_id,
        "details": details,
    }


def chain_hash(prev_hash: str, document: Mapping[str, Any]) -> str:
    """SM3(prev_hash ‖ canonical(document)), prev_hash taken as its 32 raw bytes; lowercase hex."""
    return sm3(bytes.fromhex(prev_hash) + dumps(document)).hex()


def entry_hash_of_row(row: Mapping[str, Any]) -> str:
    """Recompute an entry's hash from a row (a dict with the model's field names)."""
    doc = entry_document(
        chain_id=row["chain_id"], seq=row["seq"], occurred_at=row["occurred_at"], actor_type=row["actor_type"],
        actor_id=row["actor_id"], action=row["action"], subject_type=row["subject_type"],
        subject_id=row["subject_id"], outcome=row["outcome"], client_ip=row["client_ip"],
        request_id=row["request_id"], details=row["details"],
    )
    return chain_hash(row["prev_hash"], doc)


def chain_document(*, chain_id: str, opened_at: dt.datetime, label: str, anchor_seq: int, anchor_hash: str,
                   key_id: str) -> dict[str, Any]:
    return {
        "v": FORMAT_VERSION,
        "type": "chain",
        "chain": chain_id,
        "opened_at": iso_utc(opened_at),
        "label": label,
        "anchor_seq": anchor_seq,
        "anchor_hash": anchor_hash,
        "key_id": key_id,
    }
