"""Signing in again through the national platform writes nothing for anyone but the person signed in: a
refusal (another person, or an answer that is not a new sign-in) creates no account, makes or touches no
national link, raises no level and leaves the session as it was; only the refusal is audited. The same
person is accepted, linked if not yet linked. The callback's writes are one transaction.

Driven as in test_national_reauth.py: Django's test client for tongban, `requests` for the simulator."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests

from sim.national_platform import NationalPlatformSimulator
from tests.sso.conftest import Flow, make_person, resident_id
from tests.sso.test_national_reauth import (  # noqa: F401  (fixtures)
    CALLBACK,
    _sign_in_at_national,
    _to_national,
    national,
    np_person,
)
from tests.sso.test_reauth import _answer, _hours_ago, _signed_in_at, _to_reauth

pytestmark = pytest.mark.django_db

LONG_AGO = dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)


def _rows() -> dict[str, Any]:
    """Every account, citizen profile and national link, with what a sign-in could change on them."""
    from tongban.accounts.models import CitizenProfile, User
    from tongban.sso.models import FederatedIdentity

    return {
        "users": list(User.objects.order_by("pk").values_list("pk", "username", "is_active", "last_login")),
        "profiles": list(CitizenProfile.objects.order_by("pk").values_list("pk", "user_id", "level", "verified_at",
                                                                           "person_key_bidx")),
        "links": list(FederatedIdentity.objects.order_by("pk").values_list("pk", "provider", "subject", "user_id",
                                                                           "level_asserted", "last_login_at")),
    }


def _audit_after(last_id: int) -> list[Any]:
    from tongban.audit.models import AuditEntry

    return list(AuditEntry.objects.filter(id__gt=last_id).order_by("id"))


def _last_audit_id() -> int:
    from tongban.audit.models import AuditEntry

    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def _session(http: Any) -> tuple[str | None, dict[str, Any]]:
    """The browser's session: its key and what it holds, less the national login's own one-time state."""
    from tongban.sso.federation import STATE_KEY

    store = http.session
    return store.session_key, {k: v for k, v in store.items() if k != STATE_KEY}


def _login_row(user: Any) -> tuple[Any, ...]:
    from tongban.accounts.models import LoginSession

    return tuple(LoginSession.objects.filter(user=user).values_list("key_hash", "created_at", "method").get())


def _at_national(flow: Flow, sim: NationalPlatformSimulator, id_number: str) -> requests.Response:
    """From the sign-in-again page to the national platform, signed in at its form: its redirect back to us
    (not yet followed)."""
    page = _to_reauth(flow, prompt="login")
    url = _to_national(flow.http, page.context["national_url"])
    form = requests.get(url, allow_redirects=False, timeout=10)
    assert form.status_code == 200 and 'name="password"' in form.text, (form.status_code, form.text[:300])
    answer = _sign_in_at_national(sim, form, id_number)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(CALLBACK), answer.text[:300]
    return answer


def _callback(flow: Flow, answer: requests.Response) -> Any:
    return flow.http.get(answer.headers["Location"][len("http://testserver"):])


def _link(user: Any, sub: str, *, level: int = 2) -> Any:
    from tongban.sso.models import FederatedIdentity

    return FederatedIdentity.objects.create(provider="national", subject=sub, user=user, level_asserted=level,
                                            created_account=False, last_login_at=LONG_AGO)


def _unverified(user: Any) -> None:
    """The account holds no verified identity (registered by phone, never verified)."""
    from tongban.accounts.models import CitizenProfile

    profile = CitizenProfile.objects.get(user=user)
    profile.id_type = ""
    profile.id_number = None
    profile.person_key = None
    profile.name = None
    profile.level = 0
    profile.verified_at = None
    profile.save()


def _assert_refused_with_nothing_written(flow: Flow, person: Any, response: Any, *, code: str, reason: str,
                                         rows: dict[str, Any], session: tuple[Any, Any], login_row: tuple[Any, ...],
                                         audit_from: int, secrets: tuple[str, ...]) -> None:
    from tongban.audit.actions import Action, Outcome

    text = response.content.decode()
    assert response.status_code == 403 and code in text and 'id="retry"' in text
    assert _rows() == rows  # no account, profile or link created, changed or touched
    assert _session(flow.http) == session  # the same session key, the same person signed in, same auth time
    assert int(flow.http.session["_auth_user_id"]) == person.pk
    assert _login_row(person) == login_row
    entries = _audit_after(audit_from)
    assert [e.action for e in entries] == [Action.AUTH_LOGIN_FAILURE.value]  # the refusal, and nothing else
    entry = entries[0]
    assert entry.outcome == Outcome.FAILURE
    assert (entry.subject_type, entry.subject_id) == ("accounts.user", str(person.pk))
    assert entry.details["via"] == "national_platform" and entry.details["reason"] == reason
    assert entry.details["reauth"] is True
    for secret in secrets:
        assert secret not in str(entry.details)


def _refused_at_national(flow: Flow, national: NationalPlatformSimulator, person: Any, id_number: str, *,  # noqa: F811
                         code: str, reason: str, secrets: tuple[str, ...]) -> None:
    """Sign in again at the national platform as `id_number`; the callback refuses with `code`/`reason` and
    writes nothing but the refusal's audit entry (rows, session and sign-in record snapshotted around it)."""
    answer = _at_national(flow, national, id_number)
    rows, session, login_row, audit_from = _rows(), _session(flow.http), _login_row(person), _last_audit_id()
    response = _callback(flow, answer)
    _assert_refused_with_nothing_written(flow, person, response, code=code, reason=reason, rows=rows,
                                         session=session, login_row=login_row, audit_from=audit_from,
                                         secrets=secrets)


