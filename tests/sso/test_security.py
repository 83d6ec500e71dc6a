"""What a relying party must not get away with: wrong redirect URI, PKCE mismatch or absence, a code used
twice (its tokens revoked), tampered, expired and foreign tokens, a refresh token reused after rotation,
a level the person cannot reach; client authentication by secret and by private_key_jwt."""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from jwcrypto import jwk

from tests.sso.conftest import basic, decode, make_person, register
from tongban.crypto.jose import JWSError, jws_sign

pytestmark = pytest.mark.django_db


def test_wrong_redirect_uri_is_not_redirected_to(flow):
    url = flow.authorize_url().replace("rp.example.cn%2Fcb", "rp.example.cn%2Fcb%2Fevil")
    response = flow.http.get(url)
    assert response.status_code == 400
    assert "无效" in response.content.decode()
    prefix = flow.http.get(flow.authorize_url().replace("%2Fcb", "%2Fc"))
    assert prefix.status_code == 400  # exact match only: no prefixes


def test_pkce_is_required_and_checked(flow):
    url = flow.authorize_url().replace("code_challenge_method=S256", "code_challenge_method=plain")
    answer = parse_qs(urlsplit(flow.http.get(url)["Location"]).query)
    assert answer["error"] == ["invalid_request"]
    code = flow.code()
    wrong = flow.token(code, verifier="x" * 50)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


def test_code_used_twice_revokes_its_tokens(flow):
    code = flow.code()
    first = flow.token(code).json()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {first['access_token']}"}
    assert flow.http.get("/o/userinfo/", **bearer).status_code == 200
    again = flow.token(code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert flow.http.get("/o/userinfo/", **bearer).status_code == 401
    assert flow.refresh(first["refresh_token"]).json()["error"] == "invalid_grant"


def test_refresh_token_reused_after_rotation_kills_the_family(flow):
    tokens = flow.token(flow.code()).json()
    rotated = flow.refresh(tokens["refresh_token"]).json()
    reused = flow.refresh(tokens["refresh_token"])
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    assert flow.refresh(rotated["refresh_token"]).json()["error"] == "invalid_grant"
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {rotated['access_token']}"}
    assert flow.http.get("/o/userinfo/", **bearer).status_code == 401


def test_wrong_secret_and_secret_in_body_are_refused(flow):
    code = flow.code()
    response = flow.http.post("/o/token/", {"grant_type": "authorization_code", "code": code,
                                            "redirect_uri": flow.redirect_uri, "code_verifier": flow.verifier},
                              HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.secret + "x"))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    response = flow.http.post("/o/token/", {"grant_type": "authorization_code", "code": code,
                                            "redirect_uri": flow.redirect_uri, "code_verifier": flow.verifier,
                                            "client_id": flow.client.client_id, "client_secret": flow.secret})
    assert response.status_code == 401


def test_secret_is_stored_as_keyed_hash(rp):
    rp.client.refresh_from_db()
    assert rp.client.client_secret.startswith("hmac-sm3$")
    assert rp.secret not in rp.client.client_secret


def test_id_token_tampered_expired_or_for_another_audience_does_not_verify(flow):
    token = flow.token(flow.code()).json()["id_token"]
    header, payload, signature = token.split(".")
    forged = json.loads(__import__("base64").urlsafe_b64decode(payload + "=="))
    forged["sub"] = "someone-else"
    tampered = ".".join([header, __import__("base64").urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("="),
                         signature])
    with pytest.raises(JWSError):
        decode(tampered)
    claims = decode(token)
    assert claims["exp"] > time.time() and claims["exp"] - claims["iat"] == 3600
    other = register("另一应用", redirect="https://other.example.cn/cb")
    assert claims["aud"] != other.client.client_id
    # the provider's own check of an id_token_hint refuses a token that is not ours
    from tongban.sso.services import id_token_hint_claims

    assert id_token_hint_claims(tampered) is None
    assert id_token_hint_claims(token)["sub"] == claims["sub"]


def test_expired_access_token_is_refused(flow):
    from oauth2_provider.models import AccessToken

    tokens = flow.token(flow.code()).json()
    AccessToken.objects.update(expires=__import__("django.utils.timezone").utils.timezone.now())
    response = flow.http.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert response.status_code == 401


