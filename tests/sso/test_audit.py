"""The provider's audit entries (DESIGN.md §3, invariant 3): a sign-in at a relying party, a code exchanged,
a refresh token rotated, a refresh token or a code used twice — each with its action, outcome, actor and
subject, no personal data in its details, on the purpose-built refresh grant and on DOT's general path; and
no refresh entry for a refresh that was refused or rolled back."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from tests.sso.conftest import PASSWORD, Flow, basic, decode, refresh_twice_at_once, register
from tongban.audit.actions import Action, ActorType, Outcome

pytestmark = pytest.mark.django_db
ON_POSTGRESQL = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's row locks")


@pytest.fixture(params=["fast", "general"])
def path(request, monkeypatch) -> str:
    """Which path answers refresh requests: the purpose-built grant, or oauthlib's (the grant turned off)."""
    if request.param == "general":
        from tongban.sso import grants

        monkeypatch.setattr(grants, "refresh_token_grant", lambda _r: None)
    return str(request.param)


def _entries(action: Action) -> list[Any]:
    from tongban.audit.models import AuditEntry

    return list(AuditEntry.objects.filter(action=action.value).order_by("id"))


def _checksum(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _family(token: str) -> Any:
    from oauth2_provider.models import RefreshToken

    return RefreshToken.objects.filter(token_checksum=_checksum(token)).order_by("-pk").first().token_family


def _ref(value: Any) -> str:
    digest = hashlib.sha256(str(value).encode()).hexdigest()[:24]
    return ".".join(digest[i:i + 8] for i in range(0, 24, 8))


def _participation(token: str) -> Any:
    from tongban.sso.models import SessionParticipation

    return SessionParticipation.objects.get(refresh_family=_family(token))


def _assert_no_personal_data(entry: Any, person: Any, *secrets: str) -> None:
    """Neither the person's identity nor anything that works as a credential is in the entry."""
    text = json.dumps({"details": entry.details, "actor": entry.actor_id, "subject": entry.subject_id},
                      ensure_ascii=False)
    for value in (person.id_number, person.id_number[:6], "张三丰", "张", "13900000001", *secrets):
        assert value not in text, (value, text)


def _creds(*answers: dict[str, Any]) -> list[str]:
    """The tokens of token-endpoint answers (each would let its holder act)."""
    return [a[k] for a in answers for k in ("access_token", "refresh_token", "id_token") if k in a]


def _is_client(entry: Any, client: Any) -> None:
    assert (entry.actor_type, entry.actor_id) == (ActorType.PARTNER_APP, f"oidc:{client.client_id}")


def _is_account(entry: Any, person: Any) -> None:
    assert (entry.subject_type, entry.subject_id) == ("accounts.user", str(person.pk))


# -- (a) the sign-in at a relying party, and the code's exchange ---------------------------------------------


def test_signin_is_audited_with_the_person_as_actor(flow, person):
    from tongban.sso.models import SessionParticipation

    code = flow.code()
    part = SessionParticipation.objects.get(code_hash=_checksum(code))
    [entry] = _entries(Action.SSO_SIGNIN)
    assert entry.outcome == Outcome.SUCCESS
    assert (entry.actor_type, entry.actor_id) == (ActorType.USER, str(person.pk))
    _is_account(entry, person)
    assert entry.details == {"client_id": flow.client.client_id, "participation": part.pk,
                             "acr": "urn:tongban:acr:l2", "amr": ["pwd"], "sid": _ref(part.sid),
                             "scopes": ["idcard_masked", "openid", "realname"]}
    assert entry.request_id  # the authorize request's
    _assert_no_personal_data(entry, person, code, part.sid)
    tokens = flow.token(code).json()
    assert decode(tokens["id_token"])["sid"] == part.sid  # the sid the entry refers to
    [exchange] = _entries(Action.SSO_CODE_EXCHANGE)
    assert exchange.outcome == Outcome.SUCCESS
    _is_client(exchange, flow.client)
    _is_account(exchange, person)
    assert exchange.details == {"client_id": flow.client.client_id, "participation": part.pk,
                                "scopes": ["idcard_masked", "openid", "realname"]}
    _assert_no_personal_data(exchange, person, code, part.sid, *_creds(tokens))
    assert len(_entries(Action.SSO_SIGNIN)) == 1  # the sign-in is recorded once, at the code


def test_an_unverified_person_signs_in_without_an_acr(client, rp, db):
    from tests.sso.conftest import make_person

    nobody = make_person("p0", level=0, phone="13900000009")
    client.force_login(nobody, backend="tongban.accounts.backends.TongbanBackend")
    flow = Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb",
                scope="openid")
    flow.code()
    [entry] = _entries(Action.SSO_SIGNIN)
    assert entry.details["acr"] == "" and entry.details["scopes"] == ["openid"]


