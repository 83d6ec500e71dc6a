"""SM2 through the system libcrypto: standard vectors, key formats, signature and ciphertext formats."""

from __future__ import annotations

import shutil
import subprocess
import threading

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tongban.crypto import _der, sm2
from tongban.crypto.errors import DecryptionError, KeyFormatError
from tongban.crypto.sm2 import DEFAULT_UID, N, SM2PrivateKey, SM2PublicKey

# GB/T 32918.5-2017 (GM/T 0003.5-2012) Annex A, over sm2p256v1.
STD_D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
STD_PUB = bytes.fromhex(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
STD_ZA = bytes.fromhex("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
STD_E = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
STD_RS = bytes.fromhex(
    "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
    "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
)
# Annex C "encryption standard", serialised per GM/T 0009 as in OpenSSL's test/sm2_internal_test.c.
STD_CIPHER_DER = bytes.fromhex(
    "307C"
    "022004EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73"
    "022100E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0"
    "042059983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"
    "041321886CA989CA9C7D58087307CA93092D651EFA"
)
STD_CIPHER_C1C3C2 = bytes.fromhex(
    "04"
    "04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73"
    "E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0"
    "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"
    "21886CA989CA9C7D58087307CA93092D651EFA"
)


@pytest.fixture(scope="module")
def std_key() -> SM2PrivateKey:
    return SM2PrivateKey.from_raw(STD_D)


# --- known answers ---------------------------------------------------------------------------------


def test_public_key_derivation_from_d(std_key):
    assert std_key.public_key().to_raw() == STD_PUB


def test_za_and_e_match_the_standard():
    assert sm2.compute_z(STD_PUB, b"1234567812345678") == STD_ZA
    assert sm2.message_digest(STD_PUB, b"message digest") == STD_E


def test_standard_signature_verifies():
    pub = SM2PublicKey.from_raw(STD_PUB)
    assert pub.verify(STD_RS, b"message digest", fmt="raw")
    assert pub.verify(sm2.signature_raw_to_der(STD_RS), b"message digest")


def test_standard_signature_needs_the_default_uid():
    # The ID is part of what is signed: OpenSSL's implicit empty ID must never be in effect.
    pub = SM2PublicKey.from_raw(STD_PUB)
    assert not pub.verify(STD_RS, b"message digest", fmt="raw", uid=b"")
    assert not pub.verify(STD_RS, b"message digest", fmt="raw", uid=b"ALICE123@YAHOO.COM")


def test_standard_ciphertext_decrypts(std_key):
    assert std_key.decrypt(STD_CIPHER_DER) == b"encryption standard"
    assert std_key.decrypt(STD_CIPHER_C1C3C2, fmt="c1c3c2") == b"encryption standard"
    assert sm2.ciphertext_der_to_raw(STD_CIPHER_DER) == STD_CIPHER_C1C3C2
    assert sm2.ciphertext_raw_to_der(STD_CIPHER_C1C3C2) == STD_CIPHER_DER


# --- signatures -------------------------------------------------------------------------------------


def test_sign_verify_round_trip_and_randomisation():
    key = SM2PrivateKey.generate()
    pub = key.public_key()
    a, b = key.sign(b"payload"), key.sign(b"payload")
    assert a != b
    assert pub.verify(a, b"payload") and pub.verify(b, b"payload")
    assert not pub.verify(a, b"payloaD")
    assert not SM2PrivateKey.generate().public_key().verify(a, b"payload")


@pytest.mark.parametrize("uid", [b"", b"ALICE123@YAHOO.COM", b"x" * 8190])
def test_sign_with_other_uids(uid):
    key = SM2PrivateKey.generate()
    sig = key.sign(b"m", uid=uid)
    assert key.public_key().verify(sig, b"m", uid=uid)
    assert not key.public_key().verify(sig, b"m")


def test_uid_limits():
    key = SM2PrivateKey.generate()
    with pytest.raises(ValueError):
        key.sign(b"m", uid=b"x" * 8191)
    with pytest.raises(TypeError):
        key.sign(b"m", uid="1234567812345678")  # type: ignore[arg-type]


def test_signature_formats():
    key = SM2PrivateKey.generate()
    raw = key.sign(b"m", fmt="raw")
    der = sm2.signature_raw_to_der(raw)
    assert len(raw) == 64 and der[0] == 0x30
    assert sm2.signature_der_to_raw(der) == raw
    assert key.public_key().verify(der, b"m")
    assert key.public_key().verify(raw, b"m", fmt="raw")
    assert not key.public_key().verify(der, b"m", fmt="raw")
    assert not key.public_key().verify(raw, b"m", fmt="der")


def test_small_r_and_s_are_padded_in_raw_form():
    der = _der.encode_signature(1, 2)
    assert sm2.signature_der_to_raw(der) == (1).to_bytes(32, "big") + (2).to_bytes(32, "big")


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x30\x00",
        b"\x30\x06\x02\x01\x01\x02\x01\x01\x00",  # length mismatch
        b"\x30\x06\x02\x01\x01\x02\x01\x01" + b"\x00",  # trailing byte
        b"\x30\x07\x02\x02\x00\x01\x02\x01\x01",  # non-minimal INTEGER
        b"\x30\x06\x02\x01\xff\x02\x01\x01",  # negative
        b"\x30\x81\x06\x02\x01\x01\x02\x01\x01",  # non-minimal length
        b"\x30\x06\x02\x01\x00\x02\x01\x01",  # r = 0
    ],
)
def test_malformed_der_signatures(bad):
    with pytest.raises(KeyFormatError):
        sm2.signature_der_to_raw(bad)
    assert not SM2PublicKey.from_raw(STD_PUB).verify(bad, b"message digest")


