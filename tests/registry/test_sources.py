"""The reference sources answer through their interfaces, from their own databases."""

from __future__ import annotations

import datetime
import io
import json

import pytest
from django.core.management import call_command
from django.db import OperationalError, connections

from tests.registry.conftest import PEOPLE, rows
from tongban.registry import interfaces
from tongban.registry.interfaces import (
    CardStatus,
    ExitEntrySource,
    IdCardSource,
    LicenceStatus,
    PermitStatus,
    PersonStatus,
    PopulationSource,
    SourceUnavailable,
    TrafficSource,
    get_source,
)

pytestmark = pytest.mark.django_db(databases="__all__")


def _d(value):
    return None if value is None else datetime.date.fromisoformat(value)


def _cards_by_person(dataset):
    by_person = {}
    for card in rows(dataset.tables["idcard_card"]):
        by_person.setdefault(card["id_number"], []).append(card)
    for cards in by_person.values():
        cards.sort(key=lambda c: c["valid_from"])
    return by_person


def test_configured_sources_implement_the_interfaces():
    assert isinstance(get_source("population"), PopulationSource)
    assert isinstance(get_source("idcard"), IdCardSource)
    assert isinstance(get_source("traffic"), TrafficSource)
    assert isinstance(get_source("exitentry"), ExitEntrySource)
    for name in interfaces.source_names():
        get_source(name).ping()


