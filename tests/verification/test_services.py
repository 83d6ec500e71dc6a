"""verification_perform: the engine plus audit, metering and the abuse controls, for every channel."""

from __future__ import annotations

import dataclasses

import pytest

from tests.verification.conftest import AS_OF
from tongban.audit.actions import Action
from tongban.audit.models import AuditEntry
from tongban.audit.services import Actor
from tongban.core.errors import TongbanError
from tongban.partners import metering
from tongban.partners.models import AbuseAlert, AlertKind, UsageCounter
from tongban.registry import interfaces
from tongban.registry.interfaces import SourceUnavailable
from tongban.verification.engine import IdentityClaim
from tongban.verification.levels import AssuranceLevel
from tongban.verification.reasons import ReasonCode
from tongban.verification.services import identity_reference, verification_perform

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture(autouse=True)
def _flush_every_call(settings):
    settings.TONGBAN_PARTNERS = dataclasses.replace(settings.TONGBAN_PARTNERS, meter_flush_seconds=0)
    metering.discard()
    yield
    metering.discard()


def claim_for(person, *, name=None):
    start, end, _ = person.current
    return IdentityClaim(id_type="resident_id", id_number=person.id_number,
                         name=person.name if name is None else name,
                         card_valid_from=start, card_valid_to=end, card_long_term=end is None)


def perform(claim, level=AssuranceLevel.L2, **kw):
    kw.setdefault("purpose", "gov_service")
    kw.setdefault("actor", Actor.system("tests"))
    kw.setdefault("channel", "portal")
    return verification_perform(claim=claim, level=level, **kw)


def _entries():
    return list(AuditEntry.objects.filter(action=Action.VERIFICATION_REQUEST).order_by("id"))


def test_a_pass_is_audited_by_reference_and_metered(registry):
    person = registry.person(card="valid")
    outcome = perform(claim_for(person), verification_id="vf_test")
    assert outcome.passed and outcome.reached is AssuranceLevel.L2
    [entry] = _entries()
    assert entry.subject_type == "identity"
    assert entry.subject_id == identity_reference("resident_id", person.id_number)
    assert entry.outcome == "success"
    assert entry.details["verification_id"] == "vf_test"
    assert entry.details["verdicts"] == ["id_number=consistent", "name=consistent", "card_validity=consistent"]
    text = repr(entry.__dict__)
    assert person.id_number not in text and person.name not in text
    [counter] = UsageCounter.objects.all()
    assert (counter.day, counter.app_key, counter.level, counter.outcome, counter.count) == (
        AS_OF, "channel:portal", "l2", "passed", 1)


def test_inconsistent_name_is_audited_with_the_fine_reason(registry):
    person = registry.person(card="valid")
    outcome = perform(claim_for(person, name="王不对"), level=AssuranceLevel.L1)
    assert not outcome.passed and outcome.reason is ReasonCode.IDENTITY_INCONSISTENT
    [entry] = _entries()
    assert entry.details["audit_reason"] == "name_inconsistent"
    assert entry.outcome == "failure"
    assert UsageCounter.objects.get().outcome == "inconsistent"


def test_invalid_input_is_refused_audited_and_metered(registry):
    with pytest.raises(TongbanError) as info:
        perform(IdentityClaim(id_type="resident_id", id_number="110105199001011235", name="张三"))
    assert info.value.code == "id_checksum"
    [entry] = _entries()
    assert entry.details["error"] == "id_checksum" and entry.subject_id == ""
    assert UsageCounter.objects.get().outcome == "invalid"


def test_source_unavailable_never_passes_and_is_metered_as_such(registry, monkeypatch):
    def down(*args, **kwargs):
        raise SourceUnavailable("down")

    monkeypatch.setattr(interfaces.population(), "compare", down)
    outcome = perform(claim_for(registry.person(card="valid")))
    assert not outcome.passed and outcome.reason is ReasonCode.SOURCE_UNAVAILABLE
    assert _entries()[0].outcome == "error"
    assert UsageCounter.objects.get().outcome == "source_unavailable"


def test_identity_velocity_throttles_the_caller_and_alerts_once(registry, settings):
    settings.TONGBAN_PARTNERS = dataclasses.replace(settings.TONGBAN_PARTNERS, identity_limit_per_hour=3)
    person = registry.person(card="valid")
    for channel in ("portal", "backoffice", "portal"):
        assert perform(claim_for(person), channel=channel).passed
    for _ in range(2):
        with pytest.raises(TongbanError) as info:
            perform(claim_for(person))
        assert info.value.code == "identity_throttled"
        assert int(info.value.headers["Retry-After"]) > 0
    [alert] = AbuseAlert.objects.all()
    assert alert.kind == AlertKind.IDENTITY_VELOCITY
    assert alert.subject_ref == identity_reference("resident_id", person.id_number)
    assert person.id_number not in repr(alert.__dict__)
    assert AuditEntry.objects.filter(action=Action.PARTNER_ABUSE_ALERT).count() == 1
    denied = [e for e in _entries() if e.outcome == "denied"]
    assert len(denied) == 2 and all(e.details["error"] == "identity_throttled" for e in denied)
    # Another person is not affected.
    other = next(p for p in registry.people.values()
                 if p.status == "normal" and p.current and p.current[2] == "valid" and p.id_number != person.id_number)
    assert perform(claim_for(other)).passed


def test_the_reference_does_not_look_like_personal_data():
    from tests.verification.conftest import resident_number
    from tongban.core.masking import scrub

    for i in range(300):
        number = resident_number(f"11010519900101{i:03d}")
        ref = identity_reference("resident_id", number)
        assert scrub(ref) == ref
