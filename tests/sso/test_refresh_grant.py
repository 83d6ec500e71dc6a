"""The purpose-built refresh_token grant (tongban.sso.grants): rotation, reuse detection, a concurrent double
use, the client the token belongs to, expiry, an ended sign-in, scope narrowing, the new ID token and access
token, private_key_jwt — each behaviour checked on the purpose-built path and on the general (oauthlib) path
it replaces, so that the two cannot drift apart; and the statement count on PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
import time
import uuid
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from jwcrypto import jwk

from tests.sso.conftest import Flow, basic, decode, refresh_twice_at_once, register
from tongban.crypto.jose import jws_sign

pytestmark = pytest.mark.django_db
ON_POSTGRESQL = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's row locks and statement")


@pytest.fixture(params=["fast", "general"])
def path(request, monkeypatch) -> str:
    """Which path answers refresh requests: the purpose-built grant (its answers counted), or oauthlib's."""
    from tongban.sso import grants

    real = grants.refresh_token_grant
    answered: list[int] = []

    def spy(http_request: Any) -> Any:
        response = real(http_request)
        if response is not None:
            answered.append(response.status_code)
        return response

    monkeypatch.setattr(grants, "refresh_token_grant", spy if request.param == "fast" else lambda _r: None)
    request.node.fast_answers = answered
    return str(request.param)


@pytest.fixture
def fast_answers(request, path) -> list[int]:
    return request.node.fast_answers  # type: ignore[no-any-return]


def _tokens(flow: Flow) -> dict[str, Any]:
    answer = flow.token(flow.code())
    assert answer.status_code == 200, answer.content
    return answer.json()  # type: ignore[no-any-return]


def _userinfo(flow: Flow, access_token: str) -> Any:
    return flow.http.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {access_token}")