def test_acr_values_above_the_person_level(client, rp, db):
    from tests.sso.conftest import Flow

    person = make_person("l1", phone="13900000002", level=1, seq=2)
    client.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    flow = Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb")
    # L3 cannot be reached without interaction: the standard error (tests/face/test_sso.py: the step-up)
    l3 = register("L3 应用", redirect="https://l3.example.cn/cb", levels="1,2,3")
    flow3 = Flow(http=client, client=l3.client, secret=l3.secret, redirect_uri="https://l3.example.cn/cb")
    answer = flow3.run(acr_values="urn:tongban:acr:l3", prompt="none")
    assert answer["error"] == ["unmet_authentication_requirements"]
    # L2 with prompt=none: no interaction possible, the same error
    answer = flow.run(acr_values="urn:tongban:acr:l2", prompt="none")
    assert answer["error"] == ["unmet_authentication_requirements"]
    # L2 interactively: the person is led to verification, and giving up answers the error
    response = flow.http.get(flow.authorize_url(acr_values="urn:tongban:acr:l2"))
    response = flow.http.get(response["Location"])
    assert response.status_code == 302 and "/o/authorize/verify/" in response["Location"]
    page = flow.http.get(response["Location"])
    assert "实证" in page.content.decode()
    cancel = flow.http.post("/o/authorize/verify/", {"txn": page.context["txn"], "decision": "cancel"})
    assert parse_qs(urlsplit(cancel["Location"]).query)["error"] == ["unmet_authentication_requirements"]
    # reached: the ID token says so
    from tongban.accounts.models import CitizenProfile

    CitizenProfile.objects.filter(user=person).update(level=2)
    tokens = flow.token(flow.code(acr_values="urn:tongban:acr:l2")).json()
    assert decode(tokens["id_token"])["acr"] == "urn:tongban:acr:l2"


def test_pairwise_sub_differs_across_sectors_and_matches_within_one(client, person, db):
    from tests.sso.conftest import Flow

    client.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    subs = {}
    for name, host, sector in (("A", "a.example.cn", ""), ("B", "b.example.cn", ""), ("A2", "a2.example.cn", "a.example.cn")):
        reg = register(name, redirect=f"https://{host}/cb", sector_identifier=sector)
        flow = Flow(http=client, client=reg.client, secret=reg.secret, redirect_uri=f"https://{host}/cb")
        subs[name] = decode(flow.token(flow.code()).json()["id_token"])["sub"]
    assert subs["A"] != subs["B"]
    assert subs["A"] == subs["A2"]


def test_claims_need_scope_and_consent_and_consent_is_remembered_and_revocable(flow, person):
    flow.scope = "openid realname phone idcard"
    tokens = flow.token(flow.code()).json()
    info = flow.http.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").json()
    assert info["name"] == "张三丰" and info["phone_number"] == "+8613900000001"
    assert info["id_number"] == person.id_number
    # remembered: no consent screen the second time
    response = flow.follow(flow.http.get(flow.authorize_url()))
    assert response.status_code == 302 and response["Location"].startswith(flow.redirect_uri)
    # the read was audited with the client as the actor
    from tongban.audit.models import AuditEntry

    entry = AuditEntry.objects.filter(action="personal_data.read", actor_id=f"oidc:{flow.client.client_id}").first()
    assert entry is not None and entry.subject_id == str(person.pk)
    # revoked from the account page: tokens die, and the screen comes back
    page = flow.http.get("/me/authorizations/")
    assert "测试应用" in page.content.decode()
    consent_id = page.context["consents"][0]["id"]
    flow.http.post(f"/me/authorizations/{consent_id}/revoke/")
    assert flow.http.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}").status_code == 401
    response = flow.follow(flow.http.get(flow.authorize_url()))
    assert response.status_code == 200 and "授权确认" in response.content.decode()


def test_consent_screen_lists_exactly_what_is_shared(flow):
    flow.scope = "openid idcard_masked"
    response = flow.follow(flow.http.get(flow.authorize_url()))
    html = response.content.decode()
    assert "证件号码（部分隐藏）" in html and "330106" not in html.replace("330***", "")
    assert "真实姓名" not in html and "手机号码" not in html
    scopes = [item["scope"] for item in response.context["items"]]
    assert scopes == ["openid", "idcard_masked"]
    denied = flow.http.post("/o/authorize/continue/", {"txn": response.context["txn"], "decision": "deny"})
    assert parse_qs(urlsplit(denied["Location"]).query)["error"] == ["access_denied"]


def test_client_credentials(client, db):
    reg = register("系统间调用", client_credentials=True, scopes="api")
    response = client.post("/o/token/", {"grant_type": "client_credentials"},
                           HTTP_AUTHORIZATION=basic(reg.client.client_id, reg.secret))
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "api" and "id_token" not in response.json()
    from tongban.crypto.jose import jws_header

    token = response.json()["access_token"]
    assert jws_header(token)["typ"] == "at+jwt"
    claims = decode(token)  # a signed JWT (RFC 9068): resource servers check it against the JWKS
    assert claims["client_id"] == reg.client.client_id and claims["scope"] == "api"
    assert claims["exp"] - claims["iat"] == 600
    wrong = client.post("/o/token/", {"grant_type": "client_credentials"},
                        HTTP_AUTHORIZATION=basic(reg.client.client_id, reg.secret[:-1]))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    assert client.post("/o/token/", {"grant_type": "client_credentials"},
                       HTTP_AUTHORIZATION="Basic !!!").status_code == 401
    refused = client.post("/o/token/", {"grant_type": "client_credentials", "scope": "openid realname"},
                          HTTP_AUTHORIZATION=basic(reg.client.client_id, reg.secret))
    assert refused.status_code == 400
    plain = register("只走授权码")
    assert client.post("/o/token/", {"grant_type": "client_credentials"},
                       HTTP_AUTHORIZATION=basic(plain.client.client_id, plain.secret)).status_code in (400, 401)


