"""SM2 (GB/T 32918) signatures and public-key encryption over the curve sm2p256v1, through the
system OpenSSL 3 libcrypto (see _libcrypto.py; `cryptography` exposes no SM2).

Formats, in one place:

* Private key, raw: the scalar d as 32 big-endian bytes (1 <= d <= n-2).
  PEM: PKCS#8 "PRIVATE KEY" (id-ecPublicKey, curve OID 1.2.156.10197.1.301), unencrypted.
* Public key, raw: 0x04 || X (32) || Y (32), 65 bytes, uncompressed.
  PEM: SubjectPublicKeyInfo "PUBLIC KEY", same algorithm identifier.
* Signature: SM2 with SM3 over Z_A || M, where Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA).
  The distinguishing ID defaults to b"1234567812345678" (GM/T 0009) and is always set on the
  OpenSSL context explicitly: OpenSSL 3 would otherwise use an empty ID.
  "der": SEQUENCE { r INTEGER, s INTEGER } (GM/T 0009 SM2Signature; what OpenSSL emits).
  "raw": r (32) || s (32), 64 bytes (what JWS and most JavaScript libraries use).
* Ciphertext (SM3 as the KDF and C3 hash):
  "der": SEQUENCE { x INTEGER, y INTEGER, hash OCTET STRING (C3), ciphertext OCTET STRING (C2) }
         (GM/T 0009 SM2Cipher; what OpenSSL emits). Strict DER is required on input.
  "c1c3c2": 0x04 || x1 (32) || y1 (32) || C3 (32) || C2  (GB/T 32918.4-2016 order; gmalg's).
  "c1c2c3": 0x04 || x1 || y1 || C2 || C3  (the 2010 draft order, still used by some systems).
  C2 has the plaintext's length; the overhead is 97 bytes raw, 106-108 bytes DER.

Key objects are immutable and hold a parsed EVP_PKEY, freed when the object is collected; one
object may be used from many threads at once (each call makes its own OpenSSL contexts).
"""

from __future__ import annotations

import ctypes
import weakref
from ctypes import byref, c_size_t, c_void_p
from typing import Literal

from tongban.crypto import _der
from tongban.crypto import _libcrypto as _lc
from tongban.crypto.errors import DecryptionError, KeyFormatError, OpenSSLError
from tongban.crypto.sm3 import sm3

SignatureFormat = Literal["der", "raw"]
CiphertextFormat = Literal["der", "c1c3c2", "c1c2c3"]

DEFAULT_UID = b"1234567812345678"
"""The GM/T 0009-2012 default distinguishing identifier (ASCII "1234567812345678")."""

# sm2p256v1 (GB/T 32918.5-2017).
P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

PRIVATE_KEY_SIZE = 32
PUBLIC_KEY_SIZE = 65
RAW_SIGNATURE_SIZE = 64
_MAX_DER_SIGNATURE = 72
_HASH_SIZE = 32
_MAX_UID_BYTES = 8190  # ENTL is the length in bits in two bytes; OpenSSL requires len < 65535 / 8

_SM2 = b"SM2"
_SM3 = b"SM3"


def _check_uid(uid: bytes) -> bytes:
    if not isinstance(uid, bytes | bytearray):
        raise TypeError("the SM2 user ID must be bytes")
    if len(uid) > _MAX_UID_BYTES:
        raise ValueError("the SM2 user ID must be at most 8190 bytes")
    return bytes(uid)


def compute_z(public_key: bytes, uid: bytes = DEFAULT_UID) -> bytes:
    """Z_A = SM3(ENTL || ID || a || b || xG || yG || xA || yA) for a raw 65-byte public key.

    Computed in Python, independently of OpenSSL: the known-answer test compares it with the
    standard's value, and interop code can use it to pre-hash.
    """
    uid = _check_uid(uid)
    if len(public_key) != PUBLIC_KEY_SIZE or public_key[0] != 4:
        raise KeyFormatError("an SM2 public key is 65 bytes: 0x04 || X || Y")
    entl = (len(uid) * 8).to_bytes(2, "big")
    parts = [entl, uid] + [v.to_bytes(32, "big") for v in (A, B, GX, GY)] + [public_key[1:]]
    return sm3(b"".join(parts))


