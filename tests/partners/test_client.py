"""tongban.client against the real views (through Django's test client as the transport)."""

from __future__ import annotations

import pytest

from tests.partners.conftest import make_partner
from tests.partners.test_api import valid_people
from tongban.client import PartnerClient, ResponseSignatureError, canonical_request
from tongban.partners import signing

pytestmark = pytest.mark.django_db(databases="__all__")


def transport_for(django_client, tamper=False):
    def transport(method, url, body, headers):
        path = url.split("://", 1)[-1].split("/", 1)[-1]
        meta = {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items() if k != "Content-Type"}
        response = django_client.generic(method, "/" + path, body or b"", content_type="application/json", **meta)
        content = response.content.replace(b"true", b"false") if tamper else response.content
        return response.status_code, dict(response.items()), content

    return transport


def test_the_client_signs_as_the_server_expects_and_checks_the_answer(client, registry):
    from tongban.crypto.sm2 import SM2PrivateKey

    private = SM2PrivateKey.generate()
    partner = make_partner(name="客户端应用")
    partner.app.public_key = private.public_key().to_raw()
    partner.app.save(update_fields=["public_key"])
    api = PartnerClient("http://testserver", partner.app_id, private.to_pem().decode(),
                        transport=transport_for(client))
    person = valid_people(registry, 2)
    start, end, _ = person[0].current
    answer = api.verify(id_number=person[0].id_number, name=person[0].name, level="l2", purpose="gov_service",
                        valid_from=start.isoformat(), valid_to=end.isoformat() if end else "长期",
                        idempotency_key="client-1")
    assert answer.ok and answer.body["passed"] is True and answer.body["nonce"] == answer.nonce
    batch = api.verify_batch([{"id_number": p.id_number, "name": p.name} for p in person], purpose="transport")
    assert [r["outcome"]["passed"] for r in batch.body["results"]] == [True, True]
    refused = api.verify(id_number=person[0].id_number, name=person[0].name, purpose="finance_account")
    assert refused.status == 403 and refused.body["error"]["code"] == "purpose_not_allowed"


def test_a_tampered_answer_is_rejected_by_the_client(client, registry):
    partner = make_partner(name="篡改测试")
    api = PartnerClient("http://testserver", partner.app_id, partner.private.hex(), transport=transport_for(client, True))
    p = valid_people(registry, 1)[0]
    with pytest.raises(ResponseSignatureError):
        api.verify(id_number=p.id_number, name=p.name, purpose="gov_service")


def test_client_and_server_build_the_same_canonical_request():
    body = b'{"a":1}'
    assert canonical_request("post", "/partner/v1/x?b=2&a=%E4%B8%AD&a=1", "1700000000", "n" * 16, body) == \
        signing.canonical_request(method="POST", path="/partner/v1/x", query="b=2&a=%E4%B8%AD&a=1",
                                  timestamp="1700000000", nonce="n" * 16, body=body)
