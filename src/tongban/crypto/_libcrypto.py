"""A minimal ctypes binding to the system OpenSSL 3 `libcrypto.so.3` (Debian's libssl3), for SM2.

Only what tongban.crypto.sm2 needs is declared; prototypes are set once, at first use. The
library is loaded lazily so that importing tongban.crypto never fails: the start-up self-test
reports a missing or wrong library instead.

`cryptography` bundles its own OpenSSL but exposes no SM2; Python's _ssl/_hashlib modules load
this same system libcrypto, so every failure path here clears the thread's OpenSSL error queue to
leave nothing behind for them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from ctypes import POINTER, c_char_p, c_int, c_long, c_size_t, c_ulong, c_void_p
from typing import Any

from tongban.crypto.errors import OpenSSLError

# Tried in order; the soname first, so the dynamic loader's own search path wins.
CANDIDATES = (
    "libcrypto.so.3",
    "/usr/lib/x86_64-linux-gnu/libcrypto.so.3",
    "/usr/lib/aarch64-linux-gnu/libcrypto.so.3",
)

# From <openssl/evp.h>, <openssl/core_dispatch.h>, <openssl/obj_mac.h>, <openssl/bio.h>.
EVP_PKEY_PUBLIC_KEY = 0x86  # OSSL_KEYMGMT_SELECT_ALL_PARAMETERS | SELECT_PUBLIC_KEY
EVP_PKEY_KEYPAIR = 0x87  # EVP_PKEY_PUBLIC_KEY | SELECT_PRIVATE_KEY
NID_SM2 = 1172
POINT_CONVERSION_UNCOMPRESSED = 4
BIO_CTRL_INFO = 3

_vp = c_void_p
_PROTOTYPES: dict[str, tuple[Any, list[Any]]] = {
    "OpenSSL_version_num": (c_ulong, []),
    "OpenSSL_version": (c_char_p, [c_int]),
    "ERR_get_error": (c_ulong, []),
    "ERR_error_string_n": (None, [c_ulong, c_char_p, c_size_t]),
    "ERR_clear_error": (None, []),
    "BN_bin2bn": (_vp, [c_char_p, c_int, _vp]),
    "BN_bn2binpad": (c_int, [_vp, _vp, c_int]),
    "BN_clear_free": (None, [_vp]),
    "EC_GROUP_new_by_curve_name": (_vp, [c_int]),
    "EC_GROUP_free": (None, [_vp]),
    "EC_POINT_new": (_vp, [_vp]),
    "EC_POINT_clear_free": (None, [_vp]),
    "EC_POINT_mul": (c_int, [_vp, _vp, _vp, _vp, _vp, _vp]),
    "EC_POINT_point2oct": (c_size_t, [_vp, _vp, c_int, _vp, c_size_t, _vp]),
    "OSSL_PARAM_BLD_new": (_vp, []),
    "OSSL_PARAM_BLD_free": (None, [_vp]),
    "OSSL_PARAM_BLD_push_utf8_string": (c_int, [_vp, c_char_p, c_char_p, c_size_t]),
    "OSSL_PARAM_BLD_push_BN": (c_int, [_vp, c_char_p, _vp]),
    "OSSL_PARAM_BLD_push_octet_string": (c_int, [_vp, c_char_p, c_char_p, c_size_t]),
    "OSSL_PARAM_BLD_to_param": (_vp, [_vp]),
    "OSSL_PARAM_free": (None, [_vp]),
    "EVP_PKEY_free": (None, [_vp]),
    "EVP_PKEY_is_a": (c_int, [_vp, c_char_p]),
    "EVP_PKEY_get_bn_param": (c_int, [_vp, c_char_p, POINTER(_vp)]),
    "EVP_PKEY_get_octet_string_param": (c_int, [_vp, c_char_p, _vp, c_size_t, POINTER(c_size_t)]),
    "EVP_PKEY_get_utf8_string_param": (c_int, [_vp, c_char_p, _vp, c_size_t, POINTER(c_size_t)]),
    "EVP_PKEY_CTX_new_from_name": (_vp, [_vp, c_char_p, c_char_p]),
    "EVP_PKEY_CTX_new_from_pkey": (_vp, [_vp, _vp, c_char_p]),
    "EVP_PKEY_CTX_free": (None, [_vp]),
    "EVP_PKEY_CTX_set1_id": (c_int, [_vp, c_char_p, c_int]),
    "EVP_PKEY_keygen_init": (c_int, [_vp]),
    "EVP_PKEY_generate": (c_int, [_vp, POINTER(_vp)]),
    "EVP_PKEY_fromdata_init": (c_int, [_vp]),
    "EVP_PKEY_fromdata": (c_int, [_vp, POINTER(_vp), c_int, _vp]),
    "EVP_PKEY_public_check": (c_int, [_vp]),
    "EVP_PKEY_encrypt_init": (c_int, [_vp]),
    "EVP_PKEY_encrypt": (c_int, [_vp, _vp, POINTER(c_size_t), c_char_p, c_size_t]),
    "EVP_PKEY_decrypt_init": (c_int, [_vp]),
    "EVP_PKEY_decrypt": (c_int, [_vp, _vp, POINTER(c_size_t), c_char_p, c_size_t]),
    "EVP_MD_CTX_new": (_vp, []),
    "EVP_MD_CTX_free": (None, [_vp]),
    "EVP_DigestSignInit_ex": (c_int, [_vp, POINTER(_vp), c_char_p, _vp, c_char_p, _vp, _vp]),
    "EVP_DigestSign": (c_int, [_vp, _vp, POINTER(c_size_t), c_char_p, c_size_t]),
    "EVP_DigestVerifyInit_ex": (c_int, [_vp, POINTER(_vp), c_char_p, _vp, c_char_p, _vp, _vp]),
    "EVP_DigestVerify": (c_int, [_vp, c_char_p, c_size_t, c_char_p, c_size_t]),
    "BIO_s_mem": (_vp, []),
    "BIO_new": (_vp, [_vp]),
    "BIO_new_mem_buf": (_vp, [c_char_p, c_int]),
    "BIO_free": (c_int, [_vp]),
    "BIO_ctrl": (c_long, [_vp, c_int, c_long, _vp]),
    "PEM_write_bio_PrivateKey": (c_int, [_vp, _vp, _vp, _vp, c_int, _vp, _vp]),
    "PEM_write_bio_PUBKEY": (c_int, [_vp, _vp]),
    "PEM_read_bio_PrivateKey": (_vp, [_vp, _vp, _vp, _vp]),
    "PEM_read_bio_PUBKEY": (_vp, [_vp, _vp, _vp, _vp]),
}

# int pem_password_cb(char *buf, int size, int rwflag, void *u): always refuse, so an encrypted
# PEM fails cleanly instead of OpenSSL prompting for a passphrase on the server's terminal.
PEM_PASSWORD_CB = ctypes.CFUNCTYPE(c_int, c_void_p, c_int, c_int, c_void_p)
NO_PASSWORD = PEM_PASSWORD_CB(lambda buf, size, rwflag, u: -1)

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_load_error: str | None = None


def _load() -> ctypes.CDLL:
    tried: list[str] = []
    names = list(CANDIDATES)
    found = ctypes.util.find_library("crypto")
    if found and found not in names:
        names.append(found)
    for name in names:
        try:
            lib = ctypes.CDLL(name)
        except OSError as exc:
            tried.append(f"{name}: {exc}")
            continue
        lib.OpenSSL_version_num.restype = c_ulong
        lib.OpenSSL_version_num.argtypes = []
        version = lib.OpenSSL_version_num()
        if version >> 28 != 3:
            tried.append(f"{name}: version {version:#x} is not OpenSSL 3.x")
            continue
        for fname, (restype, argtypes) in _PROTOTYPES.items():
            try:
                fn = getattr(lib, fname)
            except AttributeError:
                tried.append(f"{name}: missing {fname}")
                break
            fn.restype = restype
            fn.argtypes = argtypes
        else:
            return lib
    raise OpenSSLError("no usable OpenSSL 3 libcrypto.so.3 (install Debian's libssl3): " + "; ".join(tried))


def lib() -> ctypes.CDLL:
    """The loaded library, with prototypes set. Raises OpenSSLError if none is usable."""
    global _lib, _load_error
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is None:
            if _load_error is not None:
                raise OpenSSLError(_load_error)
            try:
                _lib = _load()
            except OpenSSLError as exc:
                _load_error = str(exc)
                raise
    return _lib


def version_text() -> str:
    """The version line of the loaded libcrypto, e.g. 'OpenSSL 3.0.19 27 Jan 2026'."""
    raw = lib().OpenSSL_version(0)
    return raw.decode("ascii", "replace") if raw else "unknown"


def error_text() -> str:
    """Drain this thread's OpenSSL error queue into one line (and leave the queue empty)."""
    L = lib()
    parts: list[str] = []
    buf = ctypes.create_string_buffer(256)
    while True:
        code = L.ERR_get_error()
        if not code:
            break
        L.ERR_error_string_n(code, buf, len(buf))
        parts.append(buf.value.decode("ascii", "replace"))
    return "; ".join(parts) or "no error detail"


def fail(what: str) -> OpenSSLError:
    """An OpenSSLError for a failed call, carrying (and clearing) the error queue."""
    return OpenSSLError(f"{what} failed: {error_text()}")
