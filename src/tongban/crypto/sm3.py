"""SM3 hashing (GB/T 32905-2016) and HMAC-SM3, from the `cryptography` wheel.

HMAC-SM3 is the blind-index function for encrypted personal-data fields (DESIGN §3, invariant 1).
"""

from __future__ import annotations

import hmac as _hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as _crypto_hmac

DIGEST_SIZE = 32
BLOCK_SIZE = 64

_SM3 = hashes.SM3()


def sm3(data: bytes) -> bytes:
    """The 32-byte SM3 digest of `data`."""
    h = hashes.Hash(_SM3)
    h.update(data)
    return h.finalize()


class SM3Hash:
    """Incremental SM3, for data that arrives in pieces (the audit chain hashes entry by entry)."""

    __slots__ = ("_h",)

    def __init__(self, data: bytes = b"") -> None:
        self._h = hashes.Hash(_SM3)
        if data:
            self._h.update(data)

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def digest(self) -> bytes:
        """The digest so far; the object stays usable."""
        return self._h.copy().finalize()

    def hexdigest(self) -> str:
        return self.digest().hex()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC (RFC 2104) over SM3: a 32-byte tag. `key` should be at least 32 random bytes."""
    if not key:
        raise ValueError("HMAC-SM3 key must not be empty")
    h = _crypto_hmac.HMAC(key, _SM3)
    h.update(data)
    return h.finalize()


def hmac_sm3_verify(key: bytes, data: bytes, tag: bytes) -> bool:
    """True if `tag` is the HMAC-SM3 of `data` under `key`, compared in constant time."""
    return constant_time_equal(hmac_sm3(key, data), tag)


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two byte strings without leaking, through timing, where they first differ."""
    return _hmac.compare_digest(a, b)
