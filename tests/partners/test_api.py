"""The partner API end to end: requests signed only as docs/partner-api.md says (with gmalg), answers
checked against the published key; every refusal; idempotency; batches; audit; metering."""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from tests.partners.conftest import make_partner, response_verifies
from tests.verification.conftest import AS_OF
from tongban.audit.actions import Action
from tongban.audit.models import AuditEntry
from tongban.partners import metering
from tongban.partners.models import AbuseAlert, AlertKind, AppStatus, IdempotencyRecord, UsageCounter
from tongban.registry import interfaces
from tongban.registry.interfaces import SourceUnavailable

pytestmark = pytest.mark.django_db(databases="__all__")

PATH = "/partner/v1/verifications"
BATCH = "/partner/v1/verifications/batch"


def person_body(person, level="l2", purpose="gov_service", **over):
    start, end, _ = person.current
    body = {"id_type": "resident_id", "id_number": person.id_number, "name": person.name, "level": level,
            "purpose": purpose, "valid_from": start.isoformat(), "valid_to": end.isoformat() if end else "长期"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def valid_people(registry, n):
    found = [p for p in registry.people.values()
             if p.status == "normal" and p.current and p.current[2] == "valid"
             and (p.current[1] is None or p.current[1] >= AS_OF)]
    assert len(found) >= n
    return found[:n]


def error_code(response):
    return response.json()["error"]["code"]


# -- the happy path --------------------------------------------------------------------------------------


def test_a_signed_l2_request_passes_and_the_answer_is_signed(client, registry, partner):
    person = valid_people(registry, 1)[0]
    response = partner.post(client, PATH, person_body(person), nonce="nonce-happy-path-0001")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["passed"] is True and data["level_reached"] == "l2" and data["reason"] is None
    assert data["fields"] == {"id_number": "consistent", "name": "consistent", "card_validity": "consistent"}
    assert data["nonce"] == "nonce-happy-path-0001" and data["purpose"] == "gov_service"
    assert data["verification_id"].startswith("vf_") and data["acr"] == "urn:tongban:acr:l2"
    assert response_verifies(client, response, "nonce-happy-path-0001")
    # Never authoritative data: nothing in the answer but codes.
    text = response.content.decode()
    assert person.address not in text and person.birth_date.isoformat() not in text


def test_the_answer_is_audited_without_the_number_or_the_name(client, registry, partner):
    person = valid_people(registry, 1)[0]
    response = partner.post(client, PATH, person_body(person, level="l1", name="李不对"))
    assert response.status_code == 200 and response.json()["passed"] is False
    assert response.json()["reason"] == "identity_inconsistent"
    entry = AuditEntry.objects.get(action=Action.VERIFICATION_REQUEST)
    assert entry.actor_type == "partner_app" and entry.actor_id == partner.app_id
    assert entry.details["verification_id"] == response.json()["verification_id"]
    assert entry.details["purpose"] == "gov_service" and entry.details["channel"] == "partner_api"
    for row in AuditEntry.objects.values():
        blob = json.dumps(row, default=str, ensure_ascii=False)
        assert person.id_number not in blob and person.name not in blob and "李不对" not in blob


def test_source_unavailable_is_answered_not_passed_and_metered(client, registry, partner, monkeypatch):
    def down(*args, **kwargs):
        raise SourceUnavailable("down")

    monkeypatch.setattr(interfaces.population(), "compare", down)
    response = partner.post(client, PATH, person_body(valid_people(registry, 1)[0]))
    assert response.status_code == 200
    data = response.json()
    assert data["passed"] is False and data["reason"] == "source_unavailable"
    assert data["fields"]["id_number"] == "source_unavailable"
    assert UsageCounter.objects.get(app_key=partner.app_id).outcome == "source_unavailable"


# -- authentication ----------------------------------------------------------------------------------------


def test_a_wrong_signature_is_refused_and_the_refusal_is_signed(client, registry, partner):
    other = make_partner(name="另一个应用")
    body = json.dumps(person_body(valid_people(registry, 1)[0])).encode()
    headers = partner.headers("POST", PATH, body, nonce="nonce-wrong-signature-1")
    headers["HTTP_X_TONGBAN_SIGNATURE"] = other.headers("POST", PATH, body)["HTTP_X_TONGBAN_SIGNATURE"]
    response = client.generic("POST", PATH, body, content_type="application/json", **headers)
    assert response.status_code == 401 and error_code(response) == "signature_invalid"
    assert response_verifies(client, response, "nonce-wrong-signature-1")
    assert AuditEntry.objects.filter(action=Action.PARTNER_AUTH_FAILURE, actor_id=partner.app_id).exists()
    assert not AuditEntry.objects.filter(action=Action.VERIFICATION_REQUEST).exists()


def test_a_changed_body_breaks_the_signature(client, registry, partner):
    person = valid_people(registry, 1)[0]
    body = json.dumps(person_body(person)).encode()
    headers = partner.headers("POST", PATH, body)
    tampered = json.dumps(person_body(person, level="l1")).encode()
    response = client.generic("POST", PATH, tampered, content_type="application/json", **headers)
    assert error_code(response) == "signature_invalid"


def test_unknown_app_is_answered_like_a_bad_signature(client, registry, partner):
    body = json.dumps(person_body(valid_people(registry, 1)[0])).encode()
    headers = partner.headers("POST", PATH, body)
    headers["HTTP_X_TONGBAN_APP"] = "pa_doesnotexist0000000"
    response = client.generic("POST", PATH, body, content_type="application/json", **headers)
    assert response.status_code == 401 and error_code(response) == "signature_invalid"


@pytest.mark.parametrize("offset", [-303, 303, 100_000])  # a clock tick between test and view is tolerated
def test_a_skewed_timestamp_is_refused(client, registry, partner, offset):
    response = partner.post(client, PATH, person_body(valid_people(registry, 1)[0]),
                            timestamp=int(time.time()) + offset)
    assert response.status_code == 401 and error_code(response) == "timestamp_out_of_window"


def test_a_timestamp_inside_the_window_is_accepted(client, registry, partner):
    response = partner.post(client, PATH, person_body(valid_people(registry, 1)[0]),
                            timestamp=int(time.time()) - 290)
    assert response.status_code == 200


def test_a_replayed_nonce_is_refused(client, registry, partner):
    body = json.dumps(person_body(valid_people(registry, 1)[0])).encode()
    headers = partner.headers("POST", PATH, body, nonce="nonce-replayed-000001")
    first = client.generic("POST", PATH, body, content_type="application/json", **headers)
    again = client.generic("POST", PATH, body, content_type="application/json", **headers)
    assert first.status_code == 200
    assert again.status_code == 401 and error_code(again) == "nonce_replayed"
    assert response_verifies(client, again, "nonce-replayed-000001")


def test_missing_headers_are_named(client, partner):
    response = client.post(PATH, b"{}", content_type="application/json")
    assert response.status_code == 401 and error_code(response) == "signature_invalid"
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert fields == {"X-Tongban-App", "X-Tongban-Timestamp", "X-Tongban-Nonce", "X-Tongban-Signature"}


def test_a_suspended_app_is_refused_after_its_signature_is_checked(client, registry, partner):
    from tongban.audit.services import Actor
    from tongban.partners.services import partner_app_set_status

    partner_app_set_status(app=partner.app, status=AppStatus.SUSPENDED, actor=Actor.system("tests"))
    response = partner.post(client, PATH, person_body(valid_people(registry, 1)[0]))
    assert response.status_code == 403 and error_code(response) == "app_suspended"


def test_an_oversize_body_is_refused(client, partner, settings):
    settings.TONGBAN_PARTNERS = dataclasses.replace(settings.TONGBAN_PARTNERS, max_body_bytes=1000)
    response = partner.post(client, PATH, b"{" + b" " * 2000 + b"}")
    assert response.status_code == 413 and error_code(response) == "payload_too_large"


def test_get_is_not_allowed(client, partner):
    response = client.get(PATH)
    assert response.status_code == 405 and error_code(response) == "method_not_allowed"


# -- purpose, level, input ------------------------------------------------------------------------------


def test_purpose_is_required(client, registry, partner):
    response = partner.post(client, PATH, person_body(valid_people(registry, 1)[0], purpose=None))
    assert response.status_code == 422 and error_code(response) == "purpose_required"
    assert AuditEntry.objects.filter(action=Action.VERIFICATION_REQUEST, outcome="denied").exists()


def test_a_purpose_not_registered_for_the_app_is_refused(client, registry, partner):
    response = partner.post(client, PATH, person_body(valid_people(registry, 1)[0], purpose="finance_account"))
    assert response.status_code == 403 and error_code(response) == "purpose_not_allowed"


def test_a_level_not_allowed_for_the_app_is_refused(client, registry):
    l1_only = make_partner(name="实名应用", levels=("l1",))
    response = l1_only.post(client, PATH, person_body(valid_people(registry, 1)[0], level="l2"))
    assert response.status_code == 403 and error_code(response) == "level_not_allowed"
    UsageCounter.objects.get(app_key=l1_only.app_id, level="l2", outcome="refused")


def test_an_invalid_number_is_422_with_the_field_named(client, registry, partner):
    response = partner.post(client, PATH, person_body(valid_people(registry, 1)[0],
                                                      id_number="110105199001011235"))
    assert response.status_code == 422 and error_code(response) == "id_checksum"
    assert response.json()["error"]["details"][0]["field"] == "id_number"


def test_l2_without_card_dates_is_422(client, registry, partner):
    response = partner.post(client, PATH, person_body(valid_people(registry, 1)[0], valid_from=None,
                                                      valid_to=None))
    assert response.status_code == 422 and error_code(response) == "card_validity_invalid"


def test_malformed_json_and_unknown_fields(client, partner):
    assert error_code(partner.post(client, PATH, b"{not json")) == "invalid_json"
    response = partner.post(client, PATH, {"id_number": "1", "name": "x", "level": "l3", "purpose": "gov_service",
                                           "extra": 1})
    assert response.status_code == 422 and error_code(response) == "validation_error"
    assert {"level", "extra"} <= {d["field"] for d in response.json()["error"]["details"]}


# -- quota, rate limits, abuse ---------------------------------------------------------------------------


def test_quota_exceeded_is_429_with_retry_after(client, registry):
    small = make_partner(name="小配额应用", daily_quota=2)
    people = valid_people(registry, 3)
    assert small.post(client, PATH, person_body(people[0])).status_code == 200
    assert small.post(client, PATH, person_body(people[1])).status_code == 200
    response = small.post(client, PATH, person_body(people[2]))
    assert response.status_code == 429 and error_code(response) == "quota_exceeded"
    assert 0 < int(response["Retry-After"]) <= 86400


def test_rate_limit_per_second_is_429_with_retry_after(client, registry):
    fast = make_partner(name="限流应用", rate_per_second=2)
    people = valid_people(registry, 4)
    statuses = [fast.post(client, PATH, person_body(p)) for p in people]
    limited = [r for r in statuses if r.status_code == 429]
    assert limited, [r.status_code for r in statuses]
    assert error_code(limited[0]) == "rate_limited" and int(limited[0]["Retry-After"]) >= 1


def test_identity_velocity_throttles_the_app_and_alerts(client, registry, partner, settings):
    """Counted per app: the app past its limit is refused (and an alert raised); another app is still served
    the same person (issue 11, item 11: one caller's attempts must not block the person elsewhere)."""
    settings.TONGBAN_PARTNERS = dataclasses.replace(settings.TONGBAN_PARTNERS, identity_limit_per_hour=2)
    other = make_partner(name="第二个应用", org="某部委", kind="ministry", region="")
    person = valid_people(registry, 1)[0]
    assert partner.post(client, PATH, person_body(person)).status_code == 200
    assert partner.post(client, PATH, person_body(person)).status_code == 200
    response = partner.post(client, PATH, person_body(person))
    assert response.status_code == 429 and error_code(response) == "identity_throttled"
    assert int(response["Retry-After"]) >= 1
    alert = AbuseAlert.objects.get()
    assert alert.kind == AlertKind.IDENTITY_VELOCITY and person.id_number not in alert.subject_ref
    assert UsageCounter.objects.get(app_key=partner.app_id, outcome="throttled").count == 1
    response = other.post(client, PATH, person_body(person))
    assert response.status_code == 200 and response.json()["passed"] is True


def _ratio_rule(*, min_sample: int) -> None:
    """The enumeration rule (tongban.risk, configuration in its table) with a small sample for the test."""
    from tongban.risk.models import Rule

    Rule.objects.filter(code="inconsistent_ratio").update(threshold=0.5, params={"min_sample": min_sample,
                                                                                "suspend_after": 2})


def test_enumeration_throttles_the_app_and_raises_an_alert(client, registry, partner, settings):
    _ratio_rule(min_sample=6)
    people = valid_people(registry, 8)
    codes = []
    for i, person in enumerate(people):
        name = person.name if i < 2 else "错名字"
        response = partner.post(client, PATH, person_body(person, level="l1", name=name))
        codes.append(response.status_code if response.status_code != 200 else response.json()["passed"])
    # 2 passes, then inconsistent answers until the ratio passes 0.5 over at least 6 calls; then 429.
    assert codes[:2] == [True, True] and codes[-1] == 429, codes
    from tongban.risk.models import Alert  # the risk engine's rule inconsistent_ratio (was partners.abuse)

    alert = Alert.objects.get(rule__code="inconsistent_ratio")
    assert alert.key == partner.app_id and alert.evidence["ratio"] > 0.5
    response = partner.post(client, PATH, person_body(people[0], level="l1"))
    assert response.status_code == 429 and error_code(response) == "app_throttled"
    assert AuditEntry.objects.filter(action=Action.RISK_ALERT).count() == 1


def test_on_redis_the_throttle_is_read_with_the_nonce_in_one_round_trip(client, registry, partner, settings):
    """Production keeps nonces, limits and the throttle in Redis: the throttle the ratio sets (an integer) is
    read raw in the request's first round trip, and the next call is refused as on local memory."""
    import socket
    import uuid

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    from django.core.cache import cache

    from tongban.partners import abuse

    settings.CACHES = {"default": {"BACKEND": "tongban.core.cache.RedisCache", "LOCATION": "redis://127.0.0.1:6379/15",
                                   "KEY_PREFIX": f"tongban-test-{uuid.uuid4().hex}"}}
    _ratio_rule(min_sample=6)
    people = valid_people(registry, 8)
    for person in people:
        partner.post(client, PATH, person_body(person, level="l1", name="错名字"))
    until = cache.get(abuse.throttle_key(partner.app_id))
    assert isinstance(until, int) and abuse.throttle_wait(until) > 0
    executed: list[list[tuple[object, ...]]] = []
    real = cache.execute_many
    cache.execute_many = lambda commands: executed.append(list(commands)) or real(commands)  # type: ignore[attr-defined]
    response = partner.post(client, PATH, person_body(people[0], level="l1"))
    assert response.status_code == 429 and error_code(response) == "app_throttled"
    assert int(response["Retry-After"]) >= 1
    first = executed[0]
    assert first[0][0] == "SET" and first[-1] == ("GET", cache.make_and_validate_key(abuse.throttle_key(partner.app_id)))


# -- idempotency -----------------------------------------------------------------------------------------


def test_same_idempotency_key_same_body_replays_the_first_answer(client, registry, partner):
    body = person_body(valid_people(registry, 1)[0])
    first = partner.post(client, PATH, body, extra={"HTTP_IDEMPOTENCY_KEY": "order-2026-0001"})
    second = partner.post(client, PATH, body, extra={"HTTP_IDEMPOTENCY_KEY": "order-2026-0001"},
                          nonce="nonce-idempotent-second")
    assert first.status_code == second.status_code == 200
    assert second.content == first.content and second["Idempotent-Replayed"] == "true"
    assert response_verifies(client, second, "nonce-idempotent-second")
    assert AuditEntry.objects.filter(action=Action.VERIFICATION_REQUEST).count() == 1
    record = IdempotencyRecord.objects.get()
    assert bytes(record.body) == first.content and record.signature == first["X-Tongban-Response-Signature"]


def test_same_idempotency_key_other_body_is_409(client, registry, partner):
    people = valid_people(registry, 2)
    partner.post(client, PATH, person_body(people[0]), extra={"HTTP_IDEMPOTENCY_KEY": "k-1"})
    response = partner.post(client, PATH, person_body(people[1]), extra={"HTTP_IDEMPOTENCY_KEY": "k-1"})
    assert response.status_code == 409 and error_code(response) == "idempotency_conflict"


def test_an_expired_idempotency_record_is_forgotten(client, registry, partner):
    import datetime as dt

    people = valid_people(registry, 2)
    partner.post(client, PATH, person_body(people[0]), extra={"HTTP_IDEMPOTENCY_KEY": "k-old"})
    IdempotencyRecord.objects.update(created_at=IdempotencyRecord.objects.get().created_at - dt.timedelta(hours=25))
    response = partner.post(client, PATH, person_body(people[1]), extra={"HTTP_IDEMPOTENCY_KEY": "k-old"})
    assert response.status_code == 200 and "Idempotent-Replayed" not in response


# -- batch --------------------------------------------------------------------------------------------------


def test_a_batch_of_100_is_answered_person_by_person(client, registry, partner):
    people = valid_people(registry, 99)
    items = [{k: v for k, v in person_body(p).items() if k not in ("level", "purpose")} for p in people]
    items.append({"id_number": "110105199001011235", "name": "张三"})  # a bad check digit
    response = partner.post(client, BATCH, {"level": "l2", "purpose": "transport", "items": items},
                            nonce="nonce-batch-of-100-00")
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["count"] == 100 and data["nonce"] == "nonce-batch-of-100-00"
    assert all(r["outcome"]["passed"] for r in data["results"][:99])
    assert data["results"][99]["error"]["code"] == "id_checksum"
    assert data["results"][99]["error"]["details"][0]["field"] == "items.99.id_number"
    assert response_verifies(client, response, "nonce-batch-of-100-00")
    assert AuditEntry.objects.filter(action=Action.VERIFICATION_REQUEST).count() == 100
    metering.flush()
    assert UsageCounter.objects.get(app_key=partner.app_id, outcome="passed").count == 99


def test_a_batch_of_101_is_refused(client, partner):
    items = [{"id_number": "x", "name": "y"}] * 101
    response = partner.post(client, BATCH, {"level": "l1", "purpose": "gov_service", "items": items})
    assert response.status_code == 422 and error_code(response) == "batch_too_large"


def test_a_batch_uses_quota_per_person(client, registry):
    small = make_partner(name="批量小配额", daily_quota=3)
    items = [{k: v for k, v in person_body(p).items() if k not in ("level", "purpose")}
             for p in valid_people(registry, 4)]
    response = small.post(client, BATCH, {"level": "l2", "purpose": "gov_service", "items": items})
    assert response.status_code == 429 and error_code(response) == "quota_exceeded"
    assert small.post(client, BATCH, {"level": "l2", "purpose": "gov_service", "items": items[:3]}).status_code == 200


# -- metering ------------------------------------------------------------------------------------------------


def test_metering_counts_per_app_org_level_outcome_and_day(client, registry):
    a = make_partner(name="应用甲", org="某省公安厅", kind="province", region="330000")
    b = make_partner(name="应用乙", org="某部委", kind="ministry", region="")
    people = valid_people(registry, 5)
    a.post(client, PATH, person_body(people[0]))
    a.post(client, PATH, person_body(people[1]))
    a.post(client, PATH, person_body(people[2], level="l1", name="不对"))
    b.post(client, PATH, person_body(people[3], level="l1"))
    metering.flush()
    rows = {(r.app_key, r.organisation_id, r.level, r.outcome, r.day): r.count for r in UsageCounter.objects.all()}
    assert rows == {
        (a.app_id, a.app.organisation_id, "l2", "passed", AS_OF): 2,
        (a.app_id, a.app.organisation_id, "l1", "inconsistent", AS_OF): 1,
        (b.app_id, b.app.organisation_id, "l1", "passed", AS_OF): 1,
    }


def test_metering_buffers_and_upserts(settings):
    settings.TONGBAN_PARTNERS = dataclasses.replace(settings.TONGBAN_PARTNERS, meter_flush_seconds=3600)
    for _ in range(3):
        metering.record(app_key="pa_x", organisation_id=None, level="l1", outcome="passed", day=AS_OF)
    assert not UsageCounter.objects.exists()
    assert metering.flush() == 1
    metering.record(app_key="pa_x", organisation_id=None, level="l1", outcome="passed", count=2, day=AS_OF)
    metering.flush()
    assert UsageCounter.objects.get().count == 5


# -- keys --------------------------------------------------------------------------------------------------


def test_keys_are_published(client, registry, partner):
    response = partner.post(client, PATH, person_body(valid_people(registry, 1)[0]), nonce="nonce-keys-published-1")
    listed = client.get("/partner/v1/keys").json()["keys"]
    assert listed[0]["status"] == "current" and listed[0]["key_id"] == response["X-Tongban-Key-Id"]
    assert listed[0]["uid"] == "1234567812345678" and "BEGIN PUBLIC KEY" in listed[0]["public_key_pem"]
    assert listed[0]["algorithm"] == "SM2-SM3"


@pytest.mark.django_db(transaction=True)
def test_after_a_rotation_old_answers_still_verify_and_new_ones_use_the_new_key(client):
    from tests.accounts.factories import make_staff
    from tongban.accounts.roles import StaffRole
    from tongban.crypto import keys
    from tongban.crypto.services import key_rotate

    make_staff("keyadmin", StaffRole.KEY_ADMIN)
    before = client.post(PATH, b"{}", content_type="application/json", HTTP_X_TONGBAN_NONCE="nonce-rotation-00001")
    assert before.status_code == 401
    key_rotate(purpose="api_signing", operator="keyadmin")
    keys.keyring().invalidate()
    after = client.post(PATH, b"{}", content_type="application/json", HTTP_X_TONGBAN_NONCE="nonce-rotation-00002")
    assert after["X-Tongban-Key-Id"] != before["X-Tongban-Key-Id"]
    listed = client.get("/partner/v1/keys").json()["keys"]
    assert listed[0]["key_id"] == after["X-Tongban-Key-Id"] and listed[0]["status"] == "current"
    assert {k["key_id"] for k in listed} == {before["X-Tongban-Key-Id"], after["X-Tongban-Key-Id"]}
    assert response_verifies(client, before, "nonce-rotation-00001")
    assert response_verifies(client, after, "nonce-rotation-00002")
