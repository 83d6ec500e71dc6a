"""Provider secrets (generated once, kept encrypted) and the fast keyed hash of client secrets.

Client secrets are 256-bit random values, so a keyed HMAC-SM3 protects them as well as a slow
password hash would (there is nothing to guess) and costs microseconds: django-oauth-toolkit's default
(the password hasher) limits the token endpoint to a few requests per second. Stored form:

    hmac-sm3$<key id>$<hex tag>        tag = HMAC-SM3(provider secret "client_secret", secret)

The key id names the key by a short fingerprint so that a future rotation can tell old hashes apart.
"""

from __future__ import annotations

import os
import secrets as _secrets
import threading

from django.db import IntegrityError, transaction

from tongban.crypto.sm3 import constant_time_equal, hmac_sm3, sm3

PREFIX = "hmac-sm3$"
SECRET_BYTES = 32

_lock = threading.Lock()
_cache: dict[str, bytes] = {}


def provider_secret(name: str) -> bytes:
    """The named provider secret (created on first use), cached for the life of the process."""
    found = _cache.get(name)
    if found is not None:
        return found
    from tongban.sso.models import ProviderSecret

    row = ProviderSecret.objects.filter(name=name).first()
    if row is None:
        try:
            with transaction.atomic():
                row = ProviderSecret.objects.create(name=name, value=os.urandom(32))
        except IntegrityError:  # another process made it first
            row = ProviderSecret.objects.get(name=name)
    value = bytes(row.value)
    with _lock:
        _cache[name] = value
    return value


def clear_cache() -> None:
    """Forget the cached secrets (tests, after the database was flushed)."""
    with _lock:
        _cache.clear()
    from tongban.sso import signing, validators

    signing.clear_cache()
    validators.clear_client_cache()


def _key() -> tuple[str, bytes]:
    key = provider_secret("client_secret")
    return sm3(b"tongban/sso/key-id|" + key).hex()[:8], key


def generate_secret() -> str:
    return _secrets.token_urlsafe(SECRET_BYTES)


def is_hashed(value: str) -> bool:
    return value.startswith(PREFIX)


def hash_secret(secret: str) -> str:
    key_id, key = _key()
    return f"{PREFIX}{key_id}${hmac_sm3(key, secret.encode()).hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    """True if `secret` is the one whose hash is `stored` (constant time in the tag)."""
    if not secret or not stored or not is_hashed(stored):
        return False
    try:
        _, key_id, tag_hex = stored.split("$", 2)
        tag = bytes.fromhex(tag_hex)
    except ValueError:
        return False
    current_id, key = _key()
    if key_id != current_id:
        return False
    return constant_time_equal(hmac_sm3(key, secret.encode()), tag)
