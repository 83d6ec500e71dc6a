"""The partner API's l3 call, signed with gmalg as a partner would: a person who turns reaches l3; a still photo
and another person do not; the answer never holds the photo or the distance; an app without l3 is refused."""

from __future__ import annotations

import base64
import json

import pytest

from tests.face.conftest import make_card_holder, needs_face
from tests.partners.conftest import _partner_settings, make_partner, response_verifies  # noqa: F401
from tongban.audit.models import AuditEntry
from tongban.face import services
from tongban.face.liveness import Challenge
from tongban.face.models import FaceCheck

pytestmark = [pytest.mark.django_db(databases="__all__"), needs_face]

CHALLENGES, VERIFY = "/partner/v1/face/challenges", "/partner/v1/face/verifications"


def _body(number: str, challenge_id: str, frames: list[bytes]) -> dict:
    return {"id_type": "resident_id", "id_number": number, "name": "测试人", "valid_from": "2020-01-01",
            "valid_to": "2040-01-01", "purpose": "gov_service", "challenge_id": challenge_id,
            "frames": [base64.b64encode(f).decode() for f in frames]}


def _verify(client, partner, number, frames):
    issued = partner.post(client, CHALLENGES, {})
    assert issued.status_code == 200, issued.content
    assert issued.json()["challenge"] == "turn_left"
    return partner.post(client, VERIFY, _body(number, issued.json()["challenge_id"], frames))


def test_partner_l3_call_answers_verdicts_only(client, bursts, monkeypatch):
    monkeypatch.setattr(services, "pick_challenge", lambda: Challenge.TURN_LEFT)
    partner = make_partner(levels=("l2", "l3"), purposes=("gov_service",))
    number = make_card_holder(serial=7, photo_id=1)
    response = _verify(client, partner, number, bursts.left)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert response_verifies(client, response, response["X-Tongban-Nonce"])
    assert answer["passed"] is True and answer["level_reached"] == "l3" and answer["acr"] == "urn:tongban:acr:l3"
    assert answer["fields"]["card_validity"] == "consistent" and answer["reason"] is None
    text = json.dumps(answer)
    assert "distance" not in text and "photo" not in text and "image" not in text
    still = _verify(client, partner, number, bursts.still).json()
    assert still["passed"] is False and still["level_reached"] == "l2" and still["reason"] == "face_challenge_failed"
    other = make_card_holder(serial=8, photo_id=2)  # Grace Hopper's card; the astronaut's face
    wrong = _verify(client, partner, other, bursts.left).json()
    assert wrong["passed"] is False and wrong["reason"] == "face_mismatch"
    assert list(FaceCheck.objects.order_by("created_at").values_list("status", flat=True)) == [
        "accepted", "refused", "rejected"]
    assert AuditEntry.objects.filter(action="face.check", actor_id=partner.app_id).count() == 3
    # l2 not reached: the frames are not looked at
    issued = partner.post(client, CHALLENGES, {}).json()
    body = _body(number, issued["challenge_id"], bursts.left)
    body["name"] = "别人"
    refused = partner.post(client, VERIFY, body).json()
    assert refused["passed"] is False and refused["face"] == "not_checked" and FaceCheck.objects.count() == 3


def test_an_app_without_l3_may_not_ask(client):
    partner = make_partner(levels=("l1", "l2"), purposes=("gov_service",))
    response = partner.post(client, CHALLENGES, {})
    assert response.status_code == 403 and response.json()["error"]["code"] == "level_not_allowed"
