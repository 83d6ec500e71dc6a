"""SM2SM3 JWS through jwcrypto, and the pinned verification API (alg confusion, "none", tampering)."""

from __future__ import annotations

import json

import gmalg
import pytest
from jwcrypto import jwk, jws
from jwcrypto.common import base64url_decode, base64url_encode

from tongban.crypto import jose
from tongban.crypto.errors import KeyFormatError
from tongban.crypto.jose import JWSError, jws_header, jws_sign, jws_verify, sm2_jwk_from_keypair
from tongban.crypto.sm2 import DEFAULT_UID, SM2PrivateKey


@pytest.fixture(scope="module")
def sm2_key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


@pytest.fixture(scope="module")
def sm2_private_jwk(sm2_key) -> jwk.JWK:
    return sm2_jwk_from_keypair(sm2_key, kid="sm2-1")


@pytest.fixture(scope="module")
def sm2_public_jwk(sm2_private_jwk) -> jwk.JWK:
    return jwk.JWK.from_json(sm2_private_jwk.export_public())


@pytest.fixture(scope="module")
def p256_jwk() -> jwk.JWK:
    return jwk.JWK.generate(kty="EC", crv="P-256", kid="p256-1")


def _b64(obj: object) -> str:
    return base64url_encode(json.dumps(obj).encode())


def test_jwk_shape(sm2_key, sm2_private_jwk, sm2_public_jwk):
    public = json.loads(sm2_private_jwk.export_public())
    assert public["kty"] == "EC" and public["crv"] == "SM2" and public["alg"] == "SM2SM3"
    assert "d" not in public and public["kid"] == "sm2-1"
    raw = sm2_key.public_key().to_raw()
    assert base64url_decode(public["x"]) == raw[1:33] and base64url_decode(public["y"]) == raw[33:]
    assert base64url_decode(sm2_private_jwk["d"]) == sm2_key.to_raw()
    assert sm2_jwk_from_keypair(public_key=sm2_key.public_key()).get("d") is None
    # default kid is the RFC 7638 thumbprint
    assert sm2_jwk_from_keypair(sm2_key)["kid"] == sm2_public_jwk.thumbprint()


def test_sign_and_verify(sm2_private_jwk, sm2_public_jwk):
    token = jws_sign(b'{"sub":"abc"}', sm2_private_jwk, "SM2SM3", headers={"typ": "JWT"})
    assert jws_header(token) == {"typ": "JWT", "alg": "SM2SM3", "kid": "sm2-1"}
    assert jws_verify(token, sm2_public_jwk, ["SM2SM3"]) == b'{"sub":"abc"}'
    assert jws_verify(token, sm2_public_jwk, ["ES256", "SM2SM3"]) == b'{"sub":"abc"}'


def test_signature_is_sm2_over_the_signing_input_with_the_default_id(sm2_key, sm2_private_jwk):
    token = jws_sign(b"payload", sm2_private_jwk, "SM2SM3")
    header_b64, payload_b64, sig_b64 = token.split(".")
    signature = base64url_decode(sig_b64)
    assert len(signature) == 64  # r || s
    signing_input = f"{header_b64}.{payload_b64}".encode()
    other = gmalg.SM2(pk=sm2_key.public_key().to_raw(), uid=DEFAULT_UID)
    assert other.verify(signing_input, signature[:32], signature[32:])


def test_a_token_signed_by_gmalg_verifies(sm2_key, sm2_public_jwk):
    header_b64 = _b64({"alg": "SM2SM3"})
    payload_b64 = base64url_encode(b"from elsewhere")
    r, s = gmalg.SM2(sk=sm2_key.to_raw(), uid=DEFAULT_UID).sign(f"{header_b64}.{payload_b64}".encode())
    sig = base64url_encode(r.rjust(32, b"\0") + s.rjust(32, b"\0"))
    assert jws_verify(f"{header_b64}.{payload_b64}.{sig}", sm2_public_jwk, ["SM2SM3"]) == b"from elsewhere"


def test_es256_still_works_through_the_same_api(p256_jwk):
    token = jws_sign(b"hello", p256_jwk, "ES256")
    public = jwk.JWK.from_json(p256_jwk.export_public())
    assert jws_verify(token, public, ["ES256"]) == b"hello"


# --- pinning and algorithm confusion -------------------------------------------------------------------


def test_sm2sm3_token_rejected_when_only_es256_allowed(sm2_private_jwk, sm2_public_jwk):
    token = jws_sign(b"x", sm2_private_jwk, "SM2SM3")
    with pytest.raises(JWSError, match="not accepted"):
        jws_verify(token, sm2_public_jwk, ["ES256"])


def test_es256_token_rejected_when_only_sm2sm3_allowed(p256_jwk):
    token = jws_sign(b"x", p256_jwk, "ES256")
    with pytest.raises(JWSError):
        jws_verify(token, jwk.JWK.from_json(p256_jwk.export_public()), ["SM2SM3"])


def test_none_is_rejected(sm2_public_jwk):
    unsigned = f"{_b64({'alg': 'none'})}.{base64url_encode(b'admin')}."
    with pytest.raises(JWSError):
        jws_verify(unsigned, sm2_public_jwk, ["SM2SM3"])
    with pytest.raises(ValueError):
        jws_verify(unsigned, sm2_public_jwk, ["none"])
    with pytest.raises(ValueError):
        jws_sign(b"x", sm2_public_jwk, "none")


def test_allowed_algs_must_be_explicit(sm2_private_jwk, sm2_public_jwk):
    token = jws_sign(b"x", sm2_private_jwk, "SM2SM3")
    with pytest.raises(ValueError):
        jws_verify(token, sm2_public_jwk, [])
    with pytest.raises(TypeError):
        jws_verify(token, sm2_public_jwk, "SM2SM3")
    with pytest.raises(ValueError):
        jws_verify(token, sm2_public_jwk, ["SM2SM4"])


