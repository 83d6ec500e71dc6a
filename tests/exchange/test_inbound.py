"""Inbound: the national platform's signed batches — a case started there goes through our case engine, a
rating made there into the evaluation app; a bad signature is refused and logged; a bad message is refused
alone, never half-applied; a redelivery is applied once."""

from __future__ import annotations

import pytest

from tests.cases.conftest import make_item
from tests.exchange.test_outbound import submitted, walk
from tongban.cases.catalog_bridge import withdraw_item
from tongban.cases.models import Case
from tongban.cases.services import case_act
from tongban.evaluation.models import Rating
from tongban.exchange import keys
from tongban.exchange.models import InMessage, MessageLog, OutMessage

pytestmark = pytest.mark.django_db

URL = "/exchange/inbound/"


def post(client, national, messages, *, tamper=False):
    name, private = keys.signer()
    body, headers = national.exchange.batch_for_tongban(
        messages, recipient=name, recipient_public_raw=private.public_key().to_raw(), tamper=tamper)
    return client.post(URL, data=body, content_type="application/json",
                       headers={k: v for k, v in headers.items() if k != "Content-Type"}), body, headers


@pytest.fixture
def simple_item(hooked_item):
    spec = make_item("EXCH2", version_id=hooked_item.version_id, materials=())
    yield spec
    withdraw_item(spec.code)


def test_an_inbound_case_goes_through_the_case_engine_once(client, national, simple_item, citizen):
    app = {"key": "np-case-1", "type": "case.application", "v": 1,
           "body": {"national_case_id": "NP2026-1", "item_code": simple_item.code,
                    "answers": {"name": "张三", "reason": "damaged"},
                    "delivery": {"method": "pickup", "station": "西湖区公安分局出入境接待大厅"}},
           "personal": {"applicant_id_number": "330106199001011234", "applicant_name": "张三"}}
    bad = {"key": "np-case-2", "type": "case.application", "v": 1, "body": {"item_code": simple_item.code},
           "personal": {"applicant_id_number": "330106199001011234", "applicant_name": "张三"}}
    response, body, headers = post(client, national, [app, bad])
    assert response.status_code == 200, response.content
    results = {r["key"]: r for r in response.json()["results"]}
    assert results["np-case-1"]["status"] == "accepted", results
    number = results["np-case-1"]["result"]["case_number"]
    case = Case.objects.get(number=number)
    assert case.state == "submitted" and case.applicant == citizen
    assert results["np-case-2"]["status"] == "rejected" and results["np-case-2"]["code"] == "schema_invalid"
    assert Case.objects.count() == 1  # the bad one left nothing behind
    # its state change flows back out like any other of a hooked item
    assert OutMessage.objects.filter(type="case.event", entity=f"case:{number}").count() == 1
    again = client.post(URL, data=body, content_type="application/json",
                        headers={k: v for k, v in headers.items() if k != "Content-Type"})
    assert [r["status"] for r in again.json()["results"]] == ["duplicate", "duplicate"]
    assert Case.objects.count() == 1
    assert list(MessageLog.objects.filter(direction="in").values_list("outcome", flat=True)) == ["partial", "accepted"]
    # the receipt is ours, over the batch id and body digest: the national side can keep it
    assert response.json()["receipt"]


def test_an_inbound_rating_reaches_the_evaluation_app(client, national, hooked_item, citizen, officers):
    case = walk(submitted(citizen, hooked_item), officers)
    case = case_act(user=officers[1], case_id=case.pk, action="deliver")
    assert case.state == "closed"
    rating = {"key": "np-rate-1", "type": "evaluation.rating", "v": 1,
              "body": {"national_id": "NPR-1", "case_number": case.number, "level": 5, "tags": []}}
    response, _, _ = post(client, national, [rating])
    assert response.json()["results"][0]["status"] == "accepted", response.json()
    stored = Rating.objects.get(national_id="NPR-1")
    assert stored.case_id == case.pk and stored.level == 5 and stored.channel == "national"
    assert not OutMessage.objects.filter(type="evaluation.rating").exists()  # not echoed back


def test_a_bad_signature_is_refused_and_logged(client, national, simple_item, citizen):
    app = {"key": "np-case-9", "type": "case.application", "v": 1,
           "body": {"national_case_id": "NP2026-9", "item_code": simple_item.code},
           "personal": {"applicant_id_number": "330106199001011234", "applicant_name": "张三"}}
    response, _, _ = post(client, national, [app], tamper=True)
    assert response.status_code == 401 and response.json()["code"] == "exchange_bad_signature"
    assert "bound method" not in response.json()["message"] and response.json()["message"]  # a sentence, in Chinese
    assert not InMessage.objects.exists() and not Case.objects.exists()
    assert MessageLog.objects.filter(direction="in", outcome="bad_signature").count() == 1


def test_an_unsigned_or_garbled_request_gets_a_clear_error(client, national):
    assert client.post(URL, data=b"{}", content_type="application/json").status_code == 401
    assert client.get(URL).status_code == 405


def test_without_a_configured_counterpart_there_is_no_endpoint(client, settings):
    settings.TONGBAN_EXCHANGE = {"URL": "", "PEER_PUBLIC_KEY": ""}
    assert client.post(URL, data=b"{}", content_type="application/json").status_code == 404
