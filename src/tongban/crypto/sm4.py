"""SM4 (GB/T 32907-2016) in GCM mode, from the `cryptography` wheel, for field encryption.

Wire format of `SM4GCM.encrypt` / `sm4_gcm_encrypt` (all lengths in bytes):

    nonce (12) || ciphertext (len(plaintext)) || tag (16)

The nonce is 12 random bytes from os.urandom for every call; the associated data is not
stored and must be supplied again to decrypt (the field layer binds table/column/row there).
With random 96-bit nonces a key must not encrypt more than 2**32 messages (NIST SP 800-38D §8.3);
the key-management layer rotates keys well before that.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from tongban.crypto.errors import DecryptionError, KeyFormatError

KEY_SIZE = 16
BLOCK_SIZE = 16
NONCE_SIZE = 12
TAG_SIZE = 16
OVERHEAD = NONCE_SIZE + TAG_SIZE


class SM4GCM:
    """An SM4-GCM key. Immutable, so one instance may be shared between threads."""

    __slots__ = ("_alg",)

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes | bytearray) or len(key) != KEY_SIZE:
            raise KeyFormatError(f"an SM4 key is {KEY_SIZE} bytes")
        self._alg = algorithms.SM4(bytes(key))

    def __repr__(self) -> str:  # never show the key
        return "<SM4GCM key=***>"

    def encrypt(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        """Encrypt with a fresh random nonce; returns nonce || ciphertext || tag."""
        nonce = os.urandom(NONCE_SIZE)
        return nonce + self.seal(nonce, plaintext, aad)

    def decrypt(self, data: bytes, aad: bytes = b"") -> bytes:
        """Reverse `encrypt`. Raises DecryptionError if the data, tag or `aad` do not match."""
        if len(data) < OVERHEAD:
            raise DecryptionError("SM4-GCM ciphertext too short")
        return self.open(data[:NONCE_SIZE], data[NONCE_SIZE:], aad)

    def seal(self, nonce: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
        """Encrypt under a caller-chosen nonce; returns ciphertext || tag.

        Never reuse a nonce under the same key: GCM then leaks the XOR of the plaintexts and
        allows forgeries. Only known-answer tests should call this directly.
        """
        if len(nonce) != NONCE_SIZE:
            raise KeyFormatError(f"an SM4-GCM nonce is {NONCE_SIZE} bytes")
        enc = Cipher(self._alg, modes.GCM(nonce)).encryptor()
        if aad:
            enc.authenticate_additional_data(aad)
        ct = enc.update(plaintext) + enc.finalize()
        return ct + enc.tag

    def open(self, nonce: bytes, ciphertext_and_tag: bytes, aad: bytes = b"") -> bytes:
        """Reverse `seal`. Raises DecryptionError on any authentication failure."""
        if len(nonce) != NONCE_SIZE:
            raise KeyFormatError(f"an SM4-GCM nonce is {NONCE_SIZE} bytes")
        if len(ciphertext_and_tag) < TAG_SIZE:
            raise DecryptionError("SM4-GCM ciphertext too short")
        ct, tag = ciphertext_and_tag[:-TAG_SIZE], ciphertext_and_tag[-TAG_SIZE:]
        dec = Cipher(self._alg, modes.GCM(nonce, tag)).decryptor()
        if aad:
            dec.authenticate_additional_data(aad)
        try:
            return dec.update(ct) + dec.finalize()
        except InvalidTag:
            raise DecryptionError("SM4-GCM authentication failed") from None


def sm4_gcm_encrypt(key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """One-shot SM4-GCM encryption: nonce (12) || ciphertext || tag (16)."""
    return SM4GCM(key).encrypt(plaintext, aad)


def sm4_gcm_decrypt(key: bytes, data: bytes, aad: bytes = b"") -> bytes:
    """One-shot SM4-GCM decryption of `sm4_gcm_encrypt` output; DecryptionError on failure."""
    return SM4GCM(key).decrypt(data, aad)


def sm4_encrypt_block(key: bytes, block: bytes) -> bytes:
    """Raw SM4 on one 16-byte block (ECB). For the known-answer tests only: ECB is not a
    safe way to encrypt data."""
    if len(key) != KEY_SIZE or len(block) != BLOCK_SIZE:
        raise KeyFormatError("SM4 block encryption takes a 16-byte key and a 16-byte block")
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 - KAT only
    return enc.update(block) + enc.finalize()


def sm4_decrypt_block(key: bytes, block: bytes) -> bytes:
    """Inverse of `sm4_encrypt_block`; known-answer tests only."""
    if len(key) != KEY_SIZE or len(block) != BLOCK_SIZE:
        raise KeyFormatError("SM4 block decryption takes a 16-byte key and a 16-byte block")
    dec = Cipher(algorithms.SM4(key), modes.ECB()).decryptor()  # noqa: S305 - KAT only
    return dec.update(block) + dec.finalize()