def _checksum(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _refresh_row(token: str) -> Any:
    from oauth2_provider.models import RefreshToken

    return RefreshToken.objects.filter(token_checksum=_checksum(token)).order_by("-pk").first()


def test_rotation_gives_new_tokens_and_an_id_token_with_the_same_claims(flow, path, fast_answers):
    from oauth2_provider.models import AccessToken

    from tongban.sso.models import SessionParticipation

    first = _tokens(flow)
    before = decode(first["id_token"])
    answer = flow.refresh(first["refresh_token"])
    assert answer.status_code == 200, answer.content
    assert answer["Cache-Control"] == "no-store" and answer["Pragma"] == "no-cache"
    body = answer.json()
    assert list(body) == ["access_token", "expires_in", "token_type", "scope", "refresh_token", "id_token"]
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["scope"] == first["scope"]
    assert body["refresh_token"] != first["refresh_token"] and body["access_token"] != first["access_token"]
    assert re.fullmatch(r"[A-Za-z0-9]{30}", body["access_token"]) and re.fullmatch(r"[A-Za-z0-9]{30}",
                                                                                  body["refresh_token"])
    claims = decode(body["id_token"])
    for name in ("iss", "sub", "aud", "acr", "amr", "sid", "auth_time"):
        assert claims[name] == before[name], name
    assert "nonce" not in claims  # OIDC Core §12.2
    assert claims["exp"] - claims["iat"] == 3600 and claims["jti"] != before["jti"]
    digest = hashlib.sha256(body["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    # the old access token is gone; the new pair is stored hashed, in the same family
    assert _userinfo(flow, first["access_token"]).status_code == 401
    new_access = AccessToken.objects.get(token_checksum=_checksum(body["access_token"]))
    assert new_access.token == "" and new_access.scope == body["scope"]
    new_refresh = _refresh_row(body["refresh_token"])
    assert new_refresh.token == "" and new_refresh.access_token_id == new_access.pk
    old_refresh = _refresh_row(first["refresh_token"])
    assert old_refresh.revoked is not None and old_refresh.access_token_id is None
    assert new_access.source_refresh_token_id == old_refresh.pk
    assert new_refresh.token_family == old_refresh.token_family
    part = SessionParticipation.objects.get(refresh_family=new_refresh.token_family)
    assert part.access_token_id == new_access.pk  # a logout revokes the new access token too
    assert flow.refresh(first["refresh_token"]).json()["error"] == "invalid_grant"  # spent
    assert fast_answers in ([200, 400], [])


def test_the_new_access_token_works_at_userinfo_and_revocation(flow, path):
    first = _tokens(flow)
    body = flow.refresh(first["refresh_token"]).json()
    info = _userinfo(flow, body["access_token"])
    assert info.status_code == 200, info.content
    assert info.json()["sub"] == decode(body["id_token"])["sub"] and info.json()["name"] == "张三丰"
    revoked = flow.http.post("/o/revoke/", {"token": body["access_token"]},
                             HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.secret))
    assert revoked.status_code == 200
    assert _userinfo(flow, body["access_token"]).status_code == 401
    # RFC 7009 as DOT does it: revoking the access token revokes its refresh token too
    assert flow.refresh(body["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_chain_of_rotations(flow, path):
    tokens = _tokens(flow)
    sub = decode(tokens["id_token"])["sub"]
    for _ in range(4):
        answer = flow.refresh(tokens["refresh_token"])
        assert answer.status_code == 200, answer.content
        tokens = answer.json()
        assert decode(tokens["id_token"])["sub"] == sub
    assert _userinfo(flow, tokens["access_token"]).status_code == 200


def test_reuse_after_rotation_revokes_the_family(flow, path, fast_answers):
    first = _tokens(flow)
    second = flow.refresh(first["refresh_token"]).json()
    third = flow.refresh(second["refresh_token"]).json()
    reused = flow.refresh(first["refresh_token"])  # two generations back
    assert reused.status_code == 400 and reused.json() == {"error": "invalid_grant"}
    assert flow.refresh(third["refresh_token"]).json()["error"] == "invalid_grant"
    assert _userinfo(flow, third["access_token"]).status_code == 401
    assert _refresh_row(third["refresh_token"]).revoked is not None
    if path == "fast":
        assert fast_answers == [200, 200, 400, 400]


def test_a_token_of_another_client_is_refused_and_left_alone(flow, path):
    first = _tokens(flow)
    other = register("另一应用", redirect="https://other.example.cn/cb")
    stolen = flow.http.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                            HTTP_AUTHORIZATION=basic(other.client.client_id, other.secret))
    assert stolen.status_code == 400 and stolen.json() == {"error": "invalid_grant"}
    assert flow.refresh(first["refresh_token"]).status_code == 200  # its owner can still use it


def test_unknown_token_and_failed_client_authentication(flow, path):
    first = _tokens(flow)
    unknown = flow.refresh("not-a-token")
    assert unknown.status_code == 400 and unknown.json() == {"error": "invalid_grant"}
    wrong = flow.http.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                           HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.secret + "x"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    in_body = flow.http.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                           "client_id": flow.client.client_id, "client_secret": flow.secret})
    assert in_body.status_code == 401
    missing = flow.http.post("/o/token/", {"grant_type": "refresh_token"},
                             HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.secret))
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    assert flow.refresh(first["refresh_token"]).status_code == 200  # none of that spent it


def test_an_expired_token_is_refused(flow, path):
    from oauth2_provider.models import AccessToken

    first, second = _tokens(flow), _tokens(flow)
    # the refresh lifetime (30 days) counts from its access token's expiry: an hour-old access token is fine
    AccessToken.objects.filter(token_checksum=_checksum(first["access_token"])).update(
        expires=timezone.now() - dt.timedelta(hours=1))
    assert flow.refresh(first["refresh_token"]).status_code == 200
    AccessToken.objects.filter(token_checksum=_checksum(second["access_token"])).update(
        expires=timezone.now() - dt.timedelta(days=30, seconds=1))
    expired = flow.refresh(second["refresh_token"])
    assert expired.status_code == 400 and expired.json() == {"error": "invalid_grant"}
    assert _refresh_row(second["refresh_token"]).revoked is None  # refused, not rotated


def test_a_token_whose_sign_in_ended_is_refused(flow, path):
    from tongban.sso.models import SessionParticipation

    first = _tokens(flow)
    family = _refresh_row(first["refresh_token"]).token_family
    SessionParticipation.objects.filter(refresh_family=family).update(ended_at=timezone.now())
    ended = flow.refresh(first["refresh_token"])
    assert ended.status_code == 400 and ended.json() == {"error": "invalid_grant"}
    assert _refresh_row(first["refresh_token"]).revoked is None


