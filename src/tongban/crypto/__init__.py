"""Chinese national cryptography for tongban: SM3 / HMAC-SM3, SM4-GCM, SM2, and the start-up self-test.

`sm3(data)` is in tongban.crypto.sm3 (re-exporting it here would shadow that submodule).
SM3 and SM4 come from the `cryptography` wheel; SM2 from the system OpenSSL 3 libcrypto through a
small ctypes binding. docs/crypto.md describes the algorithms, formats and choices.
"""

from __future__ import annotations

from tongban.crypto.errors import (
    CryptoError,
    CryptoSelfTestError,
    DecryptionError,
    KeyFormatError,
    OpenSSLError,
)
from tongban.crypto.sm2 import DEFAULT_UID, SM2PrivateKey, SM2PublicKey
from tongban.crypto.sm3 import constant_time_equal, hmac_sm3, hmac_sm3_verify
from tongban.crypto.sm4 import SM4GCM, sm4_gcm_decrypt, sm4_gcm_encrypt

__all__ = [
    "DEFAULT_UID",
    "SM4GCM",
    "CryptoError",
    "CryptoSelfTestError",
    "DecryptionError",
    "KeyFormatError",
    "OpenSSLError",
    "SM2PrivateKey",
    "SM2PublicKey",
    "constant_time_equal",
    "hmac_sm3",
    "hmac_sm3_verify",
    "sm4_gcm_decrypt",
    "sm4_gcm_encrypt",
]
