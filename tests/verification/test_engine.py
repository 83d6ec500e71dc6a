"""The verification engine against a generated registry: levels, verdicts, reasons, and what it never says."""

from __future__ import annotations

import dataclasses
import datetime
import json

import pytest
from django.db import OperationalError, connections
from django.test.utils import CaptureQueriesContext

from tests.verification.conftest import AS_OF, resident_number
from tongban.core.errors import TongbanError
from tongban.registry import interfaces
from tongban.registry.interfaces import CardCheck, CardStatus, SourceUnavailable
from tongban.verification.engine import IdentityClaim, VerificationOutcome, verify
from tongban.verification.levels import AssuranceLevel
from tongban.verification.reasons import FieldVerdict, ReasonCode

pytestmark = pytest.mark.django_db(databases="__all__")

L1, L2, L3, NONE = AssuranceLevel.L1, AssuranceLevel.L2, AssuranceLevel.L3, AssuranceLevel.NONE
C, INC, U, N = (FieldVerdict.CONSISTENT, FieldVerdict.INCONSISTENT, FieldVerdict.SOURCE_UNAVAILABLE,
              FieldVerdict.NOT_CHECKED)


def claim_for(person, *, name=None, card=None, number=None):
    """A resident claim for `person`, with the given card's validity (default: the current card)."""
    start, end, _ = card or person.current or (None, None, None)
    return IdentityClaim(
        id_type="resident_id",
        id_number=number or person.id_number,
        name=person.name if name is None else name,
        card_valid_from=start,
        card_valid_to=end,
        card_long_term=start is not None and end is None,
    )


def permit_claim(row, *, name=None, with_count=False, count=None):
    number = row["permit_number"]
    if with_count:
        number += f"{row['issue_count'] if count is None else count:02d}"
    return IdentityClaim(id_type="hk_macao_permit", id_number=number, name=row["name_zh"] if name is None else name)


def _leaves(value):
    """Every leaf of an outcome: enum members, bools, ints and the strings it carries."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            yield from _leaves(getattr(value, f.name))
    elif isinstance(value, dict) or hasattr(value, "items"):
        for k, v in value.items():
            yield k
            yield from _leaves(v)
    elif isinstance(value, tuple | list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


FIELD_NAMES = {"id_number", "name", "card_validity", "issue_count"}
SOURCE_NAMES = {"population", "idcard", "exitentry"}


def assert_reveals_nothing(outcome: VerificationOutcome, *secrets):
    """Only codes: enum members, booleans, field and source names — and none of the source's data."""
    assert isinstance(outcome, VerificationOutcome)
    for leaf in _leaves(outcome):
        if isinstance(leaf, FieldVerdict | ReasonCode | AssuranceLevel | bool) or leaf is None:
            continue
        assert isinstance(leaf, str) and leaf in FIELD_NAMES | SOURCE_NAMES, leaf
    text = repr(outcome) + json.dumps(outcome.public(), ensure_ascii=False)
    for secret in secrets:
        if secret is None:
            continue
        for form in {str(secret), secret.isoformat() if isinstance(secret, datetime.date) else str(secret)}:
            assert form not in text, form


def assert_person_not_revealed(outcome, person):
    assert_reveals_nothing(outcome, person.name, person.address, person.birth_date, person.id_number,
                           person.birth_date.strftime("%Y%m%d"),
                           *(d for card in person.cards for d in card[:2]))


# --- L1 (实名) ----------------------------------------------------------------------------------------


def test_l1_passes_for_a_normal_person(registry):
    person = registry.person()
    outcome = verify(claim_for(person), level=L1)
    assert outcome.passed and outcome.reached is L1 and outcome.reason is None
    assert dict(outcome.fields) == {"id_number": C, "name": C, "card_validity": N}
    assert outcome.sources_consulted == ("population",)
    assert outcome.acr == "urn:tongban:acr:l1"
    assert_person_not_revealed(outcome, person)


def test_l1_input_is_normalised(registry):
    person = registry.person()
    number = person.id_number.lower() if person.id_number.endswith("X") else " " + person.id_number + " "
    outcome = verify(claim_for(person, number=number, name=f"  {person.name} "), level=L1)
    assert outcome.passed


