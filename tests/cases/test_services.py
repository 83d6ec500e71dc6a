"""The case services end to end on the engine: start, draft, submit, accept, review, approve, deliver;
refusals of actions out of state or role; the correction loop; withdrawal; notices through the outbox."""

from __future__ import annotations

import io

import pytest

from tests.cases.conftest import make_citizen, make_item, png_bytes
from tongban.audit.models import AuditEntry
from tongban.cases import numbers
from tongban.cases.attachments import attachment_add
from tongban.cases.catalog_bridge import withdraw_item
from tongban.cases.models import Case, CaseEvent
from tongban.cases.services import (
    case_act,
    case_answer_correction,
    case_assign,
    case_comment,
    case_save_draft,
    case_start,
    case_submit,
    case_withdraw,
    countdown_of,
)
from tongban.core.errors import TongbanError
from tongban.jobs.worker import Worker
from tongban.notifications.models import AccountMessage, SmsMessage

pytestmark = pytest.mark.django_db(transaction=False)

ANSWERS = {"name": "张三", "reason": "damaged"}
PICKUP = {"method": "pickup", "station": "西湖区公安分局出入境接待大厅"}


def filled_draft(user, item) -> Case:
    case = case_start(user=user, item_code=item.code)
    case_save_draft(user=user, case_id=case.pk, answers=ANSWERS, prefilled=["name"], delivery=PICKUP)
    attachment_add(user=user, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes()))
    return case


def submitted(user, item) -> Case:
    case = filled_draft(user, item)
    return case_submit(user=user, case_id=case.pk)


def test_the_whole_path_to_closed(item, citizen, officer, officer2):
    case = submitted(citizen, item)
    assert case.state == "submitted" and numbers.is_valid(case.number)
    assert case.number.startswith("330106")  # the applicant's household region
    assert case.clock_started_on is not None and case.due_on is not None
    case = case_act(user=officer, case_id=case.pk, action="accept", expected_version=case.version)
    assert case.state == "review" and case.accepted_at and case.assigned_to == officer
    case = case_act(user=officer2, case_id=case.pk, action="pass_review", expected_version=case.version)
    case = case_act(user=officer, case_id=case.pk, action="approve")
    assert case.state == "delivery" and case.finished_on is not None
    case = case_act(user=officer2, case_id=case.pk, action="deliver")
    assert case.state == "closed" and case.closed_at is not None
    assert countdown_of(case).status == "finished"
    steps = [e.action for e in CaseEvent.objects.filter(case=case, kind="transition")]
    assert steps == ["submit", "accept", "pass_review", "approve", "deliver"]
    audited = AuditEntry.objects.filter(subject_type="cases.case", subject_id=str(case.pk), action="case.transition")
    assert audited.count() == 5
    # The form's answers are encrypted in the database.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT form_data FROM cases_case WHERE id = %s", [case.pk])
        raw = bytes(cursor.fetchone()[0])
    assert "张三".encode() not in raw and b"damaged" not in raw


def test_notices_reach_the_account_and_the_phone(item, citizen, officer, sms_sim):
    case = submitted(citizen, item)
    case_act(user=officer, case_id=case.pk, action="accept")
    worker = Worker(worker_id="tests")
    while worker.run_once():
        pass
    messages = list(AccountMessage.objects.filter(user=citizen).order_by("created_at"))
    assert [m.title for m in messages] == ["提交申请", "受理"]
    assert numbers.display(case.number) in messages[0].body
    texts = [m.text for m in sms_sim.messages()]
    assert len(texts) == 2 and any("已受理" in t for t in texts)
    assert SmsMessage.objects.count() == 2


def test_refusals_are_clear(item, citizen, officer):
    case = filled_draft(citizen, item)
    with pytest.raises(TongbanError) as not_yet:
        case_act(user=officer, case_id=case.pk, action="accept")
    assert not_yet.value.code == "case_action_not_allowed"
    case = case_submit(user=citizen, case_id=case.pk)
    # The applicant cannot accept their own case, and an officer cannot withdraw it.
    from tongban.cases.workflow import get_workflow

    with pytest.raises(TongbanError) as role:
        get_workflow(case.workflow).check(case.state, "accept", {"applicant"})
    assert role.value.code == "case_action_forbidden"
    with pytest.raises(TongbanError) as unknown:
        case_act(user=officer, case_id=case.pk, action="withdraw")
    assert unknown.value.code == "case_action_forbidden"
    # not_accept and deny need the legal reason
    with pytest.raises(TongbanError) as reason:
        case_act(user=officer, case_id=case.pk, action="not_accept")
    assert reason.value.code == "case_reason_required"
    case = case_act(user=officer, case_id=case.pk, action="not_accept", reason="不属于本机关职权范围（行政许可法第三十二条）")
    assert case.state == "not_accepted" and "第三十二条" in case.decision_reason
    with pytest.raises(TongbanError) as ended:
        case_act(user=officer, case_id=case.pk, action="accept")
    assert ended.value.code == "case_action_not_allowed"
    assert "不予受理" in ended.value.message("zh")