def message_digest(public_key: bytes, message: bytes, uid: bytes = DEFAULT_UID) -> bytes:
    """e = SM3(Z_A || M), the value an SM2 signature actually signs."""
    return sm3(compute_z(public_key, uid) + message)


# --- signature and ciphertext format conversion (pure Python) ----------------------------------


def signature_der_to_raw(der: bytes) -> bytes:
    """DER SEQUENCE{r, s} → r || s (64 bytes). Raises KeyFormatError if not strict DER or out of range."""
    r, s = _der.decode_signature(der)
    if not (0 < r < N and 0 < s < N):
        raise KeyFormatError("SM2 signature value out of range")
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def signature_raw_to_der(raw: bytes) -> bytes:
    """r || s (64 bytes) → DER SEQUENCE{r, s}."""
    if len(raw) != RAW_SIGNATURE_SIZE:
        raise KeyFormatError("a raw SM2 signature is 64 bytes: r || s")
    r = int.from_bytes(raw[:32], "big")
    s = int.from_bytes(raw[32:], "big")
    if not (0 < r < N and 0 < s < N):
        raise KeyFormatError("SM2 signature value out of range")
    return _der.encode_signature(r, s)


def ciphertext_der_to_raw(der: bytes, order: Literal["c1c3c2", "c1c2c3"] = "c1c3c2") -> bytes:
    """GM/T 0009 DER ciphertext → 0x04||x1||y1||C3||C2 (default) or 0x04||x1||y1||C2||C3."""
    x, y, c3, c2 = _der.decode_ciphertext(der)
    if x >= P or y >= P or len(c3) != _HASH_SIZE:
        raise KeyFormatError("malformed SM2 ciphertext")
    c1 = b"\x04" + x.to_bytes(32, "big") + y.to_bytes(32, "big")
    if order == "c1c3c2":
        return c1 + c3 + c2
    if order == "c1c2c3":
        return c1 + c2 + c3
    raise ValueError(f"unknown ciphertext order {order!r}")


def ciphertext_raw_to_der(raw: bytes, order: Literal["c1c3c2", "c1c2c3"] = "c1c3c2") -> bytes:
    """0x04||x1||y1||C3||C2 (default) or 0x04||x1||y1||C2||C3 → GM/T 0009 DER ciphertext."""
    if len(raw) < 1 + 64 + _HASH_SIZE or raw[0] != 4:
        raise KeyFormatError("a raw SM2 ciphertext starts with an uncompressed point 0x04 || x1 || y1")
    x = int.from_bytes(raw[1:33], "big")
    y = int.from_bytes(raw[33:65], "big")
    rest = raw[65:]
    if order == "c1c3c2":
        c3, c2 = rest[:_HASH_SIZE], rest[_HASH_SIZE:]
    elif order == "c1c2c3":
        c2, c3 = rest[:-_HASH_SIZE], rest[-_HASH_SIZE:]
    else:
        raise ValueError(f"unknown ciphertext order {order!r}")
    if x >= P or y >= P:
        raise KeyFormatError("malformed SM2 ciphertext")
    return _der.encode_ciphertext(x, y, c3, c2)


def _to_der_ciphertext(data: bytes, fmt: CiphertextFormat) -> bytes:
    if fmt == "der":
        # Re-encode after a strict parse: OpenSSL's own parser tolerates trailing bytes.
        x, y, c3, c2 = _der.decode_ciphertext(data)
        if x >= P or y >= P or len(c3) != _HASH_SIZE:
            raise KeyFormatError("malformed SM2 ciphertext")
        return _der.encode_ciphertext(x, y, c3, c2)
    if fmt in ("c1c3c2", "c1c2c3"):
        return ciphertext_raw_to_der(data, fmt)
    raise ValueError(f"unknown ciphertext format {fmt!r}")