def test_non_canonical_der_of_a_valid_signature_is_rejected():
    pub = SM2PublicKey.from_raw(STD_PUB)
    r, s = STD_RS[:32], STD_RS[32:]
    # both INTEGERs have the top bit set, so DER needs a 00 pad; BER-ish 33-byte forms with extra 00s are not DER
    padded = b"\x30\x48\x02\x22\x00\x00" + r + b"\x02\x22\x00\x00" + s
    assert not pub.verify(padded, b"message digest")
    assert not pub.verify(sm2.signature_raw_to_der(STD_RS) + b"\x00", b"message digest")


def test_raw_signature_out_of_range_is_invalid_not_an_error():
    pub = SM2PublicKey.from_raw(STD_PUB)
    assert not pub.verify(N.to_bytes(32, "big") + STD_RS[32:], b"message digest", fmt="raw")
    assert not pub.verify(b"\x00" * 64, b"message digest", fmt="raw")
    assert not pub.verify(STD_RS[:-1], b"message digest", fmt="raw")


# --- encryption ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["der", "c1c3c2", "c1c2c3"])
def test_encrypt_decrypt_each_format(fmt):
    key = SM2PrivateKey.generate()
    ct = key.public_key().encrypt(b"a session key 0123456789abcdef", fmt=fmt)
    assert key.decrypt(ct, fmt=fmt) == b"a session key 0123456789abcdef"
    if fmt != "der":
        assert len(ct) == 97 + 30 and ct[0] == 4


def test_ciphertext_order_conversion():
    raw_c1c2c3 = sm2.ciphertext_der_to_raw(STD_CIPHER_DER, "c1c2c3")
    assert raw_c1c2c3 == STD_CIPHER_C1C3C2[:65] + STD_CIPHER_C1C3C2[97:] + STD_CIPHER_C1C3C2[65:97]
    assert sm2.ciphertext_raw_to_der(raw_c1c2c3, "c1c2c3") == STD_CIPHER_DER


def test_tampered_ciphertexts_are_rejected(std_key):
    for i in (5, 40, 80, len(STD_CIPHER_DER) - 1):  # x1, y1, C3, C2
        bad = bytearray(STD_CIPHER_DER)
        bad[i] ^= 1
        with pytest.raises(DecryptionError):
            std_key.decrypt(bytes(bad))
    with pytest.raises(DecryptionError):
        std_key.decrypt(STD_CIPHER_DER + b"\x00")  # trailing data (OpenSSL alone would accept it)
    with pytest.raises(DecryptionError):
        std_key.decrypt(STD_CIPHER_DER[:-1])
    with pytest.raises(DecryptionError):
        SM2PrivateKey.generate().decrypt(STD_CIPHER_DER)  # another key
    with pytest.raises(DecryptionError):
        std_key.decrypt(STD_CIPHER_C1C3C2, fmt="c1c2c3")  # wrong order


def test_empty_plaintext_is_refused():
    with pytest.raises(ValueError):
        SM2PrivateKey.generate().public_key().encrypt(b"")


# --- keys ---------------------------------------------------------------------------------------------


def test_raw_key_round_trips(std_key):
    assert std_key.to_raw() == STD_D
    assert SM2PublicKey.from_raw(STD_PUB) == std_key.public_key()
    assert hash(SM2PublicKey.from_raw(STD_PUB)) == hash(std_key.public_key())
    key = SM2PrivateKey.generate()
    assert SM2PrivateKey.from_raw(key.to_raw()).public_key() == key.public_key()


def test_pem_round_trips(std_key):
    pem = std_key.to_pem()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    assert SM2PrivateKey.from_pem(pem).to_raw() == STD_D
    assert SM2PrivateKey.from_pem(pem.decode()).to_raw() == STD_D
    pub_pem = std_key.public_key().to_pem()
    assert pub_pem.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert SM2PublicKey.from_pem(pub_pem) == std_key.public_key()


