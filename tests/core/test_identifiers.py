"""Identifier validators: each failure has its own code; forms and API schemas reject the same values."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from hypothesis import given, settings
from hypothesis import strategies as st
from ninja import Schema
from pydantic import ValidationError
from stdnum.cn import ric, uscc

from tongban.core import identifiers as ids
from tongban.core.errors import CATALOG, TongbanError

TODAY = datetime.date(2026, 3, 1)
CODES = ["id_format", "id_region", "id_birth_date", "id_checksum", "residence_permit_format",
         "residence_permit_birth_date", "residence_permit_checksum", "travel_permit_format", "uscc_format",
         "uscc_checksum", "mobile_invalid", "name_invalid", "card_validity_invalid", "level_not_supported"]


@pytest.fixture(autouse=True)
def _today(monkeypatch):
    from tongban.core import clock

    monkeypatch.setattr(clock, "today_local", lambda: TODAY)


def gb11643(body: str) -> str:
    """17 digits + their check digit."""
    return body + ric.calc_check_digit(body + "0")


def org_code(body: str) -> str:
    return body + ids._org_code_check(body)


def uscc_code(first17: str) -> str:
    return first17 + uscc.calc_check_digit(first17)


def code_of(fn, value, **kwargs) -> str:
    with pytest.raises(TongbanError) as err:
        fn(value, **kwargs)
    return err.value.code


def test_every_code_is_in_the_catalog_with_both_languages():
    for code in CODES:
        status, zh, en = CATALOG[code]
        assert status == 422 and zh and en


# --- Citizen ID number -------------------------------------------------------------------------


def test_valid_resident_id():
    number = gb11643("11010519491231002")
    rid = ids.validate_resident_id(number)
    assert rid.number == number and rid.region_code == "110105"
    assert rid.birth_date == datetime.date(1949, 12, 31) and rid.sex == ids.FEMALE
    assert ids.validate_resident_id(gb11643("36042619910101007")).sex == ids.MALE
    assert ids.validate_resident_id("360426199101010071").number == "360426199101010071"  # stdnum's example


def test_resident_id_is_normalised_and_lowercase_x_accepted():
    body = next(b for b in (f"44030119850512{n:03d}" for n in range(1000)) if gb11643(b).endswith("X"))
    number = gb11643(body)
    assert ids.validate_resident_id(f"  {number.lower()} ").number == number
    assert ids.validate_resident_id(f"{number[:6]} {number[6:14]} {number[14:]}").number == number


def test_resident_id_repr_is_masked():
    rid = ids.validate_resident_id("110105194912310038")
    assert "110105194912310038" not in repr(rid) and "110***********0038" in repr(rid)


@pytest.mark.parametrize("value", ["", "11010519491231002", "1101051949123100381", "11010519491231002Y",
                                   "X10105194912310021", "11010519491231002１", None])
def test_resident_id_format(value):
    assert code_of(ids.validate_resident_id, value) == "id_format"


def test_resident_id_checksum():
    number = gb11643("11010519491231002")
    wrong = number[:-1] + ("0" if number[-1] != "0" else "1")
    assert code_of(ids.validate_resident_id, wrong) == "id_checksum"
    assert code_of(ids.validate_resident_id, "11010519491231003x") == "id_checksum"  # its check digit is 8


@pytest.mark.parametrize("birth", ["19900230", "19901301", "20260302", "20990101", "18000101"])
def test_resident_id_birth_date(birth):
    # Impossible dates, tomorrow (TODAY is 2026-03-01), the far future, before 1880.
    assert code_of(ids.validate_resident_id, gb11643(f"110105{birth}002")) == "id_birth_date"


def test_resident_id_birth_today_is_fine():
    assert ids.validate_resident_id(gb11643("11010520260301002")).birth_date == TODAY


@pytest.mark.parametrize("number", [
    "99999919900101002",  # no such code
    "11019919900101002",  # no such county in Beijing
    "11010320150101002",  # 崇文区 was merged away in 2010: nobody born in 2015 carries it
    "81000019900101002",  # 香港: a residence permit, not a resident ID
    "82000019900101002",
    "83000019900101002",
])
def test_resident_id_region(number):
    assert code_of(ids.validate_resident_id, gb11643(number)) == "id_region"


def test_resident_id_region_in_use_after_birth_is_accepted():
    # 崇文区 until 2010: fine for someone born in 1990.
    assert ids.validate_resident_id(gb11643("11010319900101002")).region_code == "110103"
    # 延庆区 since 2015: a number assigned after a 1960 birth may carry it (stdnum.cn.ric would refuse).
    number = gb11643("11011919600101002")
    assert ids.validate_resident_id(number).region_code == "110119"
    assert not ric.is_valid(number)


def test_resident_id_field_is_named_in_details():
    with pytest.raises(TongbanError) as err:
        ids.validate_resident_id("123", field="id_number")
    assert err.value.details == [{"field": "id_number", "type": "id_format"}]
    assert err.value.http_status() == 422


_CURRENT_REGIONS = sorted(code for code, spans in ids._region_periods().items()
                          if code[:2] not in ("71", "81", "82") and any(end is None for _, end in spans))


@st.composite
def resident_bodies(draw):
    region = draw(st.sampled_from(_CURRENT_REGIONS))
    birth = draw(st.dates(min_value=datetime.date(1900, 1, 1), max_value=TODAY))
    order = draw(st.integers(min_value=0, max_value=999))
    return f"{region}{birth:%Y%m%d}{order:03d}", birth, order


@settings(max_examples=300, deadline=None)
@given(resident_bodies())
def test_generated_numbers_validate(case):
    body, birth, order = case
    rid = ids.validate_resident_id(gb11643(body))
    assert rid.birth_date == birth and rid.region_code == body[:6]
    assert rid.sex == (ids.MALE if order % 2 else ids.FEMALE)


@settings(max_examples=300, deadline=None)
@given(resident_bodies(), st.integers(min_value=0, max_value=17), st.integers(min_value=1, max_value=10))
def test_a_single_changed_character_fails_the_checksum(case, position, shift):
    number = gb11643(case[0])
    alphabet = "0123456789X" if position == 17 else "0123456789"
    changed = alphabet[(alphabet.index(number[position]) + shift) % len(alphabet)]
    if changed == number[position]:
        return
    mutated = number[:position] + changed + number[position + 1:]
    assert code_of(ids.validate_resident_id, mutated) == "id_checksum"


# --- 港澳居民居住证 ------------------------------------------------------------------------------------


def test_residence_permit_valid():
    hk = ids.validate_hk_macao_residence_permit(gb11643("81000019900101003"))
    assert hk.region == "HK" and hk.birth_date == datetime.date(1990, 1, 1) and hk.sex == ids.MALE
    mo = ids.validate_hk_macao_residence_permit(" " + gb11643("82000019850615004").lower())
    assert mo.region == "MO" and mo.sex == ids.FEMALE
    assert "8200001985" not in repr(mo)


def test_residence_permit_failures():
    good = gb11643("81000019900101003")
    wrong = good[:-1] + ("1" if good[-1] != "1" else "2")
    assert code_of(ids.validate_hk_macao_residence_permit, wrong) == "residence_permit_checksum"
    assert code_of(ids.validate_hk_macao_residence_permit, gb11643("81000020990101003")) == "residence_permit_birth_date"
    assert code_of(ids.validate_hk_macao_residence_permit, gb11643("81000019900230003")) == "residence_permit_birth_date"
    # Taiwan (830000), a mainland number, a wrong length.
    for value in (gb11643("83000019900101003"), gb11643("11010519491231002"), "81000019900101003"):
        assert code_of(ids.validate_hk_macao_residence_permit, value) == "residence_permit_format"


def test_generated_residence_permits_validate():
    from tongban.registry.generator.dataset import build_dataset

    table = build_dataset(3000, 4, TODAY).tables["exitentry_permit"]
    numbers = [n for n in table.data[table.columns.index("residence_permit_number")] if n]
    assert numbers
    for number in numbers:
        ids.validate_hk_macao_residence_permit(number)


# --- 回乡证 -----------------------------------------------------------------------------------------


def test_travel_permit():
    permit = ids.validate_travel_permit("h1234 5678")
    assert permit.number == "H12345678" and permit.person_key == "H12345678"
    assert permit.issue_count is None and permit.region == "HK"
    permit = ids.validate_travel_permit("M1234567803")
    assert permit.person_key == "M12345678" and permit.issue_count == 3 and permit.region == "MO"
    assert "12345678" not in repr(permit)


@pytest.mark.parametrize("value", ["", "H1234567", "H123456789", "H123456789012", "X12345678", "12345678",
                                   "HH2345678", "H1234567A"])
def test_travel_permit_format(value):
    assert code_of(ids.validate_travel_permit, value) == "travel_permit_format"


# --- 统一社会信用代码 ---------------------------------------------------------------------------------


def test_uscc_valid():
    code = ids.validate_uscc("91110000600037341L")
    assert code.code == "91110000600037341L" and code.registration_authority == "9"
    assert code.institution_type == "1" and code.region_code == "110000" and code.organisation_code == "600037341"
    assert ids.validate_uscc("9111 0000 6000 3734 1l").code == "91110000600037341L"
    # Authorities outside 1-9: N 农业 (rural collective economic organisations), Y 其他.
    for first in ("N2", "Y1", "A1"):
        value = uscc_code(f"{first}440300{org_code('MA5DA3K4')}")
        assert ids.validate_uscc(value).registration_authority == first[0]


def test_uscc_checksum():
    assert code_of(ids.validate_uscc, "91110000600037341M") == "uscc_checksum"
    # The organisation code's own GB 11714 check is wrong, though the final character fits.
    bad_org = "600037342"
    assert code_of(ids.validate_uscc, uscc_code(f"91110000{bad_org}")) == "uscc_checksum"


@pytest.mark.parametrize("value", ["", "91110000600037341", "91110000600037341LL", "B1110000600037341L",
                                   "90110000600037341L", "9111000060003734IL", "91110000600037341O",
                                   "911100A0600037341L", "9Z110000600037341L", "I1110000600037341L",
                                   "91110000600037341\uff2c"])
def test_uscc_format(value):
    assert code_of(ids.validate_uscc, value) == "uscc_format"


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@st.composite
def usccs(draw):
    first = draw(st.sampled_from("123456789ANY"))
    kind = draw(st.sampled_from("123459"))
    region = draw(st.from_regex(r"[0-9]{6}", fullmatch=True))
    org_body = "".join(draw(st.lists(st.sampled_from("0123456789ABCDEFGHJKLMNPQRTUWXY"), min_size=8, max_size=8)))
    org = org_code(org_body)
    if org[-1] not in _USCC_ALPHABET:  # never: the check is a digit or X
        return None
    return uscc_code(first + kind + region + org)


@settings(max_examples=300, deadline=None)
@given(usccs(), st.integers(min_value=8, max_value=17), st.integers(min_value=1, max_value=30))
def test_generated_usccs_validate_and_a_changed_character_fails(code, position, shift):
    assert ids.validate_uscc(code).code == code
    changed = _USCC_ALPHABET[(_USCC_ALPHABET.index(code[position]) + shift) % len(_USCC_ALPHABET)]
    mutated = code[:position] + changed + code[position + 1:]
    assert code_of(ids.validate_uscc, mutated) == "uscc_checksum"


# --- Mobile numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["13800138000", " 138 0013 8000 ", "138-0013-8000", "+8613800138000",
                                   "+86 138 0013 8000", "0086-138-0013-8000", "8613800138000", "19912345678"])
def test_mobile_valid(value):
    assert ids.validate_mobile(value) == value.strip().replace(" ", "").replace("-", "")[-11:]


@pytest.mark.parametrize("value", ["", "12800138000", "1380013800", "138001380001", "+1 13800138000",
                                   "+85213800138000", "2138001380", "1380013800a", "+86 1380013800"])
def test_mobile_invalid(value):
    assert code_of(ids.validate_mobile, value) == "mobile_invalid"


# --- Django validators and API schemas ----------------------------------------------------------------


def test_django_validators_carry_the_code():
    ids.resident_id_validator("110105194912310038")
    with pytest.raises(DjangoValidationError) as err:
        ids.resident_id_validator("110105194912310039")
    assert err.value.code == "id_checksum" and "校验码" in err.value.messages[0]
    for validator, value, code in [
        (ids.hk_macao_residence_permit_validator, "830000199001010039", "residence_permit_format"),
        (ids.travel_permit_validator, "H1", "travel_permit_format"),
        (ids.uscc_validator, "91110000600037341M", "uscc_checksum"),
        (ids.mobile_validator, "12345", "mobile_invalid"),
    ]:
        with pytest.raises(DjangoValidationError) as err:
            validator(value)
        assert err.value.code == code


def test_django_validator_speaks_english_when_asked():
    from django.utils import translation

    with translation.override("en"), pytest.raises(DjangoValidationError) as err:
        ids.mobile_validator("12345")
    assert "mainland number" in err.value.messages[0]


class Person(Schema):
    id_number: ids.ResidentIdNumber
    mobile: ids.MobileNumber
    permit: ids.TravelPermitNumber | None = None
    residence_permit: ids.HkMacaoResidencePermitNumber | None = None
    company: ids.UsccCode | None = None


def test_schema_normalises():
    person = Person(id_number=" 110105194912310038 ", mobile="+86 138-0013-8000", permit="h12345678",
                    residence_permit=gb11643("81000019900101003"), company="91110000600037341l")
    assert person.id_number == "110105194912310038" and person.mobile == "13800138000"
    assert person.permit == "H12345678" and person.company == "91110000600037341L"


def test_schema_errors_name_the_field_and_the_code():
    from tongban.api import _validation_details

    with pytest.raises(ValidationError) as err:
        Person(id_number="110105194912310039", mobile="12345")
    errors = err.value.errors()
    assert [(e["loc"], e["type"]) for e in errors] == [(("id_number",), "id_checksum"), (("mobile",), "mobile_invalid")]
    details = _validation_details([{**e, "loc": ("body", *e["loc"])} for e in errors])
    assert details[0]["field"] == "id_number" and details[0]["type"] == "id_checksum"
    assert "校验码" in details[0]["message"]


@pytest.mark.django_db
def test_api_answers_422_naming_the_field(client):
    """Through a real django-ninja endpoint: the envelope names the field and our code."""
    from ninja import NinjaAPI
    from ninja.errors import ValidationError as NinjaValidationError

    from tongban.api import _on_validation

    api = NinjaAPI(urls_namespace="identifiers-test")
    api.exception_handler(NinjaValidationError)(_on_validation)

    @api.post("/people")
    def create(request, payload: Person) -> dict:
        return {"id_number": payload.id_number}

    from django.test import override_settings
    from django.urls import path

    urlconf = type("urls", (), {"urlpatterns": [path("api/", api.urls)]})
    with override_settings(ROOT_URLCONF=urlconf):
        ok = client.post("/api/people", {"id_number": "110105194912310038", "mobile": "13800138000"},
                         content_type="application/json")
        assert ok.status_code == 200
        bad = client.post("/api/people", {"id_number": "110105194912310039", "mobile": "13800138000"},
                          content_type="application/json")
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"][0]["field"] == "payload.id_number" and error["details"][0]["type"] == "id_checksum"


def test_the_check_character_agrees_with_python_stdnum_on_random_numbers():
    import random

    from stdnum.cn import ric

    from tongban.core.identifiers import gb11643_check_character

    rng = random.Random(11643)
    for _ in range(5000):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        assert gb11643_check_character(body) == ric.calc_check_digit(body + "0")  # stdnum ignores the last
    assert gb11643_check_character("11010519491231002") == "X"  # GB 11643-1999's worked example
