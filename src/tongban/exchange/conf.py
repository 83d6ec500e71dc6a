"""The exchange's settings (config/settings/base.py: TONGBAN_EXCHANGE), read in one place."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings

from tongban.crypto.sm2 import SM2PublicKey


@dataclass(frozen=True)
class ExchangeSettings:
    url: str
    timeout: float
    peer_public_key: str  # hex of the 65-byte raw key of the national platform
    sender: str
    lanes: int
    batch_size: int
    max_attempts: int  # rejections of one message before it is dead-lettered
    backoff: float
    backoff_cap: float
    lane_backoff_cap: float  # the counterpart unreachable: the longest a lane waits between tries
    lease_seconds: float
    rotate_hours: float  # an envelope key older than this is replaced


def conf() -> ExchangeSettings:
    raw = dict(getattr(settings, "TONGBAN_EXCHANGE", {}) or {})
    return ExchangeSettings(
        url=str(raw.get("URL", "")).rstrip("/"), timeout=float(raw.get("TIMEOUT", 10)),
        peer_public_key=str(raw.get("PEER_PUBLIC_KEY", "")), sender=str(raw.get("SENDER", "tongban")),
        lanes=int(raw.get("LANES", 16)), batch_size=int(raw.get("BATCH_SIZE", 500)),
        max_attempts=int(raw.get("MAX_ATTEMPTS", 5)), backoff=float(raw.get("BACKOFF", 10)),
        backoff_cap=float(raw.get("BACKOFF_CAP", 3600)), lane_backoff_cap=float(raw.get("LANE_BACKOFF_CAP", 300)),
        lease_seconds=float(raw.get("LEASE_SECONDS", 60)), rotate_hours=float(raw.get("ROTATE_HOURS", 24)))


@lru_cache(maxsize=4)
def _peer_key(hex_key: str) -> SM2PublicKey:
    return SM2PublicKey.from_raw(bytes.fromhex(hex_key))


def peer_public_key() -> SM2PublicKey:
    """The national platform's SM2 public key (parsing validates the point: cached)."""
    hex_key = conf().peer_public_key
    if not hex_key:
        from tongban.core.errors import TongbanError

        raise TongbanError("exchange_not_configured", "未配置国家政务服务平台的公钥。",
                           "TONGBAN_EXCHANGE PEER_PUBLIC_KEY is not set.", 503)
    return _peer_key(hex_key)
