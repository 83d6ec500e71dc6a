"""Operating the exchange: reconciliation (a planted difference is reported), the message log verified on
both sides (an altered entry is found), the backfill (same keys, rate-limited), dead letters inspected
masked and replayed from the back office, ratings and item publications as further types, the schemas."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client

from tests.accounts.factories import login_verified, make_staff
from tests.exchange.test_outbound import states, submitted, walk
from tongban.accounts.roles import StaffRole
from tongban.audit.models import AuditEntry
from tongban.cases.services import case_act
from tongban.core import clock as core_clock
from tongban.evaluation.services import rating_submit
from tongban.exchange import delivery, schemas
from tongban.exchange.backfill import RateLimiter
from tongban.exchange.log import verify_log
from tongban.exchange.models import MessageLog, MessageStatus, OutMessage
from tongban.exchange.reconcile import reconcile_day

pytestmark = pytest.mark.django_db


def test_reconciliation_reports_a_planted_difference(national, hooked_item, citizen, officers):
    case = walk(submitted(citizen, hooked_item), officers)
    delivery.deliver_pass(worker="w1")
    today = core_clock.today_local()
    report = reconcile_day(day=today)
    assert report.ok, report.lines
    lost = OutMessage.objects.filter(type="case.event").order_by("id")[1]
    national.exchange.forget(lost.idempotency_key)  # the national side loses one record
    report = reconcile_day(day=today)
    line = next(x for x in report.lines if x["type"] == "case.event")
    assert not report.ok and line["ours"] == 4 and line["theirs"] == 3
    assert line["missing_there"] == [lost.idempotency_key] and line["extra_there"] == []
    # the cure: a backfill of the day sends it again; everything else is a duplicate
    out = io.StringIO()
    call_command("exchange", "backfill", "--since", today.isoformat(), "--rate", "0", "--concurrency", "1",
                 stdout=out)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    assert (result["accepted"], result["duplicates"]) == (1, 3)
    assert reconcile_day(day=today).ok
    records = sorted(national.exchange.entity_records(f"case:{case.number}"), key=lambda r: r.seq)
    assert [r.body["to_state"] for r in records] == ["submitted", "review", "decision", "delivery"]


def test_the_message_logs_verify_and_an_altered_entry_is_found(national, hooked_item, citizen, officers):
    walk(submitted(citizen, hooked_item), officers)
    delivery.deliver_pass(worker="w1")
    report = verify_log(remote=list(national.exchange.log))
    assert report.ok and report.matched_remote >= 1, report.problems
    call_command("exchange", "verify-log")  # the auditor's command, against the simulator's own log
    entry = MessageLog.objects.filter(direction="out").first()
    MessageLog.objects.filter(pk=entry.pk).update(count=entry.count + 1)
    report = verify_log(remote=list(national.exchange.log))
    assert any("altered" in p for p in report.problems)


def test_backfill_is_rate_limited():
    slept: list[float] = []
    limiter = RateLimiter(1000, sleep=slept.append)
    for _ in range(5):
        limiter.take(1000)
    assert sum(slept) >= 3.9  # 5,000 messages at 1,000/s: about four seconds of waiting after the first


def test_a_dead_letter_is_inspected_masked_and_replayed(national, hooked_item, citizen, clock):
    case = submitted(citizen, hooked_item)
    message = OutMessage.objects.get(type="case.event")
    national.exchange.set_faults("reject", reject_keys=[message.idempotency_key])
    for _ in range(3):
        delivery.deliver_pass(worker="w1")
        clock.advance(7200)
    message.refresh_from_db()
    assert message.status == MessageStatus.DEAD
    admin = make_staff("sysadmin1", StaffRole.SYSTEM_ADMIN)
    bo = Client()
    login_verified(bo, admin)
    page = bo.get("/backoffice/exchange/")
    assert page.status_code == 200 and message.idempotency_key in page.content.decode()
    detail = bo.get(f"/backoffice/exchange/messages/{message.pk}/").content.decode()
    assert "330106199001011234" not in detail and "1234" in detail
    assert "张三" not in detail and case.number in detail
    assert AuditEntry.objects.filter(action="exchange.inspect").exists()
    national.exchange.set_faults(None)  # the cause fixed
    assert bo.post(f"/backoffice/exchange/messages/{message.pk}/replay/").status_code == 302
    delivery.deliver_pass(worker="w1")
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT and states(national, case) == ["submitted"]
    officer = make_staff("officer9", StaffRole.OFFICER, department="hukou", region_code="330100")
    nosy = Client()
    login_verified(nosy, officer)
    assert nosy.get("/backoffice/exchange/").status_code == 404


def test_ratings_and_item_publications_go_out_too(national, hooked_item, citizen, officers):
    case = walk(submitted(citizen, hooked_item), officers)
    case_act(user=officers[1], case_id=case.pk, action="deliver")
    rating = rating_submit(user=citizen, case_id=case.pk, level=5)
    delivery.deliver_pass(worker="w1")
    got = national.exchange.records[f"evaluation.rating:{rating.pk}"]
    assert got.body["level"] == 5 and got.body["case_number"] == case.number and got.personal is None
    publication = next(r for r in national.exchange.records.values() if r.type == "item.publication")
    assert publication.body["implementation_code"] == "330100-EXCH-0001" and publication.body["hooked_national"]


def test_what_goes_out_follows_the_published_schemas(national, hooked_item, citizen, officers):
    walk(submitted(citizen, hooked_item), officers)
    delivery.deliver_pass(worker="w1")
    for rec in national.exchange.records.values():
        body_model, personal_model = schemas.OUTGOING[(rec.type, rec.version)]
        body_model.model_validate(rec.body)
        if personal_model is not None:
            personal_model.model_validate(rec.personal)
    for name, doc in schemas.schema_documents().items():  # docs/exchange/schemas/ is current
        on_disk = json.loads((schemas.SCHEMA_DIR / name).read_text(encoding="utf-8"))
        assert on_disk == json.loads(json.dumps(doc)), f"run `tongban exchange schemas --write` ({name})"


def test_verification_statistics_go_out_once_a_day(national, clock):
    import datetime as dt

    from tongban.exchange.services import verification_stats_emit
    from tongban.partners.models import UsageCounter

    day = dt.date(2026, 12, 6)
    UsageCounter.objects.create(day=day, app_key="app-1", level="L2", outcome="consistent", count=40)
    UsageCounter.objects.create(day=day, app_key="channel:web", level="L2", outcome="consistent", count=2)
    UsageCounter.objects.create(day=day, app_key="app-1", level="L3", outcome="source_unavailable", count=1)
    verification_stats_emit(day=day)
    verification_stats_emit(day=day)  # the daily job ran twice: one message
    delivery.deliver_pass(worker="w1")
    got = national.exchange.records["verification.stats:20261206"]
    assert got.body == {"day": "2026-12-06", "total": 43, "counts": [
        {"level": "L2", "outcome": "consistent", "count": 42},
        {"level": "L3", "outcome": "source_unavailable", "count": 1}]}
    schemas.VerificationStatsV1.model_validate(got.body)
    assert reconcile_day(day=day).ok


def test_the_envelope_key_rotates_by_age_and_by_command(national, hooked_item, citizen, officers, clock):
    from tongban.exchange.models import EnvelopeKey

    case = submitted(citizen, hooked_item)
    delivery.deliver_pass(worker="w1")
    first = EnvelopeKey.objects.get(retired_at__isnull=True)
    clock.advance(25 * 3600)  # older than ROTATE_HOURS
    case_act(user=officers[0], case_id=case.pk, action="accept")
    delivery.deliver_pass(worker="w1")
    second = EnvelopeKey.objects.get(retired_at__isnull=True)
    assert second.key_id != first.key_id
    call_command("exchange", "rotate-key")
    case_act(user=officers[1], case_id=case.pk, action="pass_review")
    delivery.deliver_pass(worker="w1")
    assert EnvelopeKey.objects.count() == 3 and len(national.exchange._ciphers) == 3
    records = national.exchange.entity_records(f"case:{case.number}")
    assert [r.personal["applicant_id_number"] for r in records] == ["330106199001011234"] * 3
    assert AuditEntry.objects.filter(action="exchange.key.rotate").count() == 1
