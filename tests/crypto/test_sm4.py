"""SM4 block (GB/T 32907) and SM4-GCM (RFC 8998) known answers, round trips and tamper detection."""

from __future__ import annotations

import os

import gmalg
import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

from tongban.crypto.errors import DecryptionError, KeyFormatError
from tongban.crypto.sm4 import (
    NONCE_SIZE,
    OVERHEAD,
    SM4GCM,
    TAG_SIZE,
    sm4_decrypt_block,
    sm4_encrypt_block,
    sm4_gcm_decrypt,
    sm4_gcm_encrypt,
)

K = bytes.fromhex("0123456789abcdeffedcba9876543210")

# RFC 8998 Appendix A.1
GCM_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
GCM_IV = bytes.fromhex("00001234567800000000ABCD")
GCM_AAD = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
GCM_PT = bytes.fromhex(
    "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
)
GCM_CT = bytes.fromhex(
    "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
)
GCM_TAG = bytes.fromhex("83DE3541E4C2B58177E065A9BF7B62EC")


def test_sm4_block_gbt32907_example_1():
    assert sm4_encrypt_block(K, K).hex() == "681edf34d206965e86b3e94f536e4246"
    assert sm4_decrypt_block(K, bytes.fromhex("681edf34d206965e86b3e94f536e4246")) == K


@pytest.mark.slow
def test_sm4_block_gbt32907_example_2_million_iterations():
    enc = Cipher(algorithms.SM4(K), modes.ECB()).encryptor()
    block = K
    for _ in range(1_000_000):
        block = enc.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"


@settings(max_examples=100, deadline=None)
@given(key=st.binary(min_size=16, max_size=16), block=st.binary(min_size=16, max_size=16))
def test_sm4_block_matches_gmalg(key, block):
    assert sm4_encrypt_block(key, block) == gmalg.SM4(key).encrypt(block)


def test_sm4_gcm_rfc8998_a1():
    cipher = SM4GCM(GCM_KEY)
    assert cipher.seal(GCM_IV, GCM_PT, GCM_AAD) == GCM_CT + GCM_TAG
    assert cipher.open(GCM_IV, GCM_CT + GCM_TAG, GCM_AAD) == GCM_PT
    # and the one-shot wire format: nonce || ciphertext || tag
    assert sm4_gcm_decrypt(GCM_KEY, GCM_IV + GCM_CT + GCM_TAG, GCM_AAD) == GCM_PT


def test_wire_format_and_fresh_nonces():
    key = os.urandom(16)
    a = sm4_gcm_encrypt(key, b"110101199003071234", b"accounts_citizen.id_number.42")
    b = sm4_gcm_encrypt(key, b"110101199003071234", b"accounts_citizen.id_number.42")
    assert len(a) == NONCE_SIZE + 18 + TAG_SIZE == OVERHEAD + 18
    assert a[:NONCE_SIZE] != b[:NONCE_SIZE] and a != b
    assert sm4_gcm_decrypt(key, a, b"accounts_citizen.id_number.42") == b"110101199003071234"


@settings(max_examples=100, deadline=None)
@given(plaintext=st.binary(max_size=300), aad=st.binary(max_size=64))
def test_round_trip(plaintext, aad):
    cipher = SM4GCM(os.urandom(16))
    assert cipher.decrypt(cipher.encrypt(plaintext, aad), aad) == plaintext


@settings(max_examples=100, deadline=None)
@given(plaintext=st.binary(max_size=120), aad=st.binary(max_size=40), data=st.data())
def test_any_single_bit_flip_is_rejected(plaintext, aad, data):
    cipher = SM4GCM(os.urandom(16))
    blob = bytearray(cipher.encrypt(plaintext, aad))
    position = data.draw(st.integers(0, len(blob) * 8 - 1))
    blob[position // 8] ^= 1 << (position % 8)
    with pytest.raises(DecryptionError):
        cipher.decrypt(bytes(blob), aad)


def test_wrong_aad_wrong_key_and_truncation_are_rejected():
    key = os.urandom(16)
    blob = sm4_gcm_encrypt(key, b"13800138000", b"row:1")
    with pytest.raises(DecryptionError):
        sm4_gcm_decrypt(key, blob, b"row:2")  # ciphertext moved to another row
    with pytest.raises(DecryptionError):
        sm4_gcm_decrypt(os.urandom(16), blob, b"row:1")
    with pytest.raises(DecryptionError):
        sm4_gcm_decrypt(key, blob[:-1], b"row:1")
    with pytest.raises(DecryptionError):
        sm4_gcm_decrypt(key, blob[: OVERHEAD - 1], b"row:1")


def test_bad_key_and_nonce_sizes():
    with pytest.raises(KeyFormatError):
        SM4GCM(b"short")
    with pytest.raises(KeyFormatError):
        SM4GCM(GCM_KEY).seal(b"\x00" * 16, b"x")
    assert "0123" not in repr(SM4GCM(GCM_KEY))
