"""Partner verification of Hong Kong and Macao residents by permit in everyday life: hotels, couriers,
internet cafés, airlines, rail and banks, each with its purpose code and the levels it may ask."""

from __future__ import annotations

import pytest

from tests.partners.conftest import make_partner, response_verifies

pytestmark = pytest.mark.django_db(databases="__all__")

PATH = "/partner/v1/verifications"
# purpose -> (levels it may ask, a level it may not)
INDUSTRIES = {
    "lodging": (("l1", "l2"), None),
    "courier": (("l1",), "l2"),
    "internet_cafe": (("l1",), "l2"),
    "air_ticket": (("l1", "l2"), None),
    "rail_ticket": (("l1", "l2"), None),
    "banking": (("l2",), "l1"),
}


def test_each_industry_verifies_a_permit_holder_at_its_levels(client, registry):
    partner = make_partner(name="港澳居民核验", purposes=tuple(INDUSTRIES))
    permit = registry.permit()
    number = f"{permit['permit_number']}{permit['issue_count']:02d}"
    for purpose, (levels, refused) in INDUSTRIES.items():
        for level in levels:
            nonce = f"nonce-{purpose}-{level}-000000"
            body = {"id_type": "hk_macao_permit", "id_number": number, "name": permit["name_en"].lower(),
                    "level": level, "purpose": purpose}
            response = partner.post(client, PATH, body, nonce=nonce)
            assert response.status_code == 200, (purpose, level, response.content)
            data = response.json()
            assert data["passed"] is True and data["level_reached"] == level and data["purpose"] == purpose
            assert response_verifies(client, response, nonce)
            assert permit["name_en"] not in response.content.decode()  # verdicts, never data
        if refused:
            body = {"id_type": "hk_macao_permit", "id_number": number, "name": permit["name_zh"],
                    "level": refused, "purpose": purpose}
            response = partner.post(client, PATH, body)
            assert response.status_code == 403, (purpose, response.content)
            error = response.json()["error"]
            assert error["code"] == "level_not_allowed"
            assert error["details"][0]["type"] == "level_not_allowed_for_purpose"