def test_name_mismatch_and_unknown_number_give_the_same_answer(registry):
    person = registry.person()
    wrong_name = verify(claim_for(person, name=person.name + "某"), level=L1)
    assert not wrong_name.passed and wrong_name.reached is NONE
    assert wrong_name.reason is ReasonCode.IDENTITY_INCONSISTENT
    assert wrong_name.audit_reason is ReasonCode.NAME_INCONSISTENT
    assert dict(wrong_name.fields) == {"id_number": INC, "name": INC, "card_validity": N}

    unknown = verify(claim_for(person, number=resident_number("11010119000101001")), level=L1)  # valid, not registered
    assert unknown.reason is ReasonCode.IDENTITY_INCONSISTENT and unknown.audit_reason is ReasonCode.NOT_FOUND
    # What a caller sees cannot tell "no such number" from "another name".
    assert unknown.public() == wrong_name.public()
    assert_person_not_revealed(wrong_name, person)


@pytest.mark.parametrize(("status", "reason"), [
    ("deceased", ReasonCode.DECEASED), ("cancelled", ReasonCode.CANCELLED), ("emigrated", ReasonCode.EMIGRATED),
])
def test_status_is_told_only_when_name_and_number_agree(registry, status, reason):
    person = registry.person(status=status)
    outcome = verify(claim_for(person), level=L1)
    assert not outcome.passed and outcome.reached is NONE and outcome.reason is reason
    assert outcome.fields["id_number"] is C and outcome.fields["name"] is C
    assert_person_not_revealed(outcome, person)
    # With a wrong name the status stays hidden: the answer is the plain inconsistency.
    hidden = verify(claim_for(person, name=person.name + "某"), level=L1)
    assert hidden.reason is ReasonCode.IDENTITY_INCONSISTENT
    # L2 for them stops at L1's failure: the card source is not asked.
    l2 = verify(claim_for(person), level=L2)
    assert l2.reason is reason and l2.fields["card_validity"] is N and l2.sources_consulted == ("population",)


# --- L2 (实证) ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("long_term", [False, True])
def test_l2_passes_with_the_current_valid_card(registry, long_term):
    person = registry.person(card="valid", long_term=long_term)
    outcome = verify(claim_for(person), level=L2)
    assert outcome.passed and outcome.reached is L2 and outcome.reason is None
    assert dict(outcome.fields) == {"id_number": C, "name": C, "card_validity": C}
    assert outcome.sources_consulted == ("population", "idcard")
    assert outcome.acr == "urn:tongban:acr:l2"
    assert_person_not_revealed(outcome, person)


def test_l2_costs_one_query_per_source(registry):
    person = registry.person(card="valid")
    with CaptureQueriesContext(connections["population"]) as pop, CaptureQueriesContext(connections["idcard"]) as card:
        assert verify(claim_for(person), level=L2).passed
    assert len(pop) == 1 and len(card) == 1
    with CaptureQueriesContext(connections["idcard"]) as card:
        assert verify(claim_for(person), level=L1).passed
    assert len(card) == 0


def test_l2_wrong_dates(registry):
    person = registry.person(card="valid")
    start, end, _ = person.current
    wrong = (start + datetime.timedelta(days=1), end, "valid")
    outcome = verify(claim_for(person, card=wrong), level=L2)
    assert not outcome.passed and outcome.reached is L1
    assert outcome.reason is ReasonCode.CARD_VALIDITY_INCONSISTENT
    assert dict(outcome.fields) == {"id_number": C, "name": C, "card_validity": INC}
    assert_person_not_revealed(outcome, person)


def test_l2_an_older_card_is_superseded(registry):
    person = registry.person(card="valid", cards_min=2)
    outcome = verify(claim_for(person, card=person.cards[-2]), level=L2)
    assert outcome.reached is L1 and outcome.reason is ReasonCode.CARD_SUPERSEDED
    assert outcome.fields["card_validity"] is INC
    assert_person_not_revealed(outcome, person)