# --- OpenSSL helpers ------------------------------------------------------------------------------


def _pkey_from_params(selection: int, *, priv: bytes | None = None, pub: bytes) -> int:
    """EVP_PKEY_fromdata for an "SM2" key; returns the EVP_PKEY* as an int (caller owns it)."""
    L = _lc.lib()
    bld = L.OSSL_PARAM_BLD_new()
    if not bld:
        raise _lc.fail("OSSL_PARAM_BLD_new")
    bn = params = ctx = None
    try:
        if L.OSSL_PARAM_BLD_push_utf8_string(bld, b"group", _SM2, 0) != 1:
            raise _lc.fail("OSSL_PARAM_BLD_push_utf8_string")
        if priv is not None:
            bn = L.BN_bin2bn(priv, len(priv), None)
            if not bn:
                raise _lc.fail("BN_bin2bn")
            if L.OSSL_PARAM_BLD_push_BN(bld, b"priv", bn) != 1:
                raise _lc.fail("OSSL_PARAM_BLD_push_BN")
        if L.OSSL_PARAM_BLD_push_octet_string(bld, b"pub", pub, len(pub)) != 1:
            raise _lc.fail("OSSL_PARAM_BLD_push_octet_string")
        params = L.OSSL_PARAM_BLD_to_param(bld)
        if not params:
            raise _lc.fail("OSSL_PARAM_BLD_to_param")
        ctx = L.EVP_PKEY_CTX_new_from_name(None, _SM2, None)
        if not ctx:
            raise _lc.fail("EVP_PKEY_CTX_new_from_name(SM2)")
        if L.EVP_PKEY_fromdata_init(ctx) != 1:
            raise _lc.fail("EVP_PKEY_fromdata_init")
        pkey = c_void_p()
        if L.EVP_PKEY_fromdata(ctx, byref(pkey), selection, params) != 1 or not pkey.value:
            # The usual cause is a point that is not on the curve.
            raise KeyFormatError(f"not a valid SM2 key: {_lc.error_text()}")
        return pkey.value
    finally:
        if ctx:
            L.EVP_PKEY_CTX_free(ctx)
        if params:
            L.OSSL_PARAM_free(params)
        if bn:
            L.BN_clear_free(bn)
        L.OSSL_PARAM_BLD_free(bld)


def _derive_public(d: bytes) -> bytes:
    """d → 0x04 || X || Y, by OpenSSL's constant-time scalar multiplication on sm2p256v1."""
    L = _lc.lib()
    group = L.EC_GROUP_new_by_curve_name(_lc.NID_SM2)
    if not group:
        raise _lc.fail("EC_GROUP_new_by_curve_name(SM2)")
    bn = point = None
    try:
        bn = L.BN_bin2bn(d, len(d), None)
        if not bn:
            raise _lc.fail("BN_bin2bn")
        point = L.EC_POINT_new(group)
        if not point:
            raise _lc.fail("EC_POINT_new")
        if L.EC_POINT_mul(group, point, bn, None, None, None) != 1:
            raise _lc.fail("EC_POINT_mul")
        out = ctypes.create_string_buffer(PUBLIC_KEY_SIZE)
        n = L.EC_POINT_point2oct(group, point, _lc.POINT_CONVERSION_UNCOMPRESSED, out, PUBLIC_KEY_SIZE, None)
        if n != PUBLIC_KEY_SIZE:
            raise _lc.fail("EC_POINT_point2oct")
        return out.raw
    finally:
        if point:
            L.EC_POINT_clear_free(point)
        if bn:
            L.BN_clear_free(bn)
        L.EC_GROUP_free(group)


