"""Keys of the exchange: our SM2 signing key (the platform's api_signing key), the envelope SM4 keys agreed
with the national platform (sent SM2-encrypted to its public key, rotated), and the keys it sends us."""

from __future__ import annotations

import datetime as dt
import os
import threading

from django.db import transaction

from tongban.core import clock
from tongban.crypto import keys as platform_keys
from tongban.crypto.sm2 import SM2PrivateKey, SM2PublicKey
from tongban.crypto.sm3 import sm3
from tongban.crypto.sm4 import SM4GCM
from tongban.exchange.conf import conf, peer_public_key
from tongban.exchange.models import EnvelopeKey

PURPOSE = "api_signing"
_cache: dict[str, tuple[SM4GCM, bytes, dt.datetime, str]] = {}
_lock = threading.Lock()


def signer() -> tuple[str, SM2PrivateKey]:
    version, key = platform_keys.current_signing_key(PURPOSE)
    return f"{conf().sender}:{PURPOSE}:v{version}", key


def our_public_key(signer_name: str) -> SM2PublicKey:
    version = int(signer_name.rsplit(":v", 1)[1])
    return platform_keys.verifying_key(PURPOSE, version)


def rotate_envelope_key() -> EnvelopeKey:
    """A new SM4 envelope key, wrapped to the national platform's public key; the previous ones retire."""
    raw = os.urandom(16)
    peer = peer_public_key()
    wrapped = peer.encrypt(raw, fmt="c1c3c2")
    now = clock.now()
    with transaction.atomic():
        EnvelopeKey.objects.filter(direction="out", retired_at__isnull=True).update(retired_at=now)
        row = EnvelopeKey(key_id=sm3(wrapped)[:16].hex(), key=raw, wrapped=wrapped, direction="out", created_at=now,
                          peer=peer_fingerprint())
        row.save()
    with _lock:
        _cache.clear()
    return row


def peer_fingerprint() -> str:
    return sm3(peer_public_key().to_raw())[:16].hex()


def current_envelope_key() -> tuple[str, SM4GCM, bytes]:
    """(key id, cipher, wrapped key) of the key in use; a new one when there is none, it is too old, or the
    counterpart's public key changed."""
    now = clock.now()
    max_age = dt.timedelta(hours=conf().rotate_hours)
    peer = peer_fingerprint()
    with _lock:
        for key_id, (cipher, wrapped, created, for_peer) in _cache.items():
            if now - created < max_age and for_peer == peer:
                return key_id, cipher, wrapped
    row = (EnvelopeKey.objects.filter(direction="out", retired_at__isnull=True, peer=peer)
           .order_by("-created_at").first())
    if row is None or now - row.created_at >= max_age:
        row = rotate_envelope_key()
    cipher = SM4GCM(bytes(row.key))
    with _lock:
        _cache.clear()
        _cache[row.key_id] = (cipher, bytes(row.wrapped), row.created_at, peer)
    return row.key_id, cipher, bytes(row.wrapped)


_inbound: dict[str, SM4GCM] = {}


def inbound_cipher(key_id: str, wrapped: bytes, recipient: str) -> SM4GCM:
    """The SM4 key the national platform chose, unwrapped with our private key once and cached."""
    cipher = _inbound.get(key_id)
    if cipher is None:
        if sm3(wrapped)[:16].hex() != key_id:
            raise ValueError("key id does not match the wrapped key")
        version = int(recipient.rsplit(":v", 1)[1])
        current_version, private = platform_keys.current_signing_key(PURPOSE)
        if version != current_version:
            raise ValueError("envelope key wrapped to a key we no longer use")
        cipher = SM4GCM(private.decrypt(wrapped, fmt="c1c3c2"))
        _inbound[key_id] = cipher
    return cipher
