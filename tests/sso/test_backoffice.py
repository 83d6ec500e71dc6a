"""The client registry in the back office (system administrators) and the per-client sign-in statistics."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_system_admin_registers_a_client_with_a_hashed_secret(admin_client):
    page = admin_client.get("/admin/sso/client/add/")
    assert page.status_code == 200
    form = page.context["adminform"].form
    secret = form.initial.get("client_secret") or form.fields["client_secret"].initial
    secret = secret() if callable(secret) else secret
    data = {"name": "某省政务服务网", "organisation": "某省政务服务管理局", "contacts": "王工 0571-00000000",
            "is_active": "on", "client_id": "prov-zj", "client_secret": secret, "client_type": "confidential",
            "token_endpoint_auth_method": "client_secret_basic", "jwks": "null",
            "authorization_grant_type": "authorization-code", "redirect_uris": "https://zwfw.example.cn/cb",
            "post_logout_redirect_uris": "", "backchannel_logout_uri": "", "allowed_scopes": "openid realname",
            "allowed_levels": "1,2", "sector_identifier": "", "algorithm": "ES256"}
    response = admin_client.post("/admin/sso/client/add/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else response
    from tongban.sso.models import Client
    from tongban.sso.secrets import verify_secret

    client = Client.objects.get(client_id="prov-zj")
    assert client.client_secret.startswith("hmac-sm3$") and verify_secret(secret, client.client_secret)
    from tongban.audit.models import AuditEntry

    assert AuditEntry.objects.filter(action="config.change", subject_id=str(client.pk)).exists()


def test_stats_page_counts_logins_per_client(admin_client, rp, person):
    from django.test import Client as Browser

    from tests.sso.conftest import Flow

    browser = Browser()
    browser.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    flow = Flow(http=browser, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb")
    flow.token(flow.code())
    flow.code()
    page = admin_client.get("/backoffice/sso/stats/?days=7")
    assert page.status_code == 200
    row = next(r for r in page.context["rows"] if r["client"].pk == flow.client.pk)
    assert row["logins"] == 2 and row["people"] == 1


def test_stats_page_is_not_for_officers(client, db):
    from tests.accounts.factories import login_verified, make_officer

    officer = make_officer("officer-sso")
    login_verified(client, officer)
    assert client.get("/backoffice/sso/stats/").status_code == 404


def test_the_client_form_offers_only_the_supported_grants_in_chinese(admin_client):
    page = admin_client.get("/admin/sso/client/add/")
    form = page.context["adminform"].form
    assert [value for value, _ in form.fields["authorization_grant_type"].choices] == [
        "authorization-code", "client-credentials"]
    import re

    text = re.sub(r"<[^>]+>", " ", page.content.decode())  # what the page shows, not attribute values
    for english in ("Implicit", "Resource owner password", "OpenID connect hybrid", "Device Code",
                    "Client ID", "Client type", "Redirect URIs", "Skip authorization", "Confidential",
                    "Authorization grant type", "Post logout"):
        assert english.lower() not in text.lower(), english
    for label in ("授权方式", "客户端标识", "客户端类型", "回调地址", "跳过授权确认", "授权码模式", "客户端凭证模式"):
        assert label in text, label
    for name, field in form.fields.items():  # every label in Chinese
        assert re.search(r"[\u4e00-\u9fff]", str(field.label)), (name, field.label)
        for _, choice in getattr(field, "choices", []) or []:
            assert not choice or re.search(r"[\u4e00-\u9fff\uff00-\uffef]|^-+$", str(choice)), (name, choice)


@pytest.mark.parametrize("grant", ["password", "implicit", "openid-hybrid",
                                   "urn:ietf:params:oauth:grant-type:device_code"])
def test_a_client_with_a_grant_not_offered_cannot_be_saved(admin_client, grant):
    from django.core.exceptions import ValidationError

    from tongban.sso.models import Client

    data = {"name": "某系统", "organisation": "", "contacts": "", "is_active": "on", "client_id": "sys-x",
            "client_secret": "s" * 43, "client_type": "confidential", "token_endpoint_auth_method": "client_secret_basic",
            "jwks": "null", "authorization_grant_type": grant, "redirect_uris": "https://sys.example.cn/cb",
            "post_logout_redirect_uris": "", "backchannel_logout_uri": "", "allowed_scopes": "openid",
            "allowed_levels": "1,2", "sector_identifier": "", "algorithm": "ES256"}
    response = admin_client.post("/admin/sso/client/add/", data)
    assert response.status_code == 200 and "authorization_grant_type" in response.context["adminform"].form.errors
    assert not Client.objects.filter(client_id="sys-x").exists()
    model = Client(name="某系统", client_id="sys-y", authorization_grant_type=grant,
                   redirect_uris="https://sys.example.cn/cb")
    with pytest.raises(ValidationError) as caught:
        model.full_clean(exclude=["client_secret", "user"])
    assert "授权方式" in str(caught.value.message_dict["authorization_grant_type"])