def _get_pub(pkey: int) -> bytes:
    L = _lc.lib()
    out = ctypes.create_string_buffer(PUBLIC_KEY_SIZE)
    n = c_size_t(0)
    if L.EVP_PKEY_get_octet_string_param(pkey, b"pub", out, PUBLIC_KEY_SIZE, byref(n)) != 1:
        raise _lc.fail("EVP_PKEY_get_octet_string_param(pub)")
    if n.value != PUBLIC_KEY_SIZE or out.raw[0] != 4:
        raise OpenSSLError("unexpected SM2 public key encoding from OpenSSL")
    return out.raw


def _get_priv(pkey: int) -> bytes:
    L = _lc.lib()
    bn = c_void_p()
    if L.EVP_PKEY_get_bn_param(pkey, b"priv", byref(bn)) != 1 or not bn.value:
        raise _lc.fail("EVP_PKEY_get_bn_param(priv)")
    try:
        out = ctypes.create_string_buffer(PRIVATE_KEY_SIZE)
        if L.BN_bn2binpad(bn, out, PRIVATE_KEY_SIZE) != PRIVATE_KEY_SIZE:
            raise _lc.fail("BN_bn2binpad")
        return out.raw
    finally:
        L.BN_clear_free(bn)


def _is_sm2_curve(pkey: int) -> bool:
    L = _lc.lib()
    out = ctypes.create_string_buffer(64)
    n = c_size_t(0)
    if L.EVP_PKEY_get_utf8_string_param(pkey, b"group", out, len(out), byref(n)) != 1:
        L.ERR_clear_error()
        return False
    return out.value == _SM2


def _read_pem(pem: bytes | str, private: bool) -> int:
    """PEM → EVP_PKEY* (any type; the caller checks it is SM2 and frees it)."""
    try:
        data = pem.encode("ascii") if isinstance(pem, str) else bytes(pem)
    except UnicodeEncodeError:
        raise KeyFormatError("a PEM key is ASCII text") from None
    L = _lc.lib()
    bio = L.BIO_new_mem_buf(data, len(data))
    if not bio:
        raise _lc.fail("BIO_new_mem_buf")
    try:
        reader = L.PEM_read_bio_PrivateKey if private else L.PEM_read_bio_PUBKEY
        pkey = reader(bio, None, _lc.NO_PASSWORD, None)
        if not pkey:
            kind = "unencrypted PKCS#8 private key" if private else "SubjectPublicKeyInfo public key"
            raise KeyFormatError(f"not a PEM {kind}: {_lc.error_text()}")
        return int(pkey)
    finally:
        L.BIO_free(bio)


def _write_pem(pkey: int, private: bool) -> bytes:
    L = _lc.lib()
    bio = L.BIO_new(L.BIO_s_mem())
    if not bio:
        raise _lc.fail("BIO_new")
    try:
        if private:
            ok = L.PEM_write_bio_PrivateKey(bio, pkey, None, None, 0, None, None)
        else:
            ok = L.PEM_write_bio_PUBKEY(bio, pkey)
        if ok != 1:
            raise _lc.fail("PEM_write_bio")
        ptr = c_void_p()
        n = L.BIO_ctrl(bio, _lc.BIO_CTRL_INFO, 0, byref(ptr))
        if n <= 0 or not ptr.value:
            raise _lc.fail("BIO_get_mem_data")
        return ctypes.string_at(ptr.value, n)
    finally:
        L.BIO_free(bio)


def _free_pkey(pkey: int) -> None:
    try:
        _lc.lib().EVP_PKEY_free(pkey)
    except Exception:  # noqa: S110 - interpreter shutdown: nothing left to free into
        pass


# --- keys -------------------------------------------------------------------------------------------