def _assertion(key: jwk.JWK, client_id: str, aud: str, **extra) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 60,
              "jti": uuid.uuid4().hex, **extra}
    return jws_sign(json.dumps(claims).encode(), key, "ES256")


def test_private_key_jwt(client, db):
    key = jwk.JWK.generate(kty="EC", crv="P-256", kid="rp-1")
    public = json.loads(key.export_public())
    reg = register("私钥认证", client_credentials=True, scopes="api", auth_method="private_key_jwt",
                   jwks={"keys": [public]})
    aud = "http://testserver/o/token/"
    body = {"grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    assertion = _assertion(key, reg.client.client_id, aud)
    ok = client.post("/o/token/", {**body, "client_assertion": assertion})
    assert ok.status_code == 200, ok.content
    replay = client.post("/o/token/", {**body, "client_assertion": assertion})
    assert replay.status_code == 401
    stranger = jwk.JWK.generate(kty="EC", crv="P-256")
    assert client.post("/o/token/", {**body, "client_assertion": _assertion(stranger, reg.client.client_id, aud)}
                       ).status_code == 401
    assert client.post("/o/token/", {**body, "client_assertion": _assertion(key, reg.client.client_id,
                                                                            "https://elsewhere/")}).status_code == 401
    # a private_key_jwt client cannot fall back to a secret
    assert client.post("/o/token/", {"grant_type": "client_credentials"},
                       HTTP_AUTHORIZATION=basic(reg.client.client_id, reg.secret)).status_code == 401


def test_public_client_needs_no_secret_but_pkce(client, person, db):
    from tests.sso.conftest import Flow

    reg = register("移动应用", redirect="cn.gov.app:/cb", public=True)
    client.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    flow = Flow(http=client, client=reg.client, secret="", redirect_uri="cn.gov.app:/cb")
    code = flow.code()
    response = client.post("/o/token/", {"grant_type": "authorization_code", "code": code, "client_id": reg.client.client_id,
                                         "redirect_uri": flow.redirect_uri, "code_verifier": flow.verifier})
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("alg", ["RS256", "SM2SM3"])
def test_clients_may_choose_rs256_or_sm2sm3(client, person, alg, db):
    from tests.sso.conftest import Flow
    from tongban.crypto.jose import jws_header

    reg = register(f"{alg} 应用", redirect=f"https://{alg.lower()}.example.cn/cb", alg=alg)
    client.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    flow = Flow(http=client, client=reg.client, secret=reg.secret, redirect_uri=f"https://{alg.lower()}.example.cn/cb")
    token = flow.token(flow.code()).json()["id_token"]
    assert jws_header(token)["alg"] == alg
    assert decode(token)["aud"] == reg.client.client_id


def test_key_rotation_keeps_old_keys_published_until_their_tokens_expire(flow):
    import datetime as dt

    from django.utils import timezone

    from tongban.sso import signing
    from tongban.sso.models import SigningKey

    old_token = flow.token(flow.code()).json()["id_token"]
    old_kid = json.loads(__import__("base64").urlsafe_b64decode(old_token.split(".")[0] + "=="))["kid"]
    signing.signing_key_rotate(alg="ES256")
    signing.clear_cache()
    kids = {k["kid"] for k in signing.jwks()["keys"]}
    assert old_kid in kids and len([k for k in kids if k.startswith("es256")]) == 2
    assert decode(old_token)["aud"] == flow.client.client_id
    new_token = flow.token(flow.code()).json()["id_token"]
    assert json.loads(__import__("base64").urlsafe_b64decode(new_token.split(".")[0] + "=="))["kid"] != old_kid
    SigningKey.objects.filter(kid=old_kid).update(publish_until=timezone.now() - dt.timedelta(seconds=1))
    signing.clear_cache()
    assert old_kid not in {k["kid"] for k in signing.jwks()["keys"]}


def _authlib_decode(token: str, *, client_id: str):
    import warnings

    from tongban.sso import signing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from authlib.jose import JsonWebKey, jwt
        from authlib.oidc.core import CodeIDToken

        claims = jwt.decode(token, JsonWebKey.import_key_set(signing.jwks()), claims_cls=CodeIDToken,
                            claims_options={"aud": {"essential": True, "value": client_id}},
                            claims_params={"client_id": client_id})
    claims.validate()
    return claims


def test_a_relying_party_library_refuses_wrong_audience_and_expired_id_tokens(flow):
    from joserfc.errors import ExpiredTokenError, InvalidClaimError  # authlib.jose raises joserfc's errors

    from tongban.sso import signing

    token = flow.token(flow.code()).json()["id_token"]
    assert _authlib_decode(token, client_id=flow.client.client_id)["aud"] == flow.client.client_id
    other = register("另一应用", redirect="https://other.example.cn/cb")
    with pytest.raises(InvalidClaimError):
        _authlib_decode(token, client_id=other.client.client_id)  # issued to someone else
    claims = decode(token)
    expired = signing.sign({**claims, "iat": claims["iat"] - 7200, "exp": claims["iat"] - 3600}, alg="ES256")
    with pytest.raises(ExpiredTokenError):
        _authlib_decode(expired, client_id=flow.client.client_id)
