"""`tongban sso create-client`: registering a relying party from the command line, with the back office's
validation and audit (docs/sso.md, "Registering a relying party")."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def _run(*args: str) -> str:
    out = io.StringIO()
    call_command("sso", "create-client", *args, stdout=out)
    return out.getvalue()


def _printed(output: str, name: str) -> str:
    return next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith(f"{name}: "))


def test_create_client_registers_a_code_flow_client_and_prints_its_secret_once(client):
    from tongban.audit.models import AuditEntry
    from tongban.sso.models import Client
    from tongban.sso.secrets import verify_secret

    output = _run("--name", "某省政务服务网", "--organisation", "某省政务服务管理局",
                  "--redirect-uri", "https://zwfw.example.cn/cb", "--redirect-uri", "https://zwfw.example.cn/cb2",
                  "--post-logout-redirect-uri", "https://zwfw.example.cn/bye",
                  "--backchannel-logout-uri", "https://zwfw.example.cn/bcl", "--scopes", "openid realname",
                  "--levels", "1,2", "--client-id", "prov-zj")
    assert _printed(output, "client_id") == "prov-zj"
    secret = _printed(output, "client_secret")
    row = Client.objects.get(client_id="prov-zj")
    assert row.redirect_uris.split() == ["https://zwfw.example.cn/cb", "https://zwfw.example.cn/cb2"]
    assert row.authorization_grant_type == "authorization-code" and not row.allow_client_credentials
    assert row.client_secret.startswith("hmac-sm3$") and verify_secret(secret, row.client_secret)
    entry = AuditEntry.objects.get(action="config.change", subject_id=str(row.pk))
    assert entry.actor_type == "system" and entry.actor_id.startswith("cli:")  # the operator at the command line
    assert entry.details["event"] == "sso_client_created" and entry.details["client_id"] == "prov-zj"
    # and the client works: its secret authenticates at the token endpoint
    from tests.sso.conftest import basic

    answer = client.post("/o/token/", {"grant_type": "authorization_code", "code": "nope",
                                       "redirect_uri": "https://zwfw.example.cn/cb", "code_verifier": "x" * 43},
                         HTTP_AUTHORIZATION=basic("prov-zj", secret))
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"  # authenticated; bad code


def test_create_client_without_redirect_uri_is_a_client_credentials_client(client):
    from tests.sso.conftest import basic

    output = _run("--name", "业务系统", "--scopes", "api")
    client_id, secret = _printed(output, "client_id"), _printed(output, "client_secret")
    answer = client.post("/o/token/", {"grant_type": "client_credentials"},
                         HTTP_AUTHORIZATION=basic(client_id, secret))
    assert answer.status_code == 200 and answer.json()["scope"] == "api"


def test_create_client_with_private_key_jwt_reads_a_jwks_file(tmp_path):
    from jwcrypto import jwk

    from tongban.sso.models import Client

    key = jwk.JWK.generate(kty="EC", crv="P-256", kid="rp-1")
    path = tmp_path / "rp.jwks.json"
    path.write_text(json.dumps({"keys": [json.loads(key.export_public())]}))
    output = _run("--name", "私钥应用", "--redirect-uri", "https://k.example.cn/cb",
                  "--auth-method", "private_key_jwt", "--jwks", str(path))
    assert "client_secret" not in output
    row = Client.objects.get(client_id=_printed(output, "client_id"))
    assert row.token_endpoint_auth_method == "private_key_jwt" and row.jwks["keys"][0]["kid"] == "rp-1"


@pytest.mark.parametrize(("args", "message"), [
    (["--redirect-uri", "https://*.example.cn/cb"], "通配符"),
    (["--redirect-uri", "https://a.example.cn/cb", "--levels", "4"], "认证等级"),
    (["--redirect-uri", "https://a.example.cn/cb", "--auth-method", "private_key_jwt"], "公钥"),
    (["--redirect-uri", "https://a.example.cn/cb", "--public", "--client-credentials"], "客户端凭证"),
    (["--redirect-uri", "https://a.example.cn/cb", "--backchannel-logout-uri", "not a url"], "backchannel"),
])
def test_create_client_refuses_what_the_back_office_refuses(args, message):
    from tongban.audit.models import AuditEntry
    from tongban.sso.models import Client

    with pytest.raises(CommandError) as caught:
        _run("--name", "无效应用", *args)
    assert "接入应用未登记" in str(caught.value) and message in str(caught.value)
    assert not Client.objects.exists() and not AuditEntry.objects.filter(action="config.change").exists()


def test_create_client_refuses_a_client_id_taken():
    _run("--name", "甲", "--redirect-uri", "https://a.example.cn/cb", "--client-id", "same")
    with pytest.raises(CommandError):
        _run("--name", "乙", "--redirect-uri", "https://b.example.cn/cb", "--client-id", "same")
