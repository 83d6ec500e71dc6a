"""Hong Kong and Macao residents: their own mobile numbers, and their names as the permit carries them —
in the account, the masked displays, the OIDC claims; matching that ignores case, spacing and
Traditional/Simplified, and says which name did not match."""

from __future__ import annotations

import pytest

from tests.accounts.conftest import code_for
from tests.accounts.test_citizen_flows import PASSWORD
from tongban.accounts.models import CitizenProfile, User
from tongban.core.errors import TongbanError
from tongban.core.hant import same_name, to_simplified
from tongban.core.identifiers import mobile_region, validate_mobile
from tongban.core.masking import mask_name_partial, mask_phone, scrub
from tongban.crypto.fields import blind_lookup
from tongban.sso.claims import name_claims


@pytest.mark.parametrize(("typed", "stored"), [
    ("+852 9123 4567", "+85291234567"), ("00852-51234567", "+85251234567"), ("85261234567", "+85261234567"),
    ("+853 6612 3456", "+85366123456"), ("+86 138 0013 8000", "13800138000"), ("13800138000", "13800138000"),
])
def test_mobile_numbers_of_three_regions(typed, stored):
    assert validate_mobile(typed) == stored
    assert mobile_region(stored) == {"+852": "HK", "+853": "MO"}.get(stored[:4], "CN")


@pytest.mark.parametrize("typed", ["+852 2123 4567", "+852 9123 456", "+853 2812 3456", "+853 6612 34567",
                                   "+852 1380 0138", "12345678"])
def test_each_region_s_number_plan_is_checked(typed):
    with pytest.raises(TongbanError) as info:
        validate_mobile(typed)
    assert info.value.code == "mobile_invalid"


def test_hong_kong_numbers_are_masked():
    assert mask_phone("+85291234567") == "+852 ****4567"
    assert scrub("sent to +85291234567 and 85366123456") == "sent to +852 ****4567 and 853 ****3456"


def test_names_compare_across_case_spacing_and_scripts():
    assert same_name("cheung fung hin", "CHEUNG Fung Hin")
    assert same_name("CHEUNG FUNGHIN", "CHEUNG Fung Hin")
    assert same_name("陈大文", "陳大文") and same_name("陳 大文", "陳大文")
    assert not same_name("陈大武", "陳大文") and not same_name("", "")
    assert to_simplified("陳") == "陈"


def test_enterprise_screens_show_surname_and_first_given_character():
    assert mask_name_partial("陳大文") == "陳大*"
    assert mask_name_partial("张三") == "张*"
    assert mask_name_partial("欧阳娜娜") == "欧阳**"
    assert mask_name_partial("CHAN Tai Man") == "CHAN T** M**"


def test_oidc_name_claims_carry_the_permit_s_english_name():
    claims = name_claims("陳大文", "CHAN Tai Man")
    assert claims == {"name": "陳大文", "family_name": "陳", "given_name": "大文", "name#en": "CHAN Tai Man",
                      "family_name#en": "CHAN", "given_name#en": "Tai Man"}
    assert name_claims("欧阳娜娜", None) == {"name": "欧阳娜娜", "family_name": "欧阳", "given_name": "娜娜"}


pytestmark_db = pytest.mark.django_db(databases="__all__")


def _register(client, sim, region, local):
    response = client.post("/register/", {"region": region, "phone": local})
    assert response.status_code == 302, response.content.decode()[-2000:]
    phone = validate_mobile(f"+{region}{local}")
    code = code_for(sim, phone)  # the simulator delivered to the +852 / +853 number
    response = client.post("/register/verify/", {"code": code, "password": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    return User.objects.get(citizen__phone_bidx=blind_lookup(CitizenProfile, "phone", phone)["phone_bidx"])


@pytestmark_db
def test_hong_kong_resident_registers_signs_in_and_gets_the_permit_s_names(client, sms_sim, people):
    permit = next(p for p in people.hk_macao if p["region"] == "HK")
    user = _register(client, sms_sim, "852", "9123 4567")
    assert user.citizen.phone == "+85291234567"
    typed_en = "  " + permit["name_en"].lower().replace(" ", "  ") + " "
    response = client.post("/me/identity/", {"id_type": "hk_macao_permit", "id_number": permit["permit_number"],
                                             "name": to_simplified(permit["name_zh"]), "name_en": typed_en,
                                             "level": "2"})
    assert response.status_code == 302, response.content.decode()[-3000:]
    profile = CitizenProfile.objects.get(user=user)
    assert profile.level == 2
    assert profile.name == permit["name_zh"] and profile.name_en == permit["name_en"]  # the permit's, not typed
    page = client.get("/me/").content.decode()
    assert "+852 ****4567" in page and permit["name_en"] not in page
    assert permit["name_en"][0] + "*" in page
    client.logout()
    response = client.post("/login/", {"username": "+852 9123 4567", "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[-2000:]


@pytestmark_db
def test_macao_number_and_a_wrong_english_name_is_named(client, sms_sim, people):
    permit = people.hk_macao[0]
    _register(client, sms_sim, "853", "66123456")
    response = client.post("/me/identity/", {"id_type": "hk_macao_permit", "id_number": permit["permit_number"],
                                             "name": permit["name_zh"], "name_en": "NOBODY Some One", "level": "1"})
    assert response.status_code == 422


@pytestmark_db
def test_the_engine_says_which_name_did_not_match(people):
    from tongban.verification.engine import IdentityClaim, verify

    permit = people.hk_macao[0]
    outcome = verify(IdentityClaim(id_type="hk_macao_permit", id_number=permit["permit_number"],
                                   name=permit["name_zh"], name_en="NOBODY Some One"), level=1)
    assert not outcome.passed and outcome.public()["fields"] == {
        "id_number": "consistent", "name": "consistent", "name_en": "inconsistent", "issue_count": "not_checked"}
    outcome = verify(IdentityClaim(id_type="hk_macao_permit", id_number=permit["permit_number"],
                                   name=to_simplified(permit["name_zh"]), name_en=permit["name_en"].upper()), level=1)
    assert outcome.passed and outcome.public()["fields"]["name_en"] == "consistent"
