"""Exceptions raised by tongban.crypto; every one derives from CryptoError."""

from __future__ import annotations


class CryptoError(Exception):
    """Base class of every error this package raises on purpose."""


class KeyFormatError(CryptoError, ValueError):
    """A key, signature or ciphertext is not in the expected format (wrong length, bad DER, not on the curve)."""


class DecryptionError(CryptoError):
    """Authenticated decryption failed: wrong key, wrong associated data, or tampered ciphertext/tag.

    The message never says which, so it cannot be used as an oracle.
    """


class OpenSSLError(CryptoError):
    """The system libcrypto failed an operation that should have succeeded, or could not be loaded."""


class CryptoSelfTestError(CryptoError):
    """A start-up known-answer test failed; `algorithm` names the one that did."""

    def __init__(self, algorithm: str, detail: str) -> None:
        super().__init__(f"{algorithm}: {detail}")
        self.algorithm = algorithm
        self.detail = detail
