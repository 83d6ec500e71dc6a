"""Property tests: our SM2 (system libcrypto) against gmalg (pure Python, GB/T 32918 reference).

Signatures made by either verify in the other; ciphertexts made by either decrypt in the other
(after converting between GM/T 0009 DER and C1C3C2); tampering is rejected. Keys are random, plus
fixed keys whose public X or Y coordinate starts with a zero byte and keys whose d is small,
because those are where fixed-width encodings go wrong.
"""

from __future__ import annotations

import gmalg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tongban.crypto import sm2
from tongban.crypto.errors import DecryptionError
from tongban.crypto.sm2 import DEFAULT_UID, N, SM2PrivateKey, SM2PublicKey
from tongban.crypto.sm3 import sm3

# d_i = SM3("tongban leading-zero key <i>") mod (n - 2) + 1, searched for the property named;
# test_special_keys_have_the_property re-derives them.
LEADING_ZERO_X = [
    (185, "2ceba00f700d6b0a97bf52123acac584ba339a2cfa707eeabeab6d7029fdb365"),
    (1583, "c99e331dbeb2711f330abfcc2d090a0a712186cbd2ba05f40cbda6f1911f1541"),
]
LEADING_ZERO_Y = [
    (63, "89283287f3edc2e9f7cb006035f27319804d8d9f4c09b942240f294eecb002e2"),
    (315, "08ca788f14f1dba49272a097a31186880458008f2b341947ed1b0339865477b1"),
]
SMALL_D = [1, 2, 107, 327]  # d itself starts with zero bytes; 107 → Y starts 00, 327 → X starts 00
SPECIAL_D = [int(h, 16) for _, h in LEADING_ZERO_X + LEADING_ZERO_Y] + SMALL_D

PROFILE = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

private_scalars = st.one_of(st.sampled_from(SPECIAL_D), st.integers(min_value=1, max_value=N - 2))
messages = st.binary(min_size=0, max_size=256)
uids = st.one_of(st.just(DEFAULT_UID), st.binary(min_size=1, max_size=40))


def _d_bytes(d: int) -> bytes:
    return d.to_bytes(32, "big")


def _gmalg(d: int, uid: bytes = DEFAULT_UID) -> gmalg.SM2:
    # gmalg takes the scalar as big-endian bytes of any length and derives the public key itself
    return gmalg.SM2(sk=_d_bytes(d), uid=uid)


def _gmalg_pub(pub: bytes, uid: bytes = DEFAULT_UID) -> gmalg.SM2:
    return gmalg.SM2(pk=pub, uid=uid)


@pytest.mark.parametrize(("i", "d_hex"), LEADING_ZERO_X + LEADING_ZERO_Y)
def test_special_keys_have_the_property(i, d_hex):
    d = int.from_bytes(sm3(b"tongban leading-zero key %d" % i), "big") % (N - 2) + 1
    assert d == int(d_hex, 16)
    pub = SM2PrivateKey.from_raw(_d_bytes(d)).public_key().to_raw()
    assert pub[1] == 0 or pub[33] == 0
    assert pub == gmalg.SM2().generate_pk(_d_bytes(d))  # gmalg derives the same public key


@PROFILE
@given(d=private_scalars)
@example(d=SPECIAL_D[0])
def test_public_key_derivation_matches_gmalg(d):
    ours = SM2PrivateKey.from_raw(_d_bytes(d))
    assert ours.public_key().to_raw() == gmalg.SM2().generate_pk(_d_bytes(d))
    assert ours.to_raw() == _d_bytes(d)


@PROFILE
@given(d=private_scalars, message=messages, uid=uids)
def test_our_signature_verifies_in_gmalg(d, message, uid):
    key = SM2PrivateKey.from_raw(_d_bytes(d))
    raw = key.sign(message, uid=uid, fmt="raw")
    other = _gmalg_pub(key.public_key().to_raw(), uid)
    assert other.verify(message, raw[:32], raw[32:])
    assert not other.verify(message + b"\x00", raw[:32], raw[32:])