@pytest.mark.parametrize("other_is", ["unknown_here", "known_here", "linked_here", "signed_in_unverified"])
def test_signing_in_again_as_another_person_writes_nothing_for_them(flow, person, national, other_is):  # noqa: F811
    """unknown_here: no account holds their ID number (one would have been created); known_here: an account
    at L1 does, not linked (it would have been linked and raised to L2); linked_here: their national account
    is linked to theirs (its last sign-in would have been stamped); signed_in_unverified: the account signed
    in holds no verified identity, so nothing proves the national one is theirs (an account would have been
    created for it)."""
    id_number = resident_id(2)
    if other_is == "signed_in_unverified":
        id_number = person.id_number
        _unverified(person)
    other_np = national.add_person(name="李四", id_number=id_number, level=2)
    if other_is in ("known_here", "linked_here"):
        other = make_person("p2", phone="13900000002", seq=2, name="李四", level=1)
        if other_is == "linked_here":
            _link(other, other_np.sub)
    flow.code()
    _signed_in_at(person, _hours_ago(1))

    _refused_at_national(flow, national, person, id_number, code="federation_different_person",
                         reason="different_person", secrets=(id_number, "李四"))
    # The login request still waits on the sign-in-again page.
    again = flow.follow(flow.http.get(flow.authorize_url(prompt="login")))
    assert again.status_code == 200 and "重新验证身份" in again.content.decode()


@pytest.mark.parametrize("who", ["self_not_linked", "someone_unknown"])
@pytest.mark.parametrize(("misreport", "reason"), [("old", "auth_time_too_old"), ("missing", "auth_time_missing")])
def test_a_national_answer_that_is_not_a_new_sign_in_writes_nothing(flow, person, national,  # noqa: F811
                                                                   who, misreport, reason):
    """federation_not_reauthenticated is decided before the identity is matched: neither the person's own
    national account (not yet linked) is linked nor someone else's made an account."""
    id_number = person.id_number if who == "self_not_linked" else resident_id(3)
    national.add_person(name="张三丰" if who == "self_not_linked" else "王五", id_number=id_number, level=2)
    if misreport == "old":
        national.auth_time_shift = 3600
    else:
        national.auth_time_omitted = True
    flow.code()
    _signed_in_at(person, _hours_ago(1))

    _refused_at_national(flow, national, person, id_number, code="federation_not_reauthenticated", reason=reason,
                         secrets=(id_number,))


@pytest.mark.parametrize("linked", [False, True])
def test_signing_in_again_as_the_same_person_is_accepted_and_linked(flow, person, national,  # noqa: F811
                                                                    np_person, linked):  # noqa: F811
    """Not yet linked: the national identity is this account's by its verified ID number — accepted, and
    linked now (as a first national sign-in would). Already linked: accepted through the link."""
    from tongban.audit.actions import Action
    from tongban.sso.models import FederatedIdentity

    if linked:
        _link(person, np_person.sub)
    flow.code()
    _signed_in_at(person, _hours_ago(1))
    before = _rows()
    key_before = flow.http.session.session_key

    answer = _at_national(flow, national, person.id_number)
    audit_from = _last_audit_id()
    response = _callback(flow, answer)
    assert response.status_code == 302 and "/o/authorize/login/" in response["Location"]
    assert "code" in _answer(flow.follow(response))

    after = _rows()
    assert [u[:3] for u in after["users"]] == [u[:3] for u in before["users"]]  # no account made (last_login: now)
    assert after["profiles"] == before["profiles"]
    link = FederatedIdentity.objects.get(provider="national", subject=np_person.sub)
    assert link.user_id == person.pk and not link.created_account
    assert link.last_login_at is not None and link.last_login_at > LONG_AGO
    assert FederatedIdentity.objects.count() == 1
    assert flow.http.session.session_key == key_before  # the same session, signed in again
    assert int(flow.http.session["_auth_user_id"]) == person.pk
    assert _login_row(person)[2] == "national"
    actions = [e.action for e in _audit_after(audit_from)]
    assert Action.AUTH_LOGIN_SUCCESS.value in actions and Action.AUTH_LOGIN_FAILURE.value not in actions