@pytest.mark.parametrize(("card_status", "reason"), [("lost", ReasonCode.CARD_LOST), ("expired", ReasonCode.CARD_EXPIRED)])
def test_l2_current_card_status(registry, card_status, reason):
    person = registry.person(card=card_status)
    outcome = verify(claim_for(person), level=L2)
    assert not outcome.passed and outcome.reached is L1 and outcome.reason is reason
    assert outcome.fields["card_validity"] is C
    assert_person_not_revealed(outcome, person)


def test_l2_void_card(registry):
    # The generator voids only the cards of the dead, cancelled and emigrated: void a live person's card.
    person = registry.person(card="valid")
    start, _, _ = person.current
    with connections["idcard"].cursor() as cursor:
        cursor.execute("UPDATE idcard_card SET status = 'void' WHERE id_number = %s AND valid_from = %s",
                       [person.id_number, start])
    outcome = verify(claim_for(person), level=L2)
    assert outcome.reached is L1 and outcome.reason is ReasonCode.CARD_VOID


def test_l2_status_of_a_card_is_hidden_unless_its_dates_match(registry):
    person = registry.person(card="lost")
    start, end, _ = person.current
    outcome = verify(claim_for(person, card=(start - datetime.timedelta(days=3), end, "")), level=L2)
    assert outcome.reason is ReasonCode.CARD_VALIDITY_INCONSISTENT


def test_l2_a_valid_card_past_its_end_date_is_expired(registry, monkeypatch):
    from tongban.core import clock

    person = registry.person(card="valid", long_term=False)
    monkeypatch.setattr(clock, "today_local", lambda: person.current[1] + datetime.timedelta(days=1))
    outcome = verify(claim_for(person), level=L2)
    assert outcome.reached is L1 and outcome.reason is ReasonCode.CARD_EXPIRED
    monkeypatch.setattr(clock, "today_local", lambda: person.current[1])  # the last day still counts
    assert verify(claim_for(person), level=L2).passed


def test_l2_person_without_a_card(registry):
    person = registry.person(no_card=True)
    outcome = verify(claim_for(person, card=(datetime.date(2020, 1, 1), datetime.date(2025, 1, 1), "")), level=L2)
    assert outcome.reached is L1 and outcome.reason is ReasonCode.CARD_NOT_FOUND
    assert outcome.fields["card_validity"] is INC


def test_l2_needs_card_dates_before_any_source_is_asked(registry, monkeypatch):
    person = registry.person(card="valid")
    monkeypatch.setattr(interfaces.population(), "compare", _must_not_be_called)
    for claim in [
        claim_for(person, card=(None, None, "")),
        dataclasses.replace(claim_for(person), card_long_term=True, card_valid_to=datetime.date(2040, 1, 1)),
        dataclasses.replace(claim_for(person), card_valid_to=datetime.date(1990, 1, 1), card_long_term=False),
    ]:
        with pytest.raises(TongbanError) as err:
            verify(claim, level=L2)
        assert err.value.code == "card_validity_invalid"


# --- Input, levels ---------------------------------------------------------------------------------


def _must_not_be_called(*args, **kwargs):
    raise AssertionError("the source must not be asked")


@pytest.mark.parametrize(("number", "code"), [
    ("11010119900307451", "id_format"), ("110101199003074515", "id_checksum"), ("H12", "travel_permit_format"),
])
def test_invalid_numbers_are_refused_before_any_source_is_asked(monkeypatch, number, code):
    monkeypatch.setattr(interfaces.population(), "compare", _must_not_be_called)
    monkeypatch.setattr(interfaces.exitentry(), "compare", _must_not_be_called)
    id_type = "hk_macao_permit" if code.startswith("travel") else "resident_id"
    with pytest.raises(TongbanError) as err:
        verify(IdentityClaim(id_type=id_type, id_number=number, name="张三"), level=L1)
    assert err.value.code == code and err.value.http_status() == 422


@pytest.mark.parametrize("name", ["", "   ", "张\x00三", "x" * 101])
def test_invalid_names_are_refused(name):
    with pytest.raises(TongbanError) as err:
        verify(IdentityClaim(id_type="resident_id", id_number="110101199003074514", name=name), level=L1)
    assert err.value.code == "name_invalid"


def test_unknown_id_type_is_refused():
    with pytest.raises(TongbanError) as err:
        verify(IdentityClaim(id_type="passport", id_number="E12345678", name="张三"), level=L1)  # type: ignore[arg-type]
    assert err.value.code == "validation_error" and err.value.details[0]["field"] == "id_type"