@PROFILE
@given(d=private_scalars, message=messages, uid=uids)
def test_gmalg_signature_verifies_in_ours(d, message, uid):
    r, s = _gmalg(d, uid).sign(message)
    raw = r.rjust(32, b"\x00") + s.rjust(32, b"\x00")  # gmalg returns minimal-length integers
    pub = SM2PrivateKey.from_raw(_d_bytes(d)).public_key()
    assert pub.verify(raw, message, uid=uid, fmt="raw")
    assert pub.verify(sm2.signature_raw_to_der(raw), message, uid=uid)
    assert not pub.verify(raw, message, uid=uid + b"x", fmt="raw")


@PROFILE
@given(d=private_scalars, message=messages, data=st.data())
def test_tampered_signatures_and_messages_are_rejected(d, message, data):
    key = SM2PrivateKey.from_raw(_d_bytes(d))
    pub = key.public_key()
    der = key.sign(message)
    # DER length varies with r and s, so draw independently of it (hypothesis needs determinism)
    bit = data.draw(st.integers(0, 2**16)) % (len(der) * 8)
    bad = bytearray(der)
    bad[bit // 8] ^= 1 << (bit % 8)
    assert not pub.verify(bytes(bad), message)
    raw = sm2.signature_der_to_raw(der)
    bit = data.draw(st.integers(0, 511))
    bad = bytearray(raw)
    bad[bit // 8] ^= 1 << (bit % 8)
    assert not pub.verify(bytes(bad), message, fmt="raw")
    assert not _gmalg_pub(pub.to_raw()).verify(message, bytes(bad[:32]), bytes(bad[32:]))
    if message:
        i = data.draw(st.integers(0, len(message) - 1))
        altered = bytearray(message)
        altered[i] ^= 0x01
        assert not pub.verify(der, bytes(altered))


@PROFILE
@given(d=private_scalars, plaintext=st.binary(min_size=1, max_size=200))
def test_our_ciphertext_decrypts_in_gmalg(d, plaintext):
    key = SM2PrivateKey.from_raw(_d_bytes(d))
    der = key.public_key().encrypt(plaintext)
    assert _gmalg(d).decrypt(sm2.ciphertext_der_to_raw(der)) == plaintext
    assert _gmalg(d).decrypt(key.public_key().encrypt(plaintext, fmt="c1c3c2")) == plaintext


@PROFILE
@given(d=private_scalars, plaintext=st.binary(min_size=1, max_size=200))
def test_gmalg_ciphertext_decrypts_in_ours(d, plaintext):
    key = SM2PrivateKey.from_raw(_d_bytes(d))
    c1c3c2 = _gmalg_pub(key.public_key().to_raw()).encrypt(plaintext)
    assert key.decrypt(c1c3c2, fmt="c1c3c2") == plaintext
    assert key.decrypt(sm2.ciphertext_raw_to_der(c1c3c2)) == plaintext


@PROFILE
@given(d=private_scalars, plaintext=st.binary(min_size=1, max_size=100), data=st.data())
def test_tampered_ciphertexts_are_rejected(d, plaintext, data):
    key = SM2PrivateKey.from_raw(_d_bytes(d))
    raw = bytearray(key.public_key().encrypt(plaintext, fmt="c1c3c2"))
    i = data.draw(st.integers(1, len(raw) - 1))  # any byte after the 0x04 marker: x1, y1, C3 or C2
    raw[i] ^= 1 << data.draw(st.integers(0, 7))
    with pytest.raises(DecryptionError):
        key.decrypt(bytes(raw), fmt="c1c3c2")


@PROFILE
@given(d=private_scalars)
def test_pem_round_trip_for_any_key(d):
    key = SM2PrivateKey.from_raw(_d_bytes(d))
    assert SM2PrivateKey.from_pem(key.to_pem()).to_raw() == _d_bytes(d)
    assert SM2PublicKey.from_pem(key.public_key().to_pem()) == key.public_key()
    assert SM2PublicKey.from_raw(key.public_key().to_raw()) == key.public_key()


def test_generated_keys_interoperate():
    for _ in range(20):
        key = SM2PrivateKey.generate()
        d = int.from_bytes(key.to_raw(), "big")
        assert 1 <= d <= N - 2
        raw = key.sign(b"generated", fmt="raw")
        assert _gmalg_pub(key.public_key().to_raw()).verify(b"generated", raw[:32], raw[32:])