def test_a_refusal_after_linking_leaves_no_link(client, national):  # noqa: F811
    """A national identity whose ID number an account that is not active holds: federated_login links it and
    then refuses — the whole callback is one transaction, so the link and the raised level go with it."""
    from tongban.accounts.models import User

    holder = make_person("gone", phone="13900000004", seq=4, level=1)
    User.objects.filter(pk=holder.pk).update(is_active=False)
    np = national.add_person(name="张三丰", id_number=holder.id_number, level=2)
    national.sign_in(np)
    rows = _rows()
    url = _to_national(client, "/login/national/?next=/me/")
    answer = requests.get(url, allow_redirects=False, timeout=10)
    response = client.get(answer.headers["Location"][len("http://testserver"):])
    assert response.status_code == 403 and "该账号已注销或停用" in response.content.decode()
    assert _rows() == rows
    assert "_auth_user_id" not in client.session


def test_an_error_half_way_through_the_callback_leaves_nothing_half_written(client, national,  # noqa: F811
                                                                            monkeypatch):
    """The account made for a new national identity, its link and its audit entry are written in the same
    transaction as the sign-in: a failure signing in leaves none of them."""
    from tongban.sso import federation

    np = national.add_person(name="赵六", id_number=resident_id(5), level=2)
    national.sign_in(np)
    rows, audit_from = _rows(), _last_audit_id()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("the session store is down")

    monkeypatch.setattr(federation, "django_login", broken)
    url = _to_national(client, "/login/national/?next=/me/")
    answer = requests.get(url, allow_redirects=False, timeout=10)
    with pytest.raises(RuntimeError):
        client.get(answer.headers["Location"][len("http://testserver"):])
    assert _rows() == rows
    assert _audit_after(audit_from) == []


def test_federated_account_finds_without_writing(person):
    """The read behind the same-person check: by the link, else by the verified ID number's blind index,
    else None (federated_login would make an account); an unverified identity with no link is refused."""
    from tongban.core.errors import TongbanError
    from tongban.sso.federation import federated_account

    rows = _rows()
    assert federated_account(subject="np-x", level=2, id_number=person.id_number, name="张三丰").pk == person.pk
    assert federated_account(subject="np-x", level=2, id_number=resident_id(6), name="钱七") is None
    other = make_person("p7", phone="13900000007", seq=7)
    _link(other, "np-y")
    rows = _rows()
    # The link decides, whatever ID number the token carries.
    assert federated_account(subject="np-y", level=2, id_number=person.id_number, name="张三丰").pk == other.pk
    with pytest.raises(TongbanError) as refused:
        federated_account(subject="np-z", level=0, id_number=resident_id(8), name="孙八")
    assert refused.value.code == "federation_refused"
    assert _rows() == rows


def test_an_identity_linked_to_another_account_after_the_check_is_still_refused(flow, person, national,  # noqa: F811
                                                                                monkeypatch):
    """The same-person check reads before the transaction writes; should the national identity be linked to
    another account in between (a concurrent sign-in), the account federated_login returns is checked again
    and everything it wrote is rolled back."""
    from tongban.sso import federation

    other = make_person("p9", phone="13900000009", seq=9, name="李四")
    other_np = national.add_person(name="李四", id_number=other.id_number, level=2)
    _link(other, other_np.sub)
    monkeypatch.setattr(federation, "federated_account", lambda **kwargs: person)  # the check saw no link yet
    flow.code()
    _signed_in_at(person, _hours_ago(1))

    _refused_at_national(flow, national, person, other.id_number, code="federation_different_person",
                         reason="different_person", secrets=(other.id_number, "李四"))


def test_a_link_made_concurrently_to_an_inactive_account_is_refused(person, monkeypatch):
    """federated_login's race recovery (another sign-in of the same national identity linked it between the
    look-up and the insert): the account it then returns is checked like any linked one, so a deactivated
    account is refused, not signed in."""
    from tongban.core.errors import TongbanError
    from tongban.sso import federation

    _link(person, "np-race")
    type(person).objects.filter(pk=person.pk).update(is_active=False)
    real, calls = federation._linked, []

    def linked_after_the_first_look(subject: str) -> Any:
        calls.append(subject)
        return None if len(calls) == 1 else real(subject)

    monkeypatch.setattr(federation, "_linked", linked_after_the_first_look)
    with pytest.raises(TongbanError) as refused:
        federation.federated_login(subject="np-race", level=2, id_number=resident_id(11), name="周九")
    assert refused.value.code == "federation_refused"
    assert len(calls) == 2  # the insert collided with the existing link and the recovery looked it up again