@pytest.mark.parametrize("level", [L3, NONE])
@pytest.mark.parametrize("id_type", ["resident_id", "hk_macao_permit"])
def test_unsupported_levels_answer_level_not_supported(monkeypatch, level, id_type):
    monkeypatch.setattr(interfaces.population(), "compare", _must_not_be_called)
    monkeypatch.setattr(interfaces.exitentry(), "compare", _must_not_be_called)
    number = "110101199003074514" if id_type == "resident_id" else "H12345678"
    outcome = verify(IdentityClaim(id_type=id_type, id_number=number, name="张三"), level=level)
    assert not outcome.passed and outcome.reached is NONE
    assert outcome.reason is ReasonCode.LEVEL_NOT_SUPPORTED and outcome.sources_consulted == ()
    assert set(outcome.fields.values()) == {N}


def test_claim_repr_hides_number_and_name():
    claim = IdentityClaim(id_type="resident_id", id_number="110101199003074514", name="张三",
                          card_valid_from=datetime.date(2010, 1, 1), card_valid_to=datetime.date(2030, 1, 1))
    assert "110101199003074514" not in repr(claim) and "张三" not in repr(claim) and "2030" not in repr(claim)


def test_outcome_is_frozen(registry):
    outcome = verify(claim_for(registry.person()), level=L1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.passed = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        outcome.fields["name"] = INC  # type: ignore[index]


# --- Hong Kong and Macao residents -----------------------------------------------------------------


def test_hk_macao_passes_by_chinese_and_by_english_name(registry):
    row = registry.permit(status="valid")
    by_zh = verify(permit_claim(row), level=L2)
    assert by_zh.passed and by_zh.reached is L2 and by_zh.sources_consulted == ("exitentry",)
    assert dict(by_zh.fields) == {"id_number": C, "name": C, "issue_count": N}
    for english in (row["name_en"], row["name_en"].lower(), "  " + row["name_en"].upper().replace(" ", "   ") + " "):
        assert verify(permit_claim(row, name=english), level=L1).passed, english
    assert_reveals_nothing(by_zh, row["name_zh"], row["name_en"], row["birth_date"], row["valid_to"])


def test_hk_macao_wrong_name_and_unknown_permit(registry):
    row = registry.permit(status="valid")
    wrong = verify(permit_claim(row, name="陳大文某"), level=L1)
    assert not wrong.passed and wrong.reason is ReasonCode.IDENTITY_INCONSISTENT
    assert wrong.audit_reason is ReasonCode.NAME_INCONSISTENT
    unknown_number = "M" if row["permit_number"].startswith("H") else "H"
    unknown = verify(permit_claim({**row, "permit_number": unknown_number + "00000001"}), level=L1)
    assert unknown.audit_reason is ReasonCode.NOT_FOUND and unknown.public() == wrong.public()


@pytest.mark.parametrize(("status", "reason"), [("expired", ReasonCode.PERMIT_EXPIRED), ("void", ReasonCode.PERMIT_VOID)])
def test_hk_macao_permit_status(registry, status, reason):
    row = registry.permit(status=status)
    assert verify(permit_claim(row), level=L1).passed  # 实名 holds: the holder is who they say
    outcome = verify(permit_claim(row), level=L2)
    assert not outcome.passed and outcome.reached is L1 and outcome.reason is reason
    assert_reveals_nothing(outcome, row["name_zh"], row["name_en"], row["birth_date"], row["valid_to"])


def test_hk_macao_issue_count(registry):
    row = registry.permit(status="valid", issue_count_min=1)
    current = verify(permit_claim(row, with_count=True), level=L2)
    assert current.passed and current.fields["issue_count"] is C
    older = verify(permit_claim(row, with_count=True, count=row["issue_count"] - 1), level=L2)
    assert not older.passed and older.reached is L1 and older.reason is ReasonCode.PERMIT_SUPERSEDED
    assert older.fields["issue_count"] is INC
    # L1 is about the holder: the issue count is not part of it.
    l1 = verify(permit_claim(row, with_count=True, count=row["issue_count"] - 1), level=L1)
    assert l1.passed and l1.fields["issue_count"] is N


# --- Unavailable sources ---------------------------------------------------------------------------


def _unavailable(*args, **kwargs):
    raise SourceUnavailable("test")


def _db_error(*args, **kwargs):
    raise OperationalError("server closed the connection unexpectedly")


@pytest.mark.parametrize("failure", [_unavailable, _db_error])
def test_population_unavailable_never_passes(registry, monkeypatch, failure):
    person = registry.person(card="valid")
    monkeypatch.setattr(interfaces.population(), "compare", failure)
    for level in (L1, L2):
        outcome = verify(claim_for(person), level=level)
        assert not outcome.passed and outcome.reached is NONE
        assert outcome.reason is ReasonCode.SOURCE_UNAVAILABLE
        assert dict(outcome.fields) == {"id_number": U, "name": U, "card_validity": N}
        assert outcome.sources_consulted == ("population",)


def test_population_database_failing_under_the_source(registry, monkeypatch):
    """The reference source's own error handling: a broken connection becomes SourceUnavailable."""
    person = registry.person()
    connection = connections["population"]

    class Broken:
        def __enter__(self):
            raise OperationalError("could not connect to server")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(connection, "cursor", lambda: Broken())
    outcome = verify(claim_for(person), level=L1)
    assert outcome.reason is ReasonCode.SOURCE_UNAVAILABLE and not outcome.passed


def test_card_source_unavailable_stops_at_l1(registry, monkeypatch):
    person = registry.person(card="valid")
    monkeypatch.setattr(interfaces.idcard(), "current_card_check", _unavailable)
    outcome = verify(claim_for(person), level=L2)
    assert not outcome.passed and outcome.reached is L1 and outcome.reason is ReasonCode.SOURCE_UNAVAILABLE
    assert dict(outcome.fields) == {"id_number": C, "name": C, "card_validity": U}
    assert outcome.sources_consulted == ("population", "idcard")


def test_exitentry_unavailable(registry, monkeypatch):
    row = registry.permit()
    monkeypatch.setattr(interfaces.exitentry(), "compare", _db_error)
    outcome = verify(permit_claim(row), level=L1)
    assert not outcome.passed and outcome.reason is ReasonCode.SOURCE_UNAVAILABLE
    assert outcome.fields["id_number"] is U and outcome.fields["name"] is U


def test_a_source_answering_an_unknown_status_does_not_pass(registry, monkeypatch):
    """Defensive: an answer the engine does not know is never read as valid."""
    person = registry.person(card="valid")
    monkeypatch.setattr(interfaces.idcard(), "current_card_check",
                        lambda *a: CardCheck(found=True, consistent=True, status=None))
    assert not verify(claim_for(person), level=L2).passed
    monkeypatch.setattr(interfaces.idcard(), "current_card_check",
                        lambda *a: CardCheck(found=True, consistent=True, status=CardStatus.VALID))
    assert verify(claim_for(person), level=L2).passed


@pytest.mark.skipif("connections['population'].vendor != 'postgresql'")
def test_statement_timeout_makes_a_slow_source_unavailable(registry, monkeypatch):
    """On PostgreSQL a statement timeout on the source connection turns a hanging query into source_unavailable."""
    person = registry.person()
    source = interfaces.population()
    with connections["population"].cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 100")

    def slow(id_number, name):
        source._one("SELECT pg_sleep(5)", [])
        raise AssertionError("the timeout should have cancelled the query")

    monkeypatch.setattr(source, "compare", slow)
    outcome = verify(claim_for(person), level=L1)
    assert outcome.reason is ReasonCode.SOURCE_UNAVAILABLE and not outcome.passed


def test_today_is_the_generators_reference_date():
    from tongban.core import clock

    assert clock.today_local() == AS_OF


def test_outcome_copies_and_serialises(registry):
    import copy
    import pickle

    outcome = verify(claim_for(registry.person()), level=L1)
    assert pickle.loads(pickle.dumps(outcome)) == outcome
    assert copy.deepcopy(outcome) == outcome
    assert dataclasses.asdict(outcome)["fields"] == {"id_number": C, "name": C, "card_validity": N}
    json.dumps(outcome.public())