def test_a_deactivated_accounts_token_is_refused_even_if_its_sign_in_is_open(flow, path, fast_answers):
    """Deactivating an account ends its sign-ins (accounts.services.account_active_set); should one be left
    open (a row changed behind the platform's back), the refresh still refuses a deactivated account."""
    from tongban.accounts.models import User

    first = _tokens(flow)
    row = _refresh_row(first["refresh_token"])
    User.objects.filter(pk=row.user_id).update(is_active=False)
    refused = flow.refresh(first["refresh_token"])
    assert refused.status_code == 400 and refused.json() == {"error": "invalid_grant"}
    assert _refresh_row(first["refresh_token"]).revoked is None  # refused, not rotated
    if path == "fast":
        assert fast_answers == [400]
    User.objects.filter(pk=row.user_id).update(is_active=True)
    assert flow.refresh(first["refresh_token"]).status_code == 200


def test_logout_ends_refresh(client, rp, person, path):
    client.login(username=person.username, password="Citizen-2026-pw")
    flow = Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb")
    first = _tokens(flow)
    second = flow.refresh(first["refresh_token"]).json()
    client.post("/logout/")
    assert flow.refresh(second["refresh_token"]).json()["error"] == "invalid_grant"
    assert _userinfo(flow, second["access_token"]).status_code == 401


def test_scope_narrowing(flow, path):
    first = _tokens(flow)
    assert first["scope"] == "openid realname idcard_masked"
    wider = flow.http.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                         "scope": "openid phone"},
                           HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.secret))
    assert wider.status_code == 400 and wider.json() == {"error": "invalid_scope"}
    narrower = flow.http.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                            "scope": "realname openid"},
                              HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.secret))
    assert narrower.status_code == 200, narrower.content  # the refused request did not spend the token
    body = narrower.json()
    assert body["scope"] == "realname openid" and "id_token" in body
    info = _userinfo(flow, body["access_token"]).json()
    assert info["name"] == "张三丰" and "id_number_masked" not in info
    no_openid = flow.http.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": body["refresh_token"],
                                             "scope": "realname"},
                               HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.secret))
    assert no_openid.status_code == 200 and "id_token" not in no_openid.json()
    # the family keeps the narrowed scope: the original ones cannot come back
    back = flow.http.post("/o/token/", {"grant_type": "refresh_token",
                                        "refresh_token": no_openid.json()["refresh_token"], "scope": "openid"},
                          HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.secret))
    assert back.status_code == 400 and back.json()["error"] == "invalid_scope"


@pytest.mark.parametrize("alg", ["RS256", "SM2SM3"])
def test_the_id_token_is_signed_with_the_clients_algorithm(client, person, alg, path):
    from tongban.crypto.jose import jws_header

    reg = register(f"{alg} 应用", redirect="https://alg.example.cn/cb", alg=alg)
    client.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    flow = Flow(http=client, client=reg.client, secret=reg.secret, redirect_uri="https://alg.example.cn/cb")
    token = flow.refresh(_tokens(flow)["refresh_token"]).json()["id_token"]
    assert jws_header(token)["alg"] == alg and decode(token)["aud"] == reg.client.client_id


def _assertion(key: jwk.JWK, client_id: str) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": "http://testserver/o/token/", "iat": now, "exp": now + 60,
              "jti": uuid.uuid4().hex}
    return jws_sign(json.dumps(claims).encode(), key, "ES256")


