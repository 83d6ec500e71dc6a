"""/partner/v1/openapi.json is served, every path it documents exists, and real answers match its schemas."""

from __future__ import annotations

import pytest
from django.urls import resolve

from tests.partners.test_api import BATCH, PATH, person_body, valid_people

jsonschema_rs = pytest.importorskip("jsonschema_rs")

pytestmark = pytest.mark.django_db(databases="__all__")


@pytest.fixture
def spec(client):
    response = client.get("/partner/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def validate(spec, ref_name, instance):
    schema = {"$ref": f"#/components/schemas/{ref_name}", "components": spec["components"]}
    jsonschema_rs.validator_for(schema).validate(instance)


def response_schema(spec, path, method, status):
    ref = spec["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[-1]


def test_every_documented_path_exists(spec):
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {"/partner/v1/verifications", "/partner/v1/verifications/batch", "/partner/v1/keys",
                                  "/partner/v1/face/challenges", "/partner/v1/face/verifications"}
    for path in spec["paths"]:
        resolve(path)


def test_real_answers_match_the_schema(client, registry, partner, spec):
    people = valid_people(registry, 3)
    single = partner.post(client, PATH, person_body(people[0]))
    validate(spec, response_schema(spec, PATH, "post", 200), single.json())
    inconsistent = partner.post(client, PATH, person_body(people[1], level="l1", name="不对"))
    validate(spec, response_schema(spec, PATH, "post", 200), inconsistent.json())
    items = [{"id_number": people[2].id_number, "name": people[2].name}, {"id_number": "1", "name": "x"}]
    batch = partner.post(client, BATCH, {"level": "l1", "purpose": "gov_service", "items": items})
    validate(spec, response_schema(spec, BATCH, "post", 200), batch.json())
    for bad in (partner.post(client, PATH, {"level": "l1"}), client.post(PATH, b"{}", content_type="application/json"),
                partner.post(client, PATH, person_body(people[0], purpose="telecom"))):
        assert str(bad.status_code) in spec["paths"][PATH]["post"]["responses"], bad.status_code
        validate(spec, response_schema(spec, PATH, "post", bad.status_code), bad.json())
    validate(spec, "KeysResponse", client.get("/partner/v1/keys").json())


def test_the_request_schema_accepts_the_documented_request(spec):
    import json

    from tests.partners.test_docs import values

    validate(spec, "VerificationRequest", json.loads(values("example-values")["body"]))
    with pytest.raises(jsonschema_rs.ValidationError):
        validate(spec, "VerificationRequest", {"id_number": "1", "name": "x", "level": "l9", "purpose": "p"})
