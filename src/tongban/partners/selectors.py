"""Reads for the partner API's hot path: an app by its public id, parsed once per process.

The row is read with one raw query and kept, with its parsed SM2 public key, for
TONGBAN_PARTNER_APP_CACHE_SECONDS: a suspension or a new key takes effect within that time.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.db import connections

from tongban.crypto.errors import KeyFormatError
from tongban.crypto.sm2 import SM2PublicKey
from tongban.partners.conf import partners


@dataclass(frozen=True, slots=True)
class PartnerAppInfo:
    """What a request needs to know about the calling app (no model instance on the hot path)."""

    pk: int
    app_id: str
    organisation_id: int
    status: str
    public_key: SM2PublicKey | None  # None if the stored key does not parse (every request then fails)
    allowed_levels: frozenset[str]
    purposes: frozenset[str]
    daily_quota: int
    rate_per_second: int
    rate_per_minute: int

    @property
    def active(self) -> bool:
        return self.status == "active"


_SQL = ("SELECT id, app_id, organisation_id, status, public_key, allowed_levels, purposes, daily_quota, "
        "rate_per_second, rate_per_minute FROM partners_partnerapp WHERE app_id = %s")

_lock = threading.Lock()
_cache: dict[str, tuple[float, PartnerAppInfo | None, bytes | None]] = {}
_MAX_ENTRIES = 10_000


def _json_list(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        value = json.loads(value)
    return frozenset(str(v) for v in (value or ()))


def _load(app_id: str) -> tuple[PartnerAppInfo | None, bytes | None]:
    with connections["default"].cursor() as cursor:
        cursor.execute(_SQL, [app_id])
        row = cursor.fetchone()
    if row is None:
        return None, None
    pk, public_id, org_id, status, key_bytes, levels, purposes, quota, per_s, per_m = row
    return PartnerAppInfo(pk=pk, app_id=public_id, organisation_id=org_id, status=status, public_key=None,
                          allowed_levels=_json_list(levels), purposes=_json_list(purposes), daily_quota=quota,
                          rate_per_second=per_s, rate_per_minute=per_m), bytes(key_bytes or b"")


def partner_app(app_id: str) -> PartnerAppInfo | None:
    """The app with this public id, or None. Cached per process (a miss is cached too)."""
    now = time.monotonic()
    hit = _cache.get(app_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    info, key_bytes = _load(app_id)
    if info is not None:
        previous = hit[1] if hit is not None else None
        # Re-use the parsed key when it did not change (parsing costs ~0.2 ms).
        if previous is not None and previous.public_key is not None and previous.public_key.to_raw() == key_bytes:
            key: SM2PublicKey | None = previous.public_key
        else:
            try:
                key = SM2PublicKey.from_raw(key_bytes) if key_bytes else None
            except KeyFormatError:
                key = None
        info = dataclasses.replace(info, public_key=key)
    with _lock:
        if len(_cache) >= _MAX_ENTRIES:
            _cache.clear()  # unknown ids are cached too: a flood of made-up ids must not grow this forever
        _cache[app_id] = (now + partners().app_cache_seconds, info, key_bytes)
    return info


_purposes: list[tuple[float, dict[str, frozenset[str]]]] = []


def purpose_levels(code: str) -> frozenset[str]:
    """The levels a call under this purpose may ask (empty: no limit beyond the app's). All purpose codes
    are read in one query and cached per process like the apps."""
    now = time.monotonic()
    if not _purposes or _purposes[0][0] <= now:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT code, allowed_levels FROM partners_purposecode")
            table = {str(c): _json_list(levels) for c, levels in cursor.fetchall()}
        with _lock:
            _purposes[:] = [(now + partners().app_cache_seconds, table)]
    return _purposes[0][1].get(code, frozenset())


def forget_apps() -> None:
    """Drop the per-process cache (tests; after an admin change in this process)."""
    with _lock:
        _cache.clear()
        _purposes.clear()
