"""Identity checks at /me/identity/ ask the authoritative sources: limited per account and per client address
(issue 11, item 11 — one unverified account had made 62 checks in a second, an oracle for name and number
pairs). A refused check never reaches the sources and is audited."""

from __future__ import annotations

import dataclasses

import pytest
from django.test import Client

from tests.accounts.conftest import past_cooldown
from tests.accounts.test_citizen_flows import register
from tongban.audit.models import AuditEntry

pytestmark = pytest.mark.django_db(databases="__all__")

TOO_MANY = "实名认证尝试过于频繁"


def _limits(settings, **changes):
    settings.TONGBAN_SECURITY = dataclasses.replace(settings.TONGBAN_SECURITY, **changes)


def _check(browser: Client, person: dict, name: str = "王某某"):
    return browser.post("/me/identity/", {"id_type": "resident_id", "id_number": person["id_number"],
                                          "name": name, "level": "1"})


def _source_checks() -> int:
    return AuditEntry.objects.filter(action="verification.request").count()


def test_checks_are_limited_per_account(sms_sim, people, settings):
    _limits(settings, identity_checks_per_account=3, identity_checks_per_address=100)
    browser = Client()
    user = register(browser, sms_sim)
    person = people.mainland[0]
    for _ in range(3):
        assert "姓名与证件号码不一致" in _check(browser, person).content.decode()
    assert _source_checks() == 3
    response = _check(browser, person, name=person["name"])  # even the true pair: the account is over its limit
    assert response.status_code == 422 and TOO_MANY in response.content.decode()
    assert _source_checks() == 3
    refused = AuditEntry.objects.filter(subject_id=str(user.pk), details__event="identity_refused",
                                        details__reason="rate_limited")
    assert refused.count() == 1 and refused.get().outcome == "denied"


def test_checks_are_limited_per_address(sms_sim, people, settings):
    _limits(settings, identity_checks_per_account=100, identity_checks_per_address=3)
    person = people.mainland[0]
    first, second = Client(), Client()
    register(first, sms_sim, phone="13600000011")
    past_cooldown()
    other = register(second, sms_sim, phone="13600000012")
    for browser in (first, first, second):
        assert "姓名与证件号码不一致" in _check(browser, person).content.decode()
    assert TOO_MANY in _check(second, person).content.decode()
    # The same account from another address is not refused.
    elsewhere = Client(REMOTE_ADDR="198.51.100.44")
    elsewhere.force_login(other)
    assert "姓名与证件号码不一致" in _check(elsewhere, person).content.decode()
    assert _source_checks() == 4
