"""The code flow through Django's test client: discovery, PKCE, consent, token, ID token, userinfo,
refresh, and the claims a relying party receives."""

from __future__ import annotations

import pytest

from tests.sso.conftest import decode

pytestmark = pytest.mark.django_db


def test_discovery_and_jwks(client):
    doc = client.get("/.well-known/openid-configuration").json()
    assert doc["issuer"] == "http://testserver"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["subject_types_supported"] == ["pairwise"]
    assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]
    from tongban.face.matcher import available

    # l3 (实人) where the optional extra `face` is installed (tests/face/test_unavailable.py: without it)
    assert doc["acr_values_supported"] == ["urn:tongban:acr:l1", "urn:tongban:acr:l2"] + (
        ["urn:tongban:acr:l3"] if available() else [])
    keys = client.get("/o/jwks/").json()["keys"]
    assert {k["alg"] for k in keys} == {"ES256", "RS256", "SM2SM3"}
    assert all("d" not in k for k in keys)


def test_code_flow_gives_pairwise_sub_acr_and_consented_claims(flow, person):
    code = flow.code()
    answer = flow.token(code)
    assert answer.status_code == 200, answer.content
    tokens = answer.json()
    claims = decode(tokens["id_token"])
    assert claims["aud"] == flow.client.client_id
    assert claims["acr"] == "urn:tongban:acr:l2"
    assert claims["amr"] == ["pwd"]
    assert claims["nonce"] == flow.nonce
    assert claims["sid"]
    assert len(claims["sub"]) == 26 and str(person.pk) != claims["sub"]
    info = flow.http.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").json()
    assert info["sub"] == claims["sub"]
    assert info["name"] == "张三丰"
    assert info["id_number_masked"].startswith("330") and "*" in info["id_number_masked"]
    assert "id_number" not in info and "phone_number" not in info
    refreshed = flow.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.content
    again = refreshed.json()
    assert again["refresh_token"] != tokens["refresh_token"]
    assert decode(again["id_token"])["sub"] == claims["sub"]
