"""The generator's data: valid numbers, the card validity rule, realistic shares, determinism."""

from __future__ import annotations

import collections
import datetime
import io
import re

from stdnum.cn import ric

from tests.registry.conftest import AS_OF, SEED, rows
from tongban.registry.generator import tables
from tongban.registry.generator.dataset import build_dataset


def _age(birth: datetime.date, on: datetime.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _plus_years(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year
        return day.replace(year=day.year + years, day=28)


def _d(value: str | None) -> datetime.date | None:
    return None if value is None else datetime.date.fromisoformat(value)


def test_citizen_numbers_are_valid_and_unique(dataset):
    people = rows(dataset.tables["population_person"])
    numbers = [p["id_number"] for p in people]
    assert len(set(numbers)) == len(numbers)
    for p in people:
        # stdnum checks the length, the check digit, the birth date and that the region code existed
        # in the birth year.
        assert ric.validate(p["id_number"]) == p["id_number"]
        assert ric.get_birth_date(p["id_number"]) == _d(p["birth_date"])


def test_sex_parity(dataset):
    for p in rows(dataset.tables["population_person"]):
        odd = int(p["id_number"][16]) % 2 == 1
        assert odd == (p["sex"] == "1"), p


def test_region_and_ethnicity_codes(dataset):
    current = {r.code for r in tables.regions() if r.current}
    ethnicities = {code for code, _, _ in tables.ETHNICITIES}
    people = rows(dataset.tables["population_person"])
    for p in people:
        assert p["region_code"] in current
        assert p["ethnicity"] in ethnicities
        assert p["address"].startswith(next(r.province for r in tables.regions() if r.code == p["region_code"]))
    shares = collections.Counter(p["ethnicity"] for p in people)
    assert 0.88 < shares["01"] / len(people) < 0.94  # 汉族 91.1 % in the 2020 census
    assert len(shares) > 20


def test_population_shares(dataset):
    people = rows(dataset.tables["population_person"])
    n = len(people)
    status = collections.Counter(p["status"] for p in people)
    assert 0.004 < status["deceased"] / n < 0.011
    assert 0.001 < status["cancelled"] / n < 0.006
    assert 0.0005 < status["emigrated"] / n < 0.005
    males = sum(p["sex"] == "1" for p in people) / n
    assert 0.49 < males < 0.535
    ages = [_age(_d(p["birth_date"]), AS_OF) for p in people]
    assert 0.15 < sum(a < 15 for a in ages) / n < 0.20
    assert 0.16 < sum(a >= 60 for a in ages) / n < 0.22
    # Given names: mostly two characters, some one.
    lengths = collections.Counter(len(p["name"]) for p in people)
    assert lengths[3] > lengths[2] > 0


def test_card_validity_follows_the_age_rule(dataset):
    births = {p["id_number"]: _d(p["birth_date"]) for p in rows(dataset.tables["population_person"])}
    for card in rows(dataset.tables["idcard_card"]):
        birth = births[card["id_number"]]
        start, end = _d(card["valid_from"]), _d(card["valid_to"])
        assert birth <= start <= AS_OF
        age = _age(birth, start)
        if age < 16:
            assert end == _plus_years(start, 5)
        elif age <= 25:
            assert end == _plus_years(start, 10)
        elif age <= 45:
            assert end == _plus_years(start, 20)
        else:
            assert end is None  # 长期


def test_card_histories(dataset):
    people = {p["id_number"]: p for p in rows(dataset.tables["population_person"])}
    by_person = collections.defaultdict(list)
    for card in rows(dataset.tables["idcard_card"]):
        by_person[card["id_number"]].append(card)
    current_status = collections.Counter()
    for number, cards in by_person.items():
        cards.sort(key=lambda c: c["valid_from"])
        assert [c["issue_reason"] for c in cards].count("first") == 1
        assert cards[0]["issue_reason"] == "first"
        for older in cards[:-1]:
            assert older["status"] in {"void", "expired"}
        current = cards[-1]
        current_status[current["status"]] += 1
        end = _d(current["valid_to"])
        if current["status"] == "valid":
            assert end is None or end >= AS_OF
        if current["status"] == "expired":
            assert end is not None and end < AS_OF
        if people[number]["status"] != "normal":
            assert current["status"] == "void"
        assert len({c["name"] for c in cards}) == 1 and cards[0]["name"] == people[number]["name"]
    holders = len(by_person)
    assert 0.008 < current_status["lost"] / holders < 0.025
    assert 0.018 < current_status["expired"] / holders < 0.045
    reasons = collections.Counter(c["issue_reason"] for c in rows(dataset.tables["idcard_card"]))
    assert reasons["renewal"] > reasons["replacement"] > 0
    # Everyone 16 and over has a card; about 40 % of children do.
    children = [n for n, p in people.items() if _age(_d(p["birth_date"]), AS_OF) < 16]
    adults = [n for n, p in people.items() if _age(_d(p["birth_date"]), AS_OF) >= 16]
    assert all(n in by_person for n in adults)
    assert 0.33 < sum(n in by_person for n in children) / len(children) < 0.47


ORDINARY_PLATE = re.compile(r"^[京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新][A-HJ-NP-Z][A-HJ-NP-Z0-9]{5}$")
NEW_ENERGY_PLATE = re.compile(r"^[京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新][A-HJ-NP-Z][DF][A-HJ-NP-Z0-9]\d{4}$")


def test_vehicles_and_licences(dataset):
    people = {p["id_number"]: p for p in rows(dataset.tables["population_person"])}
    adults = [p for p in people.values() if _age(_d(p["birth_date"]), AS_OF) >= 18]
    vehicles = rows(dataset.tables["traffic_vehicle"])
    plates = [v["plate"] for v in vehicles]
    assert len(set(plates)) == len(plates)
    for v in vehicles:
        pattern = NEW_ENERGY_PLATE if v["plate_type"] == "52" else ORDINARY_PLATE
        assert pattern.match(v["plate"]), v
        if v["plate_type"] == "02":
            assert sum(c.isalpha() for c in v["plate"][2:]) <= 2
        owner = people[v["owner_id_number"]]
        assert owner["status"] == "normal" and owner["name"] == v["owner_name"]
        assert re.fullmatch(r"1[3-9]\d{9}", v["owner_phone"])
        assert _age(_d(owner["birth_date"]), _d(v["registered_on"])) >= 18
    owners = {v["owner_id_number"] for v in vehicles}
    assert 0.20 < len(owners) / len(adults) < 0.30
    new_energy = sum(v["plate_type"] == "52" for v in vehicles) / len(vehicles)
    assert 0.11 < new_energy < 0.19
    licences = rows(dataset.tables["traffic_licence"])
    assert 0.38 < len(licences) / len(adults) < 0.52
    classes = collections.Counter(lic["licence_class"] for lic in licences)
    assert classes.most_common(1)[0][0] == "C1"
    for lic in licences:
        assert lic["licence_number"] in people
        first = _d(lic["first_issued"])
        assert _age(_d(people[lic["licence_number"]]["birth_date"]), first) >= 18
        assert _d(lic["cycle_start"]) <= AS_OF < _plus_years(_d(lic["cycle_start"]), 1)
        assert lic["valid_to"] is None or _d(lic["valid_to"]) in {_plus_years(first, 6), _plus_years(first, 16)}


def test_hong_kong_and_macao_residents(dataset):
    permits = rows(dataset.tables["exitentry_permit"])
    assert len(permits) == round(20_000 * 0.005)
    regions = collections.Counter(p["region"] for p in permits)
    assert regions["HK"] > regions["MO"] > 0
    for p in permits:
        assert re.fullmatch(r"[HM]\d{8}", p["permit_number"])
        assert p["permit_number"][0] == ("H" if p["region"] == "HK" else "M")
        assert 0 <= int(p["issue_count"]) <= 99
        assert re.fullmatch(r"[A-Z]+( [A-Z][a-z]+)+", p["name_en"])
        number = p["residence_permit_number"]
        if number is not None:
            assert number[:6] == ("810000" if p["region"] == "HK" else "820000")
            assert number[-1] == ric.calc_check_digit(number)
            assert number[6:14] == p["birth_date"].replace("-", "")
            assert (int(number[16]) % 2 == 1) == (p["sex"] == "1")
        years = 10 if _age(_d(p["birth_date"]), _d(p["valid_from"])) >= 18 else 5
        assert _d(p["valid_to"]) == _plus_years(_d(p["valid_from"]), years)
    assert any(p["residence_permit_number"] for p in permits)


def test_same_seed_same_data_other_seed_other_data():
    first = build_dataset(1_500, SEED, AS_OF)
    again = build_dataset(1_500, SEED, AS_OF)
    other = build_dataset(1_500, SEED + 1, AS_OF)
    for name, table in first.tables.items():
        assert table.data == again.tables[name].data, name
        assert table.data != other.tables[name].data, name


def test_photos_are_real_jpeg_faces():
    from PIL import Image

    from tongban.registry.generator.photos import photos

    items = photos()
    assert len(items) == 102
    assert [p.id for p in items] == list(range(1, 103))
    assert len({p.image for p in items}) == len(items)
    for p in items:
        image = Image.open(io.BytesIO(p.image))
        assert image.format == "JPEG" and image.size == (p.width, p.height)


def test_cards_reference_existing_photos(dataset):
    ids = {int(card["photo_id"]) for card in rows(dataset.tables["idcard_card"])}
    assert ids <= set(range(1, 103)) and len(ids) > 90
