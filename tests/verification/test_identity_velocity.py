"""The identity velocity is counted per caller (issue 11, item 11). It used to be one count per ID number
shared by every channel: twenty junk attempts on one person's number through the portal made the partner
API refuse that person's true name and number (429 identity_throttled, for up to an hour, repeatable). Now
the caller past its limit is refused, alone; every caller together raise the velocity alert; the true pair
is still served to everyone else."""

from __future__ import annotations

import dataclasses

import pytest

from tests.verification.test_services import _flush_every_call, claim_for, perform  # noqa: F401  (a fixture)
from tongban.audit.actions import Action
from tongban.audit.models import AuditEntry
from tongban.audit.services import Actor
from tongban.core.errors import TongbanError
from tongban.partners.models import AbuseAlert, AlertKind
from tongban.verification.services import identity_reference

pytestmark = pytest.mark.django_db(databases="__all__")


def _limits(settings, **changes):
    settings.TONGBAN_PARTNERS = dataclasses.replace(settings.TONGBAN_PARTNERS, **changes)


def test_one_callers_junk_attempts_do_not_block_the_person_elsewhere(registry, settings):
    _limits(settings, identity_limit_per_hour=3, identity_alert_per_hour=100)
    person = registry.person(card="valid")
    prankster = Actor("user", "1001")
    for _ in range(3):
        assert not perform(claim_for(person, name="张冒名"), actor=prankster).passed
    with pytest.raises(TongbanError) as info:
        perform(claim_for(person, name="张冒名"), actor=prankster)
    assert info.value.code == "identity_throttled"
    # A partner app, and the person at the portal from their own account, are served the true pair.
    assert perform(claim_for(person), actor=Actor.partner_app("pa_other"), channel="partner_api").passed
    assert perform(claim_for(person), actor=Actor("user", "2002")).passed
    # The caller that was refused raised the alert (once an hour).
    [alert] = AbuseAlert.objects.all()
    assert alert.kind == AlertKind.IDENTITY_VELOCITY
    assert alert.subject_ref == identity_reference("resident_id", person.id_number)
    entry = AuditEntry.objects.get(action=Action.PARTNER_ABUSE_ALERT)
    assert entry.details["refused"] is True and entry.actor_id == "1001"


def test_many_callers_together_raise_the_alert_and_are_still_served(registry, settings):
    _limits(settings, identity_limit_per_hour=20, identity_alert_per_hour=3)
    person = registry.person(card="valid")
    for n in range(6):
        assert perform(claim_for(person), actor=Actor("user", f"30{n}")).passed
    [alert] = AbuseAlert.objects.all()  # once an hour, however many more
    assert alert.kind == AlertKind.IDENTITY_VELOCITY and alert.count == 4
    entry = AuditEntry.objects.get(action=Action.PARTNER_ABUSE_ALERT)
    assert entry.details["refused"] is False


def test_the_alert_threshold_comes_from_the_environment(monkeypatch):
    from config import env

    assert env.load_partners().identity_alert_per_hour == 20
    monkeypatch.setenv("TONGBAN_PARTNER_IDENTITY_ALERT_PER_HOUR", "50")
    assert env.load_partners().identity_alert_per_hour == 50
