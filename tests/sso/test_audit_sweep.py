"""Invariant 3 for provider changes that had no entry: a relying party revoking a token (RFC 7009), a system
admin deleting a client or a signing key in Django admin, and the retirement of a signing key whose
publication overlap ran out — each audited in the transaction of the change, and rolled back with it."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from tests.sso.conftest import basic, register
from tongban.audit.actions import Action, ActorType
from tongban.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def _entries(action: Action) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action.value).order_by("id"))


def _ref(value: object) -> str:
    digest = hashlib.sha256(str(value).encode()).hexdigest()[:24]
    return ".".join(digest[i:i + 8] for i in range(0, 24, 8))


def _refresh_row(token: str):
    from oauth2_provider.models import RefreshToken

    return RefreshToken.objects.filter(token_checksum=hashlib.sha256(token.encode()).hexdigest()).get()


def _revoke(flow, token: str, hint: str | None = None, *, client_id: str | None = None, secret: str | None = None):
    data = {"token": token, **({"token_type_hint": hint} if hint else {})}
    return flow.http.post("/o/revoke/", data, HTTP_AUTHORIZATION=basic(client_id or flow.client.client_id,
                                                                       secret or flow.secret))


# -- the revocation endpoint ------------------------------------------------------------------------------------


def test_revoking_a_refresh_token_is_audited_once(flow, person):
    tokens = flow.token(flow.code()).json()
    family = _refresh_row(tokens["refresh_token"]).token_family
    assert _revoke(flow, tokens["refresh_token"], "refresh_token").status_code == 200
    assert _refresh_row(tokens["refresh_token"]).revoked is not None
    [entry] = _entries(Action.SSO_TOKEN_REVOKE)
    assert (entry.actor_type, entry.actor_id) == (ActorType.PARTNER_APP, f"oidc:{flow.client.client_id}")
    assert (entry.subject_type, entry.subject_id) == ("accounts.user", str(person.pk))
    assert entry.details["kind"] == "refresh_token" and entry.details["family"] == _ref(family)
    assert entry.details["client_id"] == flow.client.client_id and entry.details["participation"] is not None
    text = str(entry.details)
    for secret in (tokens["refresh_token"], tokens["access_token"], person.id_number, "张三丰"):
        assert secret not in text
    # Revoked already: nothing changes, nothing is written.
    assert _revoke(flow, tokens["refresh_token"], "refresh_token").status_code == 200
    assert len(_entries(Action.SSO_TOKEN_REVOKE)) == 1


def test_revoking_an_access_token_is_audited(flow, person):
    tokens = flow.token(flow.code()).json()
    assert _revoke(flow, tokens["access_token"]).status_code == 200
    [entry] = _entries(Action.SSO_TOKEN_REVOKE)
    assert entry.details["kind"] == "access_token"
    assert entry.details["family"] == _ref(_refresh_row(tokens["refresh_token"]).token_family)


def test_another_clients_or_an_unknown_token_writes_nothing(flow):
    tokens = flow.token(flow.code()).json()
    other = register("第二个应用", redirect="https://other.example.cn/cb")
    assert _revoke(flow, tokens["refresh_token"], "refresh_token", client_id=other.client.client_id,
                   secret=other.secret).status_code == 200
    assert _revoke(flow, "no-such-token").status_code == 200
    assert _refresh_row(tokens["refresh_token"]).revoked is None
    assert _entries(Action.SSO_TOKEN_REVOKE) == []


def test_a_revocation_rolls_back_with_its_entry(flow, monkeypatch):
    from tongban.sso import auditing

    tokens = flow.token(flow.code()).json()

    def boom(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(auditing, "token_revoke", boom)
    assert _revoke(flow, tokens["refresh_token"], "refresh_token").status_code == 500
    assert _refresh_row(tokens["refresh_token"]).revoked is None
    assert _entries(Action.SSO_TOKEN_REVOKE) == []


# -- Django admin: deleting clients and signing keys -------------------------------------------------------------


def test_deleting_a_client_in_admin_is_audited(admin_client, admin_user):
    from tongban.sso.models import Client

    one = register("应用一", redirect="https://one.example.cn/cb").client
    two = register("应用二", redirect="https://two.example.cn/cb").client
    three = register("应用三", redirect="https://three.example.cn/cb").client
    response = admin_client.post(f"/admin/sso/client/{one.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    response = admin_client.post("/admin/sso/client/", {"action": "delete_selected", "post": "yes",
                                                        "_selected_action": [two.pk, three.pk]})
    assert response.status_code == 302
    assert not Client.objects.filter(pk__in=[one.pk, two.pk, three.pk]).exists()
    deleted = [e for e in _entries(Action.CONFIG_CHANGE) if e.details.get("event") == "sso_client_deleted"]
    assert sorted((e.subject_type, e.subject_id, e.details["client_id"]) for e in deleted) == sorted(
        ("sso.client", str(c.pk), c.client_id) for c in (one, two, three))
    assert all((e.actor_type, e.actor_id) == (ActorType.USER, str(admin_user.pk)) for e in deleted)


def test_a_bulk_client_delete_rolls_back_with_its_entries(admin_client, monkeypatch):
    from tongban.sso import admin as sso_admin
    from tongban.sso.models import Client

    one = register("应用一", redirect="https://one.example.cn/cb").client
    calls = []

    def boom(self, request, obj, *, bulk):
        calls.append(obj.pk)
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(sso_admin.ClientAdmin, "audit_deleted", boom)
    with pytest.raises(RuntimeError):
        admin_client.post("/admin/sso/client/", {"action": "delete_selected", "post": "yes",
                                                 "_selected_action": [one.pk]})
    assert calls == [one.pk] and Client.objects.filter(pk=one.pk).exists()


def test_deleting_a_signing_key_in_admin_is_audited(admin_client, admin_user):
    from tongban.sso import signing
    from tongban.sso.models import SigningKey

    signing.clear_cache()
    signing.current_key("ES256")
    row = SigningKey.objects.get(alg="ES256")
    response = admin_client.post("/admin/sso/signingkey/", {"action": "delete_selected", "post": "yes",
                                                            "_selected_action": [row.pk]})
    assert response.status_code == 302
    assert not SigningKey.objects.filter(pk=row.pk).exists()
    [entry] = _entries(Action.KEY_DELETE)
    assert (entry.subject_type, entry.subject_id) == ("sso.signingkey", row.kid)
    assert (entry.actor_type, entry.actor_id) == (ActorType.USER, str(admin_user.pk))
    assert entry.details == {"event": "sso_signing_key_deleted", "kid": row.kid, "alg": "ES256", "state": "current"}
    signing.clear_cache()


# -- retirement after the publication overlap -------------------------------------------------------------------


def _retiring_key():
    from tongban.sso import signing
    from tongban.sso.models import SigningKey, SigningKeyState

    signing.clear_cache()
    signing.current_key("ES256")
    signing.signing_key_rotate(alg="ES256")
    old = SigningKey.objects.get(alg="ES256", state=SigningKeyState.RETIRING)
    SigningKey.objects.filter(pk=old.pk).update(publish_until=timezone.now() - dt.timedelta(seconds=1))
    signing.clear_cache()
    return old


def test_a_key_retired_when_its_overlap_ends_is_audited(client):
    from tongban.sso import signing
    from tongban.sso.models import SigningKeyState

    old = _retiring_key()
    response = client.get("/o/jwks/")  # the published key set retires what is due before it is built
    assert response.status_code == 200
    document = response.json()
    old.refresh_from_db()
    assert old.state == SigningKeyState.RETIRED and old.kid not in {k["kid"] for k in document["keys"]}
    [entry] = _entries(Action.KEY_RETIRE)
    assert (entry.actor_type, entry.actor_id) == (ActorType.SYSTEM, "sso.signing")
    assert (entry.subject_type, entry.subject_id) == ("sso.signingkey", old.kid)
    assert entry.details["alg"] == "ES256" and entry.details["publish_until"]
    signing.clear_cache()
    signing.jwks()
    assert len(_entries(Action.KEY_RETIRE)) == 1  # retired once, recorded once
    signing.clear_cache()


def test_a_retirement_rolls_back_with_its_entry(monkeypatch):
    from tongban.sso import signing
    from tongban.sso.models import SigningKeyState

    old = _retiring_key()

    def boom(**kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr("tongban.audit.services.audit_record", boom)
    with pytest.raises(RuntimeError):
        signing.signing_keys_retire_expired()
    old.refresh_from_db()
    assert old.state == SigningKeyState.RETIRING
    signing.clear_cache()