class SM2PublicKey:
    """An SM2 public key: verify signatures, encrypt."""

    __slots__ = ("_pkey", "_raw", "__weakref__")

    def __init__(self, _pkey: int, _raw: bytes) -> None:  # use the from_* constructors
        self._pkey = _pkey
        self._raw = _raw
        weakref.finalize(self, _free_pkey, _pkey)

    @classmethod
    def from_raw(cls, data: bytes) -> SM2PublicKey:
        """From 0x04 || X || Y (65 bytes). The point is checked to be on the curve."""
        data = bytes(data)
        if len(data) != PUBLIC_KEY_SIZE or data[0] != 4:
            raise KeyFormatError("an SM2 public key is 65 bytes: 0x04 || X || Y")
        pkey = _pkey_from_params(_lc.EVP_PKEY_PUBLIC_KEY, pub=data)
        key = cls(pkey, data)
        key._check()
        return key

    @classmethod
    def from_pem(cls, pem: bytes | str) -> SM2PublicKey:
        """From a PEM SubjectPublicKeyInfo ("-----BEGIN PUBLIC KEY-----") on sm2p256v1."""
        pkey = _read_pem(pem, private=False)
        try:
            if not _is_sm2_curve(pkey):
                raise KeyFormatError("the PEM public key is not on the SM2 curve")
            raw = _get_pub(pkey)
        finally:
            _free_pkey(pkey)
        return cls.from_raw(raw)

    def _check(self) -> None:
        L = _lc.lib()
        ctx = L.EVP_PKEY_CTX_new_from_pkey(None, self._pkey, None)
        if not ctx:
            raise _lc.fail("EVP_PKEY_CTX_new_from_pkey")
        try:
            if L.EVP_PKEY_public_check(ctx) != 1:
                raise KeyFormatError(f"not a valid SM2 public key: {_lc.error_text()}")
        finally:
            L.EVP_PKEY_CTX_free(ctx)

    def to_raw(self) -> bytes:
        """0x04 || X || Y, 65 bytes."""
        return self._raw

    def to_pem(self) -> bytes:
        """PEM SubjectPublicKeyInfo."""
        return _write_pem(self._pkey, private=False)

    def z_digest(self, uid: bytes = DEFAULT_UID) -> bytes:
        return compute_z(self._raw, uid)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SM2PublicKey) and other._raw == self._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"<SM2PublicKey {self._raw[1:9].hex()}…>"

    def verify(
        self, signature: bytes, data: bytes, *, uid: bytes = DEFAULT_UID, fmt: SignatureFormat = "der"
    ) -> bool:
        """True if `signature` is a valid SM2-with-SM3 signature of `data` under `uid`.

        A malformed signature (bad DER, wrong length, values out of range) is simply invalid:
        False, never an exception.
        """
        uid = _check_uid(uid)
        if fmt == "raw":
            try:
                signature = signature_raw_to_der(signature)
            except KeyFormatError:
                return False
        elif fmt != "der":
            raise ValueError(f"unknown signature format {fmt!r}")
        L = _lc.lib()
        mctx = L.EVP_MD_CTX_new()
        if not mctx:
            raise _lc.fail("EVP_MD_CTX_new")
        try:
            pctx = c_void_p()  # owned by mctx
            if L.EVP_DigestVerifyInit_ex(mctx, byref(pctx), _SM3, None, None, self._pkey, None) != 1:
                raise _lc.fail("EVP_DigestVerifyInit_ex")
            # After init, so OpenSSL 3.0 applies it (passing it to the init call is silently ignored).
            if L.EVP_PKEY_CTX_set1_id(pctx, uid, len(uid)) != 1:
                raise _lc.fail("EVP_PKEY_CTX_set1_id")
            rc = L.EVP_DigestVerify(mctx, bytes(signature), len(signature), bytes(data), len(data))
            if rc != 1:
                L.ERR_clear_error()
            return rc == 1
        finally:
            L.EVP_MD_CTX_free(mctx)

    def encrypt(self, plaintext: bytes, *, fmt: CiphertextFormat = "der") -> bytes:
        """SM2 public-key encryption (SM3 KDF and hash). Output as `fmt` (see module docstring).

        Meant for small secrets (keys, tokens): the ciphertext is as long as the plaintext plus
        ~100 bytes, and every call costs two scalar multiplications.
        """
        if not plaintext:
            raise ValueError("SM2 cannot encrypt an empty message")
        if fmt not in ("der", "c1c3c2", "c1c2c3"):
            raise ValueError(f"unknown ciphertext format {fmt!r}")
        L = _lc.lib()
        ctx = L.EVP_PKEY_CTX_new_from_pkey(None, self._pkey, None)
        if not ctx:
            raise _lc.fail("EVP_PKEY_CTX_new_from_pkey")
        try:
            if L.EVP_PKEY_encrypt_init(ctx) != 1:
                raise _lc.fail("EVP_PKEY_encrypt_init")
            pt = bytes(plaintext)
            outlen = c_size_t(0)
            if L.EVP_PKEY_encrypt(ctx, None, byref(outlen), pt, len(pt)) != 1:
                raise _lc.fail("EVP_PKEY_encrypt (size)")
            out = ctypes.create_string_buffer(outlen.value)
            if L.EVP_PKEY_encrypt(ctx, out, byref(outlen), pt, len(pt)) != 1:
                raise _lc.fail("EVP_PKEY_encrypt")
            der = out.raw[: outlen.value]
        finally:
            L.EVP_PKEY_CTX_free(ctx)
        return der if fmt == "der" else ciphertext_der_to_raw(der, fmt)


