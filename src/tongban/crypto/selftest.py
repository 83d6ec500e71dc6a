"""Start-up known-answer tests (GB/T 39786 / GM/T 0028-style power-on self-test).

`run_selftest()` checks every algorithm the platform relies on against published vectors in a
few milliseconds; the crypto app runs it in `ready()` and the platform refuses to start if any
fails. The same vectors are asserted, more thoroughly, in tests/crypto.

Sources of the vectors:
  SM3        GB/T 32905-2016 Appendix A, examples 1 ("abc") and 2 ("abcd" x 16).
  HMAC-SM3   RFC 4231 test cases 1 and 2 inputs over SM3 (the values published by GmSSL and
             Bouncy Castle's HMacTest; also reproduced by OpenSSL 3 `openssl mac`).
  SM4        GB/T 32907-2016 Appendix A, example 1.
  SM4-GCM    RFC 8998 Appendix A.1.
  SM2        GB/T 32918.5-2017 (= GM/T 0003.5-2012) Annex A over sm2p256v1: the key pair, Z_A,
             e and the signature (r, s) of "message digest" with ID "1234567812345678", and
             the ciphertext of "encryption standard" (C.2), in GM/T 0009 DER as in OpenSSL's
             test/sm2_internal_test.c.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from tongban.crypto import sm2, sm3, sm4
from tongban.crypto.errors import CryptoSelfTestError, DecryptionError

SM3_VECTORS: list[tuple[bytes, str]] = [
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
]

HMAC_SM3_VECTORS: list[tuple[bytes, bytes, str]] = [
    (b"\x0b" * 20, b"Hi There", "51b00d1fb49832bfb01c3ce27848e59f871d9ba938dc563b338ca964755cce70"),
    (
        b"Jefe",
        b"what do ya want for nothing?",
        "2e87f1d16862e6d964b50a5200bf2b10b764faa9680a296a2405f24bec39f882",
    ),
]

SM4_BLOCK_VECTOR = {
    "key": "0123456789abcdeffedcba9876543210",
    "plaintext": "0123456789abcdeffedcba9876543210",
    "ciphertext": "681edf34d206965e86b3e94f536e4246",
}

SM4_GCM_VECTOR = {  # RFC 8998 A.1
    "key": "0123456789ABCDEFFEDCBA9876543210",
    "iv": "00001234567800000000ABCD",
    "aad": "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2",
    "plaintext": "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
    "ciphertext": "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
    "tag": "83DE3541E4C2B58177E065A9BF7B62EC",
}

SM2_VECTOR: dict[str, str] = {  # GB/T 32918.5-2017 Annex A / GM/T 0003.5-2012
    "d": "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8",
    "public": "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13",
    "uid": "1234567812345678",  # ASCII
    "message": "message digest",  # ASCII
    "za": "B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3",
    "e": "F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640",
    "k": "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21",  # not injectable
    "r": "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3",
    "s": "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA",
    "enc_message": "encryption standard",  # ASCII
    "enc_der": "307C"
    "0220"
    "04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73"
    "0221"
    "00E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0"
    "0420"
    "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"
    "0413"
    "21886CA989CA9C7D58087307CA93092D651EFA",
}


def _expect(algorithm: str, condition: bool, what: str) -> None:
    if not condition:
        raise CryptoSelfTestError(algorithm, what)


def _check_sm3() -> None:
    for data, expected in SM3_VECTORS:
        _expect("SM3", sm3.sm3(data).hex() == expected.lower(), f"digest of {len(data)}-byte vector differs")
        h = sm3.SM3Hash(data[:1])
        h.update(data[1:])
        _expect("SM3", h.hexdigest() == expected.lower(), "incremental digest differs")


def _check_hmac_sm3() -> None:
    for key, data, expected in HMAC_SM3_VECTORS:
        _expect("HMAC-SM3", sm3.hmac_sm3(key, data).hex() == expected.lower(), "tag differs")
        _expect(
            "HMAC-SM3",
            sm3.hmac_sm3_verify(key, data, bytes.fromhex(expected)),
            "verify rejects the known tag",
        )
        _expect(
            "HMAC-SM3",
            not sm3.hmac_sm3_verify(key, data + b"x", bytes.fromhex(expected)),
            "verify accepts a wrong tag",
        )


def _check_sm4() -> None:
    v = {k: bytes.fromhex(x) for k, x in SM4_BLOCK_VECTOR.items()}
    _expect(
        "SM4", sm4.sm4_encrypt_block(v["key"], v["plaintext"]) == v["ciphertext"], "block encryption differs"
    )
    _expect(
        "SM4", sm4.sm4_decrypt_block(v["key"], v["ciphertext"]) == v["plaintext"], "block decryption differs"
    )


def _check_sm4_gcm() -> None:
    v = {k: bytes.fromhex(x) for k, x in SM4_GCM_VECTOR.items()}
    cipher = sm4.SM4GCM(v["key"])
    sealed = cipher.seal(v["iv"], v["plaintext"], v["aad"])
    _expect("SM4-GCM", sealed == v["ciphertext"] + v["tag"], "RFC 8998 A.1 ciphertext or tag differs")
    _expect(
        "SM4-GCM", cipher.open(v["iv"], sealed, v["aad"]) == v["plaintext"], "RFC 8998 A.1 decryption differs"
    )
    tampered = sealed[:-1] + bytes([sealed[-1] ^ 1])
    try:
        cipher.open(v["iv"], tampered, v["aad"])
    except DecryptionError:
        pass
    else:
        raise CryptoSelfTestError("SM4-GCM", "a tampered tag was accepted")
    blob = cipher.encrypt(b"self-test", b"aad")
    _expect("SM4-GCM", cipher.decrypt(blob, b"aad") == b"self-test", "random-nonce round trip failed")


def _check_sm2() -> None:
    v = SM2_VECTOR
    uid = v["uid"].encode()
    message = v["message"].encode()
    key = sm2.SM2PrivateKey.from_raw(bytes.fromhex(v["d"]))
    pub = key.public_key()
    _expect("SM2", pub.to_raw() == bytes.fromhex(v["public"]), "public key derived from d differs")
    _expect("SM2", sm2.compute_z(pub.to_raw(), uid) == bytes.fromhex(v["za"]), "Z_A differs")
    _expect("SM2", sm2.message_digest(pub.to_raw(), message, uid) == bytes.fromhex(v["e"]), "e differs")
    signature = bytes.fromhex(v["r"] + v["s"])
    _expect(
        "SM2", pub.verify(signature, message, uid=uid, fmt="raw"), "the standard signature does not verify"
    )
    _expect(
        "SM2",
        not pub.verify(signature, message + b"!", uid=uid, fmt="raw"),
        "a signature verifies for another message",
    )
    _expect(
        "SM2",
        not pub.verify(signature, message, uid=b"", fmt="raw"),
        "a signature verifies under another user ID",
    )
    own = key.sign(b"tongban self-test")
    _expect("SM2", pub.verify(own, b"tongban self-test"), "sign/verify round trip failed")
    plaintext = key.decrypt(bytes.fromhex(v["enc_der"]))
    _expect("SM2", plaintext == v["enc_message"].encode(), "the standard ciphertext does not decrypt")
    ciphertext = pub.encrypt(b"self-test")
    _expect("SM2", key.decrypt(ciphertext) == b"self-test", "encrypt/decrypt round trip failed")


@dataclass(frozen=True)
class SelfTestReport:
    algorithms: tuple[str, ...]
    milliseconds: float
    libcrypto: str


CHECKS: list[tuple[str, Callable[[], None]]] = [
    ("SM3", _check_sm3),
    ("HMAC-SM3", _check_hmac_sm3),
    ("SM4", _check_sm4),
    ("SM4-GCM", _check_sm4_gcm),
    ("SM2", _check_sm2),
]


def run_selftest() -> SelfTestReport:
    """Run every known-answer test; raise CryptoSelfTestError naming the first that fails."""
    from tongban.crypto import _libcrypto

    started = time.perf_counter()
    for name, check in CHECKS:
        try:
            check()
        except CryptoSelfTestError:
            raise
        except Exception as exc:  # a missing library, an OpenSSL failure: still "this algorithm failed"
            raise CryptoSelfTestError(name, f"{type(exc).__name__}: {exc}") from exc
    elapsed = (time.perf_counter() - started) * 1000
    return SelfTestReport(tuple(name for name, _ in CHECKS), elapsed, _libcrypto.version_text())