def test_out_of_scope_officer_sees_nothing(item, citizen):
    from tests.accounts.factories import make_officer

    elsewhere = make_officer("nanjing", department="hukou", region_code="320100")
    other_department = make_officer("traffic", department="traffic", region_code="330100")
    case = submitted(citizen, item)
    for user in (elsewhere, other_department):
        with pytest.raises(TongbanError) as exc:
            case_act(user=user, case_id=case.pk, action="accept")
        assert exc.value.code == "not_found"


def test_stale_version_is_refused(item, citizen, officer, officer2):
    case = submitted(citizen, item)
    seen = case.version
    case_act(user=officer, case_id=case.pk, action="accept", expected_version=seen)
    with pytest.raises(TongbanError) as exc:
        case_act(user=officer2, case_id=case.pk, action="return_for_correction", missing=["照片"],
                 expected_version=seen)
    assert exc.value.code == "case_changed"
    assert "已被他人处理" in exc.value.message("zh") and "审核" in exc.value.message("zh")


def test_correction_loop_once_and_the_clock_stops(item, citizen, officer):
    case = submitted(citizen, item)
    with pytest.raises(TongbanError) as empty:
        case_act(user=officer, case_id=case.pk, action="return_for_correction", missing=[])
    assert empty.value.code == "case_correction_empty"
    case = case_act(user=officer, case_id=case.pk, action="return_for_correction",
                    missing=["证件照背景应为白色", "遗失地点未写明"])
    assert case.state == "correction" and case.suspended_since is not None
    assert case.correction_items == ["证件照背景应为白色", "遗失地点未写明"]
    assert countdown_of(case).status == "suspended"
    # The applicant uploads a new photo and answers.
    attachment_add(user=citizen, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes(color="white")))
    case = case_answer_correction(user=citizen, case_id=case.pk, answers={"note": "已更换照片"})
    assert case.state == "submitted" and case.suspended_since is None
    assert case.data["note"] == "已更换照片"
    # Only once: the officer must now decide.
    with pytest.raises(TongbanError) as twice:
        case_act(user=officer, case_id=case.pk, action="return_for_correction", missing=["再补"])
    assert twice.value.code == "case_correction_once"
    case = case_act(user=officer, case_id=case.pk, action="accept")
    assert case.state == "review"


def test_withdraw_before_acceptance_only(item, citizen, officer):
    case = submitted(citizen, item)
    case = case_withdraw(user=citizen, case_id=case.pk)
    assert case.state == "withdrawn"
    other = submitted(citizen, item)
    case_act(user=officer, case_id=other.pk, action="accept")
    with pytest.raises(TongbanError) as exc:
        case_withdraw(user=citizen, case_id=other.pk)
    assert exc.value.code == "case_action_not_allowed"
    stranger = make_citizen(id_number="330106198507071237")
    with pytest.raises(TongbanError) as hidden:
        case_withdraw(user=stranger, case_id=other.pk)
    assert hidden.value.code == "not_found"


def test_incomplete_application_is_not_submitted(item, citizen):
    case = case_start(user=citizen, item_code=item.code)
    case_save_draft(user=citizen, case_id=case.pk, answers={"name": "张三", "reason": "lost"})
    with pytest.raises(TongbanError) as exc:
        case_submit(user=citizen, case_id=case.pk)
    problems = exc.value.details[0]["problems"]
    assert "“遗失地点”未填写" in problems and "材料“本人近期证件照”未上传" in problems
    assert "未选择结果送达方式" in problems
    assert Case.objects.get(pk=case.pk).number is None


def test_level_and_eligibility(item, db):
    low = make_citizen(level=1, id_number="330106199202021232")
    with pytest.raises(TongbanError) as exc:
        case_start(user=low, item_code=item.code)
    assert exc.value.code == "case_level_too_low" and "L2" in exc.value.message("zh")
    hk = make_citizen(id_type="hk_macao_permit", id_number="H12345678", name="陈大文")
    make_item("T002", hk_macao_applicable=False)
    try:
        with pytest.raises(TongbanError) as hk_exc:
            case_start(user=hk, item_code="T002")
        assert hk_exc.value.code == "case_not_for_hk_macao"
        case = case_start(user=hk, item_code=item.code)  # T001 takes HK/Macao residents
        assert case.region_code == "330100"  # the default region: no household region in a permit
    finally:
        withdraw_item("T002")
    with pytest.raises(TongbanError) as unknown:
        case_start(user=low, item_code="NOPE")
    assert unknown.value.code == "case_item_unavailable"


def test_assign_and_comment(item, citizen, officer, officer2):
    from tests.accounts.factories import make_officer

    case = submitted(citizen, item)
    case = case_assign(user=officer, case_id=case.pk, assignee_id=officer.pk)
    assert case.assigned_to == officer
    case = case_assign(user=officer, case_id=case.pk, assignee_id=officer2.pk)
    assert case.assigned_to == officer2
    outsider = make_officer("nanjing2", department="hukou", region_code="320100")
    with pytest.raises(TongbanError) as exc:
        case_assign(user=officer, case_id=case.pk, assignee_id=outsider.pk)
    assert exc.value.code == "case_assignee_invalid"
    internal = case_comment(user=officer, case_id=case.pk, text="照片需核对")
    shared = case_comment(user=citizen, case_id=case.pk, text="请尽快办理")
    assert not internal.visible_to_applicant and shared.visible_to_applicant
    assert internal.note == "照片需核对"