class SM2PrivateKey:
    """An SM2 private key: sign, decrypt; `public_key()` for the other half."""

    __slots__ = ("_pkey", "_public", "__weakref__")

    def __init__(self, _pkey: int, _public_raw: bytes) -> None:  # use generate() / from_*
        self._pkey = _pkey
        self._public: SM2PublicKey | bytes = _public_raw
        weakref.finalize(self, _free_pkey, _pkey)

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        """A new random key pair (OpenSSL's DRBG)."""
        L = _lc.lib()
        ctx = L.EVP_PKEY_CTX_new_from_name(None, _SM2, None)
        if not ctx:
            raise _lc.fail("EVP_PKEY_CTX_new_from_name(SM2)")
        try:
            if L.EVP_PKEY_keygen_init(ctx) != 1:
                raise _lc.fail("EVP_PKEY_keygen_init")
            pkey = c_void_p()
            if L.EVP_PKEY_generate(ctx, byref(pkey)) != 1 or not pkey.value:
                raise _lc.fail("EVP_PKEY_generate")
        finally:
            L.EVP_PKEY_CTX_free(ctx)
        try:
            pub = _get_pub(pkey.value)
        except BaseException:
            _free_pkey(pkey.value)
            raise
        return cls(pkey.value, pub)

    @classmethod
    def from_raw(cls, d: bytes) -> SM2PrivateKey:
        """From the 32-byte big-endian scalar d; the public key is derived from it."""
        d = bytes(d)
        if len(d) != PRIVATE_KEY_SIZE:
            raise KeyFormatError("an SM2 private key is 32 bytes")
        value = int.from_bytes(d, "big")
        # d = n-1 is excluded by GB/T 32918.1 §6.1: signing divides by (1 + d).
        if not 1 <= value <= N - 2:
            raise KeyFormatError("SM2 private key out of range [1, n-2]")
        pub = _derive_public(d)
        return cls(_pkey_from_params(_lc.EVP_PKEY_KEYPAIR, priv=d, pub=pub), pub)

    @classmethod
    def from_pem(cls, pem: bytes | str) -> SM2PrivateKey:
        """From an unencrypted PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----") on sm2p256v1.

        If the PEM carries a public key it must match the private scalar.
        """
        pkey = _read_pem(pem, private=True)
        try:
            if not _is_sm2_curve(pkey):
                raise KeyFormatError("the PEM private key is not on the SM2 curve")
            d = _get_priv(pkey)
            try:
                embedded_pub: bytes | None = _get_pub(pkey)
            except OpenSSLError:
                embedded_pub = None
        finally:
            _free_pkey(pkey)
        key = cls.from_raw(d)
        if embedded_pub is not None and embedded_pub != key.public_key().to_raw():
            raise KeyFormatError("the PEM's public key does not match its private key")
        return key

    def to_raw(self) -> bytes:
        """The 32-byte scalar d. Handle with care: this is the secret."""
        return _get_priv(self._pkey)

    def to_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM. Store it only where the key-management policy allows."""
        return _write_pem(self._pkey, private=True)

    def public_key(self) -> SM2PublicKey:
        pub = self._public
        if isinstance(pub, bytes):
            pub = SM2PublicKey.from_raw(pub)
            self._public = pub
        return pub

    def __repr__(self) -> str:  # never show the secret
        return f"<SM2PrivateKey public={self.public_key()!r}>"

    def sign(self, data: bytes, *, uid: bytes = DEFAULT_UID, fmt: SignatureFormat = "der") -> bytes:
        """SM2-with-SM3 signature of `data` (randomised: two calls give different signatures)."""
        uid = _check_uid(uid)
        if fmt not in ("der", "raw"):
            raise ValueError(f"unknown signature format {fmt!r}")
        L = _lc.lib()
        mctx = L.EVP_MD_CTX_new()
        if not mctx:
            raise _lc.fail("EVP_MD_CTX_new")
        try:
            pctx = c_void_p()  # owned by mctx
            if L.EVP_DigestSignInit_ex(mctx, byref(pctx), _SM3, None, None, self._pkey, None) != 1:
                raise _lc.fail("EVP_DigestSignInit_ex")
            if L.EVP_PKEY_CTX_set1_id(pctx, uid, len(uid)) != 1:
                raise _lc.fail("EVP_PKEY_CTX_set1_id")
            out = ctypes.create_string_buffer(_MAX_DER_SIGNATURE)
            n = c_size_t(_MAX_DER_SIGNATURE)
            if L.EVP_DigestSign(mctx, out, byref(n), bytes(data), len(data)) != 1:
                raise _lc.fail("EVP_DigestSign")
            der = out.raw[: n.value]
        finally:
            L.EVP_MD_CTX_free(mctx)
        return der if fmt == "der" else signature_der_to_raw(der)

    def decrypt(self, ciphertext: bytes, *, fmt: CiphertextFormat = "der") -> bytes:
        """Reverse `SM2PublicKey.encrypt`. Raises DecryptionError if the ciphertext is malformed,
        was made for another key, or was altered (the C3 hash does not match)."""
        try:
            der = _to_der_ciphertext(bytes(ciphertext), fmt)
        except KeyFormatError:
            raise DecryptionError("SM2 decryption failed") from None
        L = _lc.lib()
        ctx = L.EVP_PKEY_CTX_new_from_pkey(None, self._pkey, None)
        if not ctx:
            raise _lc.fail("EVP_PKEY_CTX_new_from_pkey")
        try:
            if L.EVP_PKEY_decrypt_init(ctx) != 1:
                raise _lc.fail("EVP_PKEY_decrypt_init")
            outlen = c_size_t(0)
            if L.EVP_PKEY_decrypt(ctx, None, byref(outlen), der, len(der)) != 1:
                L.ERR_clear_error()
                raise DecryptionError("SM2 decryption failed")
            out = ctypes.create_string_buffer(max(outlen.value, 1))
            if L.EVP_PKEY_decrypt(ctx, out, byref(outlen), der, len(der)) != 1:
                L.ERR_clear_error()
                raise DecryptionError("SM2 decryption failed")
            return out.raw[: outlen.value]
        finally:
            L.EVP_PKEY_CTX_free(ctx)