def test_hs256_with_the_public_key_as_secret_is_rejected(sm2_public_jwk):
    # The classic confusion: an attacker MACs with the published key material.
    secret = jwk.JWK(kty="oct", k=sm2_public_jwk["x"])
    forged = jws.JWS(b"admin")
    forged.add_signature(secret, alg="HS256", protected=json.dumps({"alg": "HS256"}))
    token = forged.serialize(compact=True)
    with pytest.raises(JWSError):
        jws_verify(token, sm2_public_jwk, ["SM2SM3"])
    with pytest.raises(JWSError):
        jws_verify(token, sm2_public_jwk, ["SM2SM3", "HS256"])  # the key is bound to SM2SM3


def test_an_sm2_key_is_not_used_for_es256(sm2_key, p256_jwk):
    unbound = sm2_jwk_from_keypair(public_key=sm2_key.public_key())
    del unbound["alg"]
    token = jws_sign(b"x", p256_jwk, "ES256")
    with pytest.raises(JWSError):
        jws_verify(token, unbound, ["ES256"])


def test_a_p256_key_is_not_used_for_sm2sm3(sm2_private_jwk, p256_jwk):
    token = jws_sign(b"x", sm2_private_jwk, "SM2SM3")
    with pytest.raises(JWSError):
        jws_verify(token, jwk.JWK.from_json(p256_jwk.export_public()), ["SM2SM3"])
    with pytest.raises(JWSError):
        jws_sign(b"x", p256_jwk, "SM2SM3")


def test_jwcrypto_defaults_do_not_accept_sm2sm3(sm2_private_jwk, sm2_public_jwk):
    assert "SM2SM3" not in jws.default_allowed_algs
    token = jws_sign(b"x", sm2_private_jwk, "SM2SM3")
    plain = jws.JWS()
    with pytest.raises(Exception):  # noqa: B017 - any jwcrypto error will do
        plain.deserialize(token, key=sm2_public_jwk)


# --- tampering, formats, keys --------------------------------------------------------------------------


def test_tampered_tokens_are_rejected(sm2_private_jwk, sm2_public_jwk):
    token = jws_sign(b'{"amount":100}', sm2_private_jwk, "SM2SM3")
    header_b64, payload_b64, sig_b64 = token.split(".")
    sig = bytearray(base64url_decode(sig_b64))
    sig[10] ^= 1
    other_payload = base64url_encode(b'{"amount":999}')
    for bad in (
        f"{header_b64}.{other_payload}.{sig_b64}",
        f"{header_b64}.{payload_b64}.{base64url_encode(bytes(sig))}",
        f"{_b64({'alg': 'SM2SM3', 'kid': 'other'})}.{payload_b64}.{sig_b64}",
        f"{header_b64}.{payload_b64}.{sig_b64[:-4]}",
        f"{header_b64}.{payload_b64}",
        "not a token",
    ):
        with pytest.raises(JWSError):
            jws_verify(bad, sm2_public_jwk, ["SM2SM3"])


def test_another_sm2_key_does_not_verify(sm2_private_jwk):
    token = jws_sign(b"x", sm2_private_jwk, "SM2SM3")
    stranger = sm2_jwk_from_keypair(public_key=SM2PrivateKey.generate().public_key())
    with pytest.raises(JWSError):
        jws_verify(token, stranger, ["SM2SM3"])


def test_json_serialisation_is_not_accepted(sm2_private_jwk, sm2_public_jwk):
    obj = jws.JWS(b"x")
    obj.allowed_algs = ["SM2SM3"]
    obj.add_signature(sm2_private_jwk, alg="SM2SM3", protected=json.dumps({"alg": "SM2SM3"}))
    with pytest.raises(JWSError):
        jws_verify(obj.serialize(), sm2_public_jwk, ["SM2SM3"])


def test_key_set_picks_by_algorithm(sm2_private_jwk, sm2_public_jwk, p256_jwk):
    keys = jwk.JWKSet()
    keys.add(sm2_public_jwk)
    keys.add(jwk.JWK.from_json(p256_jwk.export_public()))
    allowed = ["SM2SM3", "ES256"]
    assert jws_verify(jws_sign(b"a", sm2_private_jwk, "SM2SM3"), keys, allowed) == b"a"
    assert jws_verify(jws_sign(b"b", p256_jwk, "ES256"), keys, allowed) == b"b"


def test_key_use_restrictions(sm2_key):
    enc_only = sm2_jwk_from_keypair(sm2_key)
    enc_only["use"] = "enc"
    with pytest.raises(JWSError):
        jws_sign(b"x", enc_only, "SM2SM3")
    verify_only = sm2_jwk_from_keypair(sm2_key)
    verify_only["key_ops"] = ["verify"]
    with pytest.raises(JWSError):
        jws_sign(b"x", verify_only, "SM2SM3")


def test_mismatched_private_jwk_is_refused(sm2_key):
    bad = sm2_jwk_from_keypair(sm2_key)
    bad["d"] = base64url_encode(SM2PrivateKey.generate().to_raw())
    with pytest.raises(JWSError):
        jws_sign(b"x", bad, "SM2SM3")
    with pytest.raises(KeyFormatError):
        sm2_jwk_from_keypair(sm2_key, SM2PrivateKey.generate().public_key())


def test_register_is_idempotent():
    jose.register()
    jose.register()
    from jwcrypto.jwa import JWA

    assert JWA.signing_alg("SM2SM3").name == "SM2SM3"