def test_pem_carries_the_sm2_curve_oid(std_key):
    # id-ecPublicKey (1.2.840.10045.2.1) with namedCurve sm2p256v1 (1.2.156.10197.1.301)
    import base64

    body = b"".join(std_key.public_key().to_pem().splitlines()[1:-1])
    der = base64.b64decode(body)
    assert bytes.fromhex("06082a811ccf5501822d") in der
    assert bytes.fromhex("06072a8648ce3d0201") in der


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_reads_keys_made_by_the_openssl_command(tmp_path):
    path = tmp_path / "k.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "SM2", "-out", str(path)], check=True)
    key = SM2PrivateKey.from_pem(path.read_bytes())
    pub_pem = subprocess.run(
        ["openssl", "pkey", "-in", str(path), "-pubout"], check=True, capture_output=True
    ).stdout
    assert SM2PublicKey.from_pem(pub_pem) == key.public_key()
    # and the openssl command verifies our signature (it uses the ID we give it explicitly)
    msg, sig = tmp_path / "m", tmp_path / "s"
    msg.write_bytes(b"interop")
    sig.write_bytes(key.sign(b"interop"))
    result = subprocess.run(
        [
            "openssl",
            "pkeyutl",
            "-verify",
            "-in",
            str(msg),
            "-rawin",
            "-digest",
            "sm3",
            "-pubin",
            "-inkey",
            "/dev/stdin",
            "-sigfile",
            str(sig),
            "-pkeyopt",
            "distid:1234567812345678",
        ],
        input=pub_pem,
        capture_output=True,
    )
    assert b"Signature Verified Successfully" in result.stdout, result.stderr


def test_rejects_a_p256_pem():
    p256 = ec.generate_private_key(ec.SECP256R1())
    priv_pem = p256.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pub_pem = p256.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(KeyFormatError):
        SM2PrivateKey.from_pem(priv_pem)
    with pytest.raises(KeyFormatError):
        SM2PublicKey.from_pem(pub_pem)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_encrypted_pem_fails_without_prompting(tmp_path):
    path = tmp_path / "enc.pem"
    subprocess.run(
        [
            "openssl",
            "genpkey",
            "-algorithm",
            "SM2",
            "-aes-128-cbc",
            "-pass",
            "pass:secret",
            "-out",
            str(path),
        ],
        check=True,
    )
    with pytest.raises(KeyFormatError):
        SM2PrivateKey.from_pem(path.read_bytes())


def test_garbage_pem_is_rejected():
    with pytest.raises(KeyFormatError):
        SM2PrivateKey.from_pem(b"not a pem")
    with pytest.raises(KeyFormatError):
        SM2PrivateKey.from_pem("-----BEGIN PRIVATE KEY-----\n密钥\n-----END PRIVATE KEY-----\n")
    with pytest.raises(KeyFormatError):
        SM2PublicKey.from_pem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")


@pytest.mark.parametrize("d", [0, N - 1, N, 2**256 - 1])
def test_private_key_range(d):
    with pytest.raises(KeyFormatError):
        SM2PrivateKey.from_raw(d.to_bytes(32, "big"))


def test_private_key_length():
    with pytest.raises(KeyFormatError):
        SM2PrivateKey.from_raw(STD_D[1:])


def test_boundary_private_keys_work():
    for d in (1, N - 2):
        key = SM2PrivateKey.from_raw(d.to_bytes(32, "big"))
        assert key.public_key().verify(key.sign(b"edge"), b"edge")


@pytest.mark.parametrize(
    "bad",
    [
        STD_PUB[:-1],
        b"\x02" + STD_PUB[1:33],  # compressed form is not accepted
        b"\x05" + STD_PUB[1:],
        STD_PUB[:-1] + bytes([STD_PUB[-1] ^ 1]),  # off the curve
        b"\x04" + b"\x00" * 64,
        b"\x04" + (sm2.P).to_bytes(32, "big") + STD_PUB[33:],  # x >= p
    ],
)
def test_invalid_public_keys(bad):
    with pytest.raises(KeyFormatError):
        SM2PublicKey.from_raw(bad)


def test_repr_never_shows_the_secret(std_key):
    assert STD_D.hex() not in repr(std_key).lower()


def test_key_objects_are_shared_safely_between_threads():
    key = SM2PrivateKey.generate()
    pub = key.public_key()
    errors: list[str] = []

    def work(n: int) -> None:
        for i in range(60):
            msg = f"{n}:{i}".encode()
            sig = key.sign(msg)
            if not pub.verify(sig, msg) or pub.verify(sig, msg + b"x"):
                errors.append(f"signature {n}:{i}")
            if key.decrypt(pub.encrypt(msg)) != msg:
                errors.append(f"ciphertext {n}:{i}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_default_uid_constant():
    assert DEFAULT_UID == b"1234567812345678"