def test_private_key_jwt_client(client, person, path, fast_answers):
    key = jwk.JWK.generate(kty="EC", crv="P-256", kid="rp-1")
    reg = register("私钥认证", auth_method="private_key_jwt", jwks={"keys": [json.loads(key.export_public())]})
    client.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    flow = Flow(http=client, client=reg.client, secret="", redirect_uri="https://rp.example.cn/cb")
    code = flow.code()
    kind = {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    first = client.post("/o/token/", {"grant_type": "authorization_code", "code": code,
                                      "redirect_uri": flow.redirect_uri, "code_verifier": flow.verifier,
                                      **kind, "client_assertion": _assertion(key, reg.client.client_id)}).json()
    assertion = _assertion(key, reg.client.client_id)
    body = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"], **kind}
    answer = client.post("/o/token/", {**body, "client_assertion": assertion})
    assert answer.status_code == 200, answer.content
    assert decode(answer.json()["id_token"])["aud"] == reg.client.client_id
    again = {**body, "refresh_token": answer.json()["refresh_token"]}
    replay = client.post("/o/token/", {**again, "client_assertion": assertion})  # the assertion is spent
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"
    stranger = jwk.JWK.generate(kty="EC", crv="P-256")
    assert client.post("/o/token/", {**again, "client_assertion": _assertion(stranger, reg.client.client_id)}
                       ).status_code == 401
    fresh = client.post("/o/token/", {**again, "client_assertion": _assertion(key, reg.client.client_id)})
    assert fresh.status_code == 200, fresh.content  # failed authentications spent nothing
    if path == "fast":
        assert fast_answers == [200, 200]


def test_public_client(client, person, path, fast_answers):
    reg = register("移动应用", redirect="cn.gov.app:/cb", public=True)
    client.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    flow = Flow(http=client, client=reg.client, secret="", redirect_uri="cn.gov.app:/cb")
    code = flow.code()
    first = client.post("/o/token/", {"grant_type": "authorization_code", "code": code,
                                      "client_id": reg.client.client_id, "redirect_uri": flow.redirect_uri,
                                      "code_verifier": flow.verifier}).json()
    answer = client.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                       "client_id": reg.client.client_id})
    assert answer.status_code == 200, answer.content
    confidential = register("机密应用", redirect="https://c.example.cn/cb")
    refused = client.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": answer.json()["refresh_token"],
                                        "client_id": confidential.client.client_id})
    assert refused.status_code == 401  # a confidential client must authenticate
    if path == "fast":
        assert fast_answers == [200]


def test_a_client_without_the_code_grant_may_not_refresh(flow, path):
    from tongban.sso.models import Client

    first = _tokens(flow)
    Client.objects.filter(pk=flow.client.pk).update(authorization_grant_type=Client.GRANT_IMPLICIT)
    from tongban.sso.validators import clear_client_cache

    clear_client_cache()
    answer = flow.refresh(first["refresh_token"])
    assert answer.status_code == 400 and answer.json() == {"error": "unauthorized_client"}


@ON_POSTGRESQL
def test_one_rotation_statement_and_its_audit_entry_on_postgresql(flow, django_assert_num_queries):
    warm = flow.refresh(_tokens(flow)["refresh_token"]).json()  # the client row and signing key are cached now
    from tongban.audit.models import AuditEntry

    audited = AuditEntry.objects.filter(action="sso.token.refresh").count()
    # the rotation and the audit entry's INSERT (both bound on the server, so their text is not captured), in
    # one transaction whose BEGIN and COMMIT are not counted
    with django_assert_num_queries(2):
        answer = flow.refresh(warm["refresh_token"])
    assert answer.status_code == 200, answer.content
    assert AuditEntry.objects.filter(action="sso.token.refresh").count() == audited + 1


@ON_POSTGRESQL
@pytest.mark.django_db(transaction=True)
def test_concurrent_double_use_only_one_wins(client, rp, person):
    """Two requests with the same refresh token at once (PostgreSQL: each its own connection): exactly one
    gets new tokens; the other is a reuse — refused, and the family revoked, the winner's tokens with it."""
    client.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    flow = Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb")
    for _ in range(5):  # a few rounds: the race is real only if both requests are in flight together
        token = _tokens(flow)["refresh_token"]
        results = refresh_twice_at_once(rp.client.client_id, rp.secret, token)
        statuses = sorted(r.status_code for r in results)
        assert statuses == [200, 400], [r.content for r in results]
        loser = next(r for r in results if r.status_code == 400)
        assert loser.json() == {"error": "invalid_grant"}
        winner = next(r for r in results if r.status_code == 200).json()
        assert flow.refresh(winner["refresh_token"]).json()["error"] == "invalid_grant"
        assert _userinfo(flow, winner["access_token"]).status_code == 401


def test_new_tokens_are_30_characters_drawn_uniformly_from_62():
    from collections import Counter

    from oauthlib.common import UNICODE_ASCII_CHARACTER_SET

    from tongban.sso.grants import _new_token

    tokens = [_new_token() for _ in range(4000)]
    assert all(len(t) == 30 for t in tokens) and len(set(tokens)) == len(tokens)
    counts = Counter("".join(tokens))
    assert set(counts) == set(UNICODE_ASCII_CHARACTER_SET)
    expected = 4000 * 30 / 62  # ≈1935 each; a bias of the modulo kind would shift some by ~3 %
    assert all(abs(n - expected) < 0.12 * expected for n in counts.values())