def test_a_declined_consent_is_no_signin(flow):
    response = flow.follow(flow.http.get(flow.authorize_url()))
    txn = response.context["txn"]
    flow.follow(flow.http.post("/o/authorize/continue/", {"txn": txn, "decision": "deny"}))
    assert _entries(Action.SSO_SIGNIN) == []


# -- (b) refresh rotation, on both paths ---------------------------------------------------------------------


def test_each_rotation_is_audited_once(flow, person, path):
    first = flow.token(flow.code()).json()
    part = _participation(first["refresh_token"])
    tokens, seen = first, [first]
    for _ in range(3):
        tokens = flow.refresh(tokens["refresh_token"]).json()
        seen.append(tokens)
    entries = _entries(Action.SSO_TOKEN_REFRESH)
    assert len(entries) == 3
    for entry in entries:
        assert entry.outcome == Outcome.SUCCESS
        _is_client(entry, flow.client)
        _is_account(entry, person)
        assert entry.details == {"client_id": flow.client.client_id, "participation": part.pk,
                                 "family": _ref(part.refresh_family), "path": path,
                                 "scopes": ["idcard_masked", "openid", "realname"]}
        _assert_no_personal_data(entry, person, part.sid, *_creds(*seen))
    assert _entries(Action.SSO_TOKEN_REUSE) == []


def test_a_narrowed_scope_is_what_the_entry_says(flow, path):
    first = flow.token(flow.code()).json()
    answer = flow.http.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                          "scope": "openid realname"},
                            HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.secret))
    assert answer.status_code == 200, answer.content
    [entry] = _entries(Action.SSO_TOKEN_REFRESH)
    assert entry.details["scopes"] == ["openid", "realname"]


def test_a_refused_refresh_writes_no_refresh_entry(flow, path):
    from oauth2_provider.models import AccessToken

    from tongban.sso.models import SessionParticipation

    first, second, third = (flow.token(flow.code()).json() for _ in range(3))
    other = register("另一应用", redirect="https://other.example.cn/cb")
    refused = [
        flow.refresh("not-a-token"),
        flow.http.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                       HTTP_AUTHORIZATION=basic(other.client.client_id, other.secret)),  # not its client's
        flow.http.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                       HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.secret + "x")),  # bad secret
        flow.http.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"],
                                     "scope": "openid phone"},
                       HTTP_AUTHORIZATION=basic(flow.client.client_id, flow.secret)),  # wider scope
    ]
    AccessToken.objects.filter(token_checksum=_checksum(second["access_token"])).update(
        expires=timezone.now() - dt.timedelta(days=31))
    refused.append(flow.refresh(second["refresh_token"]))  # expired
    SessionParticipation.objects.filter(refresh_family=_family(third["refresh_token"])).update(
        ended_at=timezone.now())
    refused.append(flow.refresh(third["refresh_token"]))  # its sign-in ended
    assert all(r.status_code in (400, 401) for r in refused), [r.content for r in refused]
    assert _entries(Action.SSO_TOKEN_REFRESH) == []
    assert _entries(Action.SSO_TOKEN_REUSE) == []  # none of these was a reuse
    assert flow.refresh(first["refresh_token"]).status_code == 200  # and none spent the token


@pytest.mark.django_db(transaction=True)
def test_a_refresh_whose_audit_entry_fails_is_rolled_back(client, rp, person, path, monkeypatch):
    """The rotation and its entry commit together: if the entry cannot be written, the token is not spent
    (transaction=True: the rotation's own transaction, not the test's, rolls back)."""
    from tongban.audit import services as audit_services
    from tongban.sso import auditing

    client.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    flow = Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb")
    first = flow.token(flow.code()).json()
    real = audit_services.audit_record

    def failing(**kwargs: Any) -> Any:
        if kwargs["action"] == Action.SSO_TOKEN_REFRESH:
            raise RuntimeError("the audit log is unavailable")
        return real(**kwargs)

    monkeypatch.setattr(auditing, "audit_record", failing)
    assert flow.refresh(first["refresh_token"]).status_code == 500  # the error middleware's answer
    monkeypatch.setattr(auditing, "audit_record", real)
    assert _entries(Action.SSO_TOKEN_REFRESH) == []
    again = flow.refresh(first["refresh_token"])  # not spent, not counted as a reuse
    assert again.status_code == 200, again.content
    assert len(_entries(Action.SSO_TOKEN_REFRESH)) == 1 and _entries(Action.SSO_TOKEN_REUSE) == []
    assert flow.http.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {again.json()['access_token']}"
                         ).status_code == 200


# -- (c) a refresh token used after its rotation -------------------------------------------------------------


