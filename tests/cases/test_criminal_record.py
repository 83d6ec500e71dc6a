"""无犯罪记录证明 through the case engine, on the shipped catalog item and the generated criminal-record source:
the certificate (SM2-signed, verifiable online by number and code) for a person without a record; for one
with a record, approving is refused and the denial issues the signed refusal notice; the verdict is
asked of the source (audited) and nothing of an offence reaches the platform."""

from __future__ import annotations

import pytest
from django.db import connections

from tests.accounts.factories import make_officer
from tests.cases.conftest import drain, make_citizen
from tongban.audit.models import AuditEntry
from tongban.cases.models import CaseEvent, ElectronicResult
from tongban.cases.prefill import materials_fetch
from tongban.cases.results import result_lookup, verify_document
from tongban.cases.services import case_act, case_save_draft, case_start, case_submit
from tongban.core.errors import TongbanError
from tongban.registry.interfaces import CriminalRecordSource, criminal_records

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")
CODE = "330106-GAZA001"


@pytest.fixture
def people(db):
    """(a person with a criminal record, one without) from a generated registry, and the catalog."""
    from tongban.catalog.loading import catalog_load
    from tongban.registry.generator import generate

    catalog_load()
    generate(people=400, seed=7, parallel=False)
    with connections["criminal"].cursor() as cursor:
        cursor.execute("SELECT id_number, name, offence FROM criminal_record ORDER BY id_number LIMIT 1")
        with_record = cursor.fetchone()
        cursor.execute("SELECT id_number FROM criminal_record")
        recorded = {row[0] for row in cursor.fetchall()}
    with connections["population"].cursor() as cursor:
        cursor.execute("SELECT id_number, name FROM population_person WHERE status = 'normal' ORDER BY id_number")
        clean = next(row for row in cursor.fetchall() if row[0] not in recorded)
    return with_record, clean


def _apply(citizen, **answers):
    case = case_start(user=citizen, item_code=CODE)
    values = {"purpose": "employment", "recipient": "杭州某科技有限公司", "period_years": 5, "station": "s1",
              "phone": "13900003333", **answers}
    case_save_draft(user=citizen, case_id=case.pk, answers=values, delivery={"method": "electronic"})
    assert materials_fetch(user=citizen, case=case) == []  # 免提交: the ID card from the population registry
    return case_submit(user=citizen, case_id=case.pk)


def test_certificate_or_refusal_notice(people):
    (rec_number, rec_name, offence), (clean_number, clean_name) = people
    assert isinstance(criminal_records(), CriminalRecordSource)
    assert criminal_records().record_check(rec_number).has_record
    assert not criminal_records().record_check(clean_number).has_record
    officer = make_officer("station-xh", department="public_order", region_code="330100")

    # Without a record: accepted, checked (audited), the certificate issued, signed and verifiable by number.
    clean = make_citizen(id_number=clean_number, name=clean_name, phone="13900003331")
    case = _apply(clean)
    assert case.limit_days == 3 and case.due_on is not None
    case = case_act(user=officer, case_id=case.pk, action="accept")
    check = CaseEvent.objects.get(case=case, kind="check")
    assert check.details["record_check"] == "none" and not check.visible_to_applicant
    audit = AuditEntry.objects.get(action="criminal_record.check", subject_id=str(case.pk))
    assert audit.details["verdict"] == "none" and audit.details["since"]
    case = case_act(user=officer, case_id=case.pk, action="approve")
    drain()
    result = ElectronicResult.objects.get(case=case)
    case.refresh_from_db()
    assert case.state == "closed"
    assert verify_document(bytes(result.pdf), bytes(result.signature), result.key_version)
    assert result_lookup(number=case.number, check_code=result.check_code) is not None
    page = pytest.importorskip("django.test").Client().get(
        "/verify/result/", {"number": case.number, "code": result.check_code})
    assert page.status_code == 200 and case.item_title in page.content.decode()

    # With a record: approving is refused; the denial takes the standard reason and issues the refusal notice.
    recorded = make_citizen(id_number=rec_number, name=rec_name, phone="13900003332")
    case = _apply(recorded, period_years="")
    case = case_act(user=officer, case_id=case.pk, action="accept")
    with pytest.raises(TongbanError) as refused:
        case_act(user=officer, case_id=case.pk, action="approve")
    assert refused.value.code == "case_record_exists"
    case = case_act(user=officer, case_id=case.pk, action="deny")
    assert case.state == "denied" and "存在犯罪记录" in case.decision_reason
    assert offence not in case.decision_reason
    drain()
    notice = ElectronicResult.objects.get(case=case)
    assert verify_document(bytes(notice.pdf), bytes(notice.signature), notice.key_version)
    assert result_lookup(number=case.number, check_code=notice.check_code) is not None
    # The platform learns a verdict only: no offence in any event, audit entry or document.
    everything = [str(e.details) for e in CaseEvent.objects.all()] + [str(a.details) for a in AuditEntry.objects.all()]
    assert not any(offence in text for text in everything)


def test_the_level_comes_from_the_item(people):
    _, (clean_number, clean_name) = people
    low = make_citizen(level=1, id_number=clean_number, name=clean_name, phone="13900003334")
    with pytest.raises(TongbanError) as caught:
        case_start(user=low, item_code=CODE)
    assert caught.value.code == "case_level_too_low" and caught.value.details[0]["required_level"] == 2


@pytest.mark.django_db(databases=[])
def test_a_workflow_names_only_known_checks():
    from tongban.cases.workflow import WorkflowConfigError, get_workflow, loads

    assert get_workflow("criminal_record").state("review").check == "criminal_record"
    text = """key = "w"\nstart = "a"\n[[states]]\nkey = "a"\ncheck = "horoscope"\n[[states.actions]]
key = "go"\nto = "b"\nroles = ["officer"]\n[[states]]\nkey = "b"\nend = true\n"""
    with pytest.raises(WorkflowConfigError, match="unknown check"):
        loads(text)