def test_generate_loads_every_source(loaded):
    result, dataset = loaded
    assert result.counts["people"] == PEOPLE
    for alias, table in [
        ("population", "population_person"),
        ("idcard", "idcard_card"),
        ("traffic", "traffic_vehicle"),
        ("traffic", "traffic_licence"),
        ("exitentry", "exitentry_permit"),
    ]:
        with connections[alias].cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {table}")
            assert cursor.fetchone()[0] == dataset.tables[table].rows
    with connections["idcard"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM idcard_photo")
        assert cursor.fetchone()[0] == 102


def test_population_compare(loaded):
    _, dataset = loaded
    source = interfaces.population()
    people = rows(dataset.tables["population_person"])
    person = next(p for p in people if p["status"] == "normal")
    assert source.compare(person["id_number"], person["name"]) == interfaces.PersonCompare(
        found=True, name_consistent=True, status=PersonStatus.NORMAL
    )
    assert source.compare(person["id_number"], person["name"] + "某").name_consistent is False
    assert source.compare(person["id_number"].lower(), f" {person['name']} ").name_consistent is True
    dead = next(p for p in people if p["status"] == "deceased")
    assert source.compare(dead["id_number"], dead["name"]).status is PersonStatus.DECEASED
    missing = source.compare("110101190001010000", "张三")
    assert missing.found is False and missing.name_consistent is False and missing.status is None


def test_current_card_check(loaded):
    _, dataset = loaded
    source = interfaces.idcard()
    by_person = _cards_by_person(dataset)
    number, cards = next((n, c) for n, c in by_person.items() if len(c) >= 2 and c[-1]["status"] == "valid")
    current, older = cards[-1], cards[-2]
    answer = source.current_card_check(number, _d(current["valid_from"]), _d(current["valid_to"]))
    assert answer.found and answer.consistent and answer.status is CardStatus.VALID
    old = source.current_card_check(number, _d(older["valid_from"]), _d(older["valid_to"]))
    assert old.found and not old.consistent and old.superseded
    wrong = source.current_card_check(number, datetime.date(1999, 1, 1), None)
    assert wrong.found and not wrong.consistent and not wrong.superseded
    assert source.current_card_check("110101190001010000", datetime.date(2020, 1, 1), None).found is False
    lost = next(n for n, c in by_person.items() if c[-1]["status"] == "lost")
    card = by_person[lost][-1]
    assert source.current_card_check(lost, _d(card["valid_from"]), _d(card["valid_to"])).status is CardStatus.LOST


def test_card_photo(loaded):
    from PIL import Image

    _, dataset = loaded
    source = interfaces.idcard()
    number, cards = next(iter(_cards_by_person(dataset).items()))
    photo = source.card_photo(number)
    assert photo is not None and photo.photo_id == int(cards[-1]["photo_id"])
    assert Image.open(io.BytesIO(photo.image)).format == "JPEG"
    assert source.card_photo("110101190001010000") is None


def test_traffic_lookups(loaded):
    _, dataset = loaded
    source = interfaces.traffic()
    vehicles = rows(dataset.tables["traffic_vehicle"])
    vehicle = vehicles[0]
    owned = source.vehicles_by_owner(vehicle["owner_id_number"])
    assert vehicle["plate"] in {v.plate for v in owned}
    assert all(isinstance(v.registered_on, datetime.date) for v in owned)
    contact = source.owner_contact_for_plate(f" {vehicle['plate'][:2]} {vehicle['plate'][2:].lower()}")
    assert contact == interfaces.OwnerContact(vehicle["plate"], vehicle["owner_id_number"], vehicle["owner_phone"])
    assert source.owner_contact_for_plate("京A00000X") is None
    assert source.vehicles_by_owner("110101190001010000") == ()
    licence = rows(dataset.tables["traffic_licence"])[0]
    info = source.licence_status(licence["licence_number"], licence["name"])
    assert info.found and info.name_consistent
    assert info.licence_class == licence["licence_class"] and info.status is LicenceStatus(licence["status"])
    assert info.points == int(licence["points"]) and info.valid_to == _d(licence["valid_to"])
    assert source.licence_status("110101190001010000").found is False


def test_exit_entry_compare(loaded):
    _, dataset = loaded
    source = interfaces.exitentry()
    permits = rows(dataset.tables["exitentry_permit"])
    permit = permits[0]
    answer = source.compare(permit["permit_number"], permit["name_zh"])
    assert answer.found and answer.name_consistent and answer.status is PermitStatus(permit["status"])
    assert answer.region == permit["region"] and answer.issue_count_consistent is None
    english = source.compare(permit["permit_number"].lower(), permit["name_en"].lower())
    assert english.name_consistent
    with_count = source.compare(f"{permit['permit_number']}{int(permit['issue_count']):02d}", permit["name_zh"])
    assert with_count.issue_count_consistent is True
    stale = source.compare(f"{permit['permit_number']}{int(permit['issue_count']) + 1:02d}", permit["name_zh"])
    assert stale.issue_count_consistent is False
    assert source.compare(permit["permit_number"], "陳大文某").name_consistent is False
    assert source.compare("X12345678", permit["name_zh"]).found is False
    holder = next(p for p in permits if p["residence_permit_number"])
    check = source.residence_permit_check(holder["residence_permit_number"], holder["name_zh"])
    assert check.found and check.name_consistent
    assert source.residence_permit_check("810000199001010000", "陳大文").found is False


def test_database_errors_become_source_unavailable(monkeypatch):
    def broken(*args, **kwargs):
        raise OperationalError("connection refused")

    for name in interfaces.source_names():
        monkeypatch.setattr(connections[name], "cursor", broken)
    with pytest.raises(SourceUnavailable):
        interfaces.population().compare("110101199001011234", "张三")
    with pytest.raises(SourceUnavailable):
        interfaces.idcard().current_card_check("110101199001011234", datetime.date(2020, 1, 1), None)
    with pytest.raises(SourceUnavailable):
        interfaces.traffic().owner_contact_for_plate("京A12345")
    with pytest.raises(SourceUnavailable):
        interfaces.exitentry().compare("H12345678", "陳大文")
    with pytest.raises(SourceUnavailable):
        get_source("population").ping()


def test_no_replace_refuses_to_overwrite(loaded):
    from tongban.registry.generator import generate
    from tongban.registry.generator.writers import DataExists

    with pytest.raises(DataExists):
        generate(people=100, seed=1, replace=False, parallel=False)


def test_replace_gives_the_same_rows_again(loaded):
    from tests.registry.conftest import AS_OF, SEED
    from tongban.registry.generator import generate

    with connections["population"].cursor() as cursor:
        cursor.execute("SELECT id_number, name FROM population_person ORDER BY id_number")
        before = cursor.fetchall()
    generate(people=PEOPLE, seed=SEED, as_of=AS_OF, parallel=False)
    with connections["population"].cursor() as cursor:
        cursor.execute("SELECT id_number, name FROM population_person ORDER BY id_number")
        assert cursor.fetchall() == before


def test_commands_generate_and_sample():
    out = io.StringIO()
    call_command("registry", "generate", "--people", "400", "--seed", "5", "--no-progress", "--json", stdout=out)
    summary = json.loads(out.getvalue())
    assert summary["people"] == 400 and summary["counts"]["cards"] > 300
    out = io.StringIO()
    call_command("registry", "sample", "--n", "4", "--json", stdout=out)
    sample = json.loads(out.getvalue())
    assert len(sample["people"]) == 4
    for person in sample["people"]:
        assert person["status"] == "normal" and person["card"]["status"] == "valid"
        check = interfaces.idcard().current_card_check(
            person["id_number"],
            _d(person["card"]["valid_from"]),
            None if person["card"]["valid_to"] == "长期" else _d(person["card"]["valid_to"]),
        )
        assert check.consistent and check.status is CardStatus.VALID
        assert interfaces.population().compare(person["id_number"], person["name"]).name_consistent
    assert any(person["plate"] for person in sample["people"])
    assert sample["hk_macao"] and all(r["hk_macao"] and r["status"] == "valid" for r in sample["hk_macao"])
    out = io.StringIO()
    call_command("registry", "sample", "--n", "3", stdout=out)
    assert "港澳居民" in out.getvalue()