def test_reuse_after_rotation_is_audited_as_denied(flow, person, path):
    first = flow.token(flow.code()).json()
    part = _participation(first["refresh_token"])
    second = flow.refresh(first["refresh_token"]).json()
    reused = flow.refresh(first["refresh_token"])
    assert reused.status_code == 400 and reused.json() == {"error": "invalid_grant"}
    [entry] = _entries(Action.SSO_TOKEN_REUSE)
    assert entry.outcome == Outcome.DENIED
    _is_client(entry, flow.client)
    _is_account(entry, person)
    assert entry.details == {"client_id": flow.client.client_id, "participation": part.pk,
                             "family": _ref(part.refresh_family), "family_revoked": True,
                             "presented_by_its_client": True, "path": path}
    _assert_no_personal_data(entry, person, part.sid, *_creds(first, second))
    assert len(_entries(Action.SSO_TOKEN_REFRESH)) == 1  # the one good rotation, nothing for the reuse
    # the family is revoked: its newest token is refused too — a reuse again, audited again
    assert flow.refresh(second["refresh_token"]).json()["error"] == "invalid_grant"
    assert [e.outcome for e in _entries(Action.SSO_TOKEN_REUSE)] == [Outcome.DENIED, Outcome.DENIED]


def test_a_rotated_token_presented_by_another_client(flow, person, path):
    first = flow.token(flow.code()).json()
    flow.refresh(first["refresh_token"])
    other = register("另一应用", redirect="https://other.example.cn/cb")
    stolen = flow.http.post("/o/token/", {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
                            HTTP_AUTHORIZATION=basic(other.client.client_id, other.secret))
    assert stolen.status_code == 400
    [entry] = _entries(Action.SSO_TOKEN_REUSE)
    _is_client(entry, other.client)  # who presented it
    _is_account(entry, person)  # whose it was
    assert entry.details["presented_by_its_client"] is False and entry.details["family_revoked"] is True


@ON_POSTGRESQL
@pytest.mark.django_db(transaction=True)
def test_concurrent_double_use_audits_one_rotation_and_one_reuse(client, rp, person):
    """Two requests with the same refresh token at once, each on its own connection: the winner's rotation
    and the loser's reuse are each audited exactly once, with the family they belong to."""
    client.force_login(person, backend="tongban.accounts.backends.TongbanBackend")
    flow = Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb")
    for _ in range(3):
        token = flow.token(flow.code()).json()["refresh_token"]
        family = _ref(_family(token))
        results = refresh_twice_at_once(rp.client.client_id, rp.secret, token)
        assert sorted(r.status_code for r in results) == [200, 400], [r.content for r in results]
        refreshes = [e for e in _entries(Action.SSO_TOKEN_REFRESH) if e.details["family"] == family]
        reuses = [e for e in _entries(Action.SSO_TOKEN_REUSE) if e.details["family"] == family]
        assert len(refreshes) == 1 and refreshes[0].outcome == Outcome.SUCCESS
        assert len(reuses) == 1 and reuses[0].outcome == Outcome.DENIED
    from tongban.audit.verify import verify_log

    assert verify_log().ok  # the writers' chains are intact


# -- (d) a code used twice -----------------------------------------------------------------------------------


def test_code_used_twice_is_audited_as_denied(flow, person):
    from tongban.sso.models import SessionParticipation

    code = flow.code()
    first = flow.token(code).json()
    part = SessionParticipation.objects.get(code_hash=_checksum(code))
    again = flow.token(code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    [entry] = _entries(Action.SSO_CODE_REUSE)
    assert entry.outcome == Outcome.DENIED
    _is_client(entry, flow.client)
    _is_account(entry, person)
    assert entry.details == {"client_id": flow.client.client_id, "participation": part.pk,
                             "sid": _ref(part.sid), "revoked": True}
    _assert_no_personal_data(entry, person, code, part.sid, *_creds(first))
    assert len(_entries(Action.SSO_CODE_EXCHANGE)) == 1  # the second use exchanged nothing
    part.refresh_from_db()
    assert part.ended_at is not None


def test_an_unknown_or_expired_code_is_no_reuse(flow):
    assert flow.token("no-such-code").status_code == 400
    assert _entries(Action.SSO_CODE_REUSE) == [] and _entries(Action.SSO_CODE_EXCHANGE) == []


def test_the_portal_login_path_too(client, rp, person):
    """Signed in through the portal's password login (amr pwd): the same entries."""
    client.login(username=person.username, password=PASSWORD)
    flow = Flow(http=client, client=rp.client, secret=rp.secret, redirect_uri="https://rp.example.cn/cb")
    tokens = flow.token(flow.code()).json()
    flow.refresh(tokens["refresh_token"])
    assert [len(_entries(a)) for a in (Action.SSO_SIGNIN, Action.SSO_CODE_EXCHANGE, Action.SSO_TOKEN_REFRESH)
            ] == [1, 1, 1]
