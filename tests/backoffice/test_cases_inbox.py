"""The officers' case work on the staff site: the inbox's jurisdiction, filters and keyset paging (its query
count pinned), the case detail (each opening and each material audited), only the actions allowed in this
state to this officer, claim and assign, bulk acceptance where the item allows, statistics."""

from __future__ import annotations

import datetime as dt
import io
import itertools
import re

import pytest

from tests.accounts.factories import login_verified, make_officer, make_staff
from tests.backoffice.queries import statements
from tests.cases.conftest import make_citizen, make_item, png_bytes
from tongban.accounts.roles import StaffRole
from tongban.audit.models import AuditEntry
from tongban.cases.attachments import attachment_add
from tongban.cases.catalog_bridge import withdraw_item
from tongban.cases.models import Case
from tongban.cases.services import case_act, case_save_draft, case_start, case_submit
from tongban.core import clock

pytestmark = pytest.mark.django_db

ANSWERS = {"name": "张三", "reason": "damaged"}
PICKUP = {"method": "pickup", "station": "西湖区公安分局出入境接待大厅"}
_numbers = itertools.count(1)


@pytest.fixture
def items():
    photo = make_item("T001")  # an uploaded photo: an officer must look at it, no bulk acceptance
    fetched = make_item("T002", title="无犯罪记录证明", materials=())  # nothing to inspect: bulk allowed
    yield photo, fetched
    withdraw_item("T001")
    withdraw_item("T002")


def submitted(user, item) -> Case:
    case = case_start(user=user, item_code=item.code)
    case_save_draft(user=user, case_id=case.pk, answers=ANSWERS, prefilled=["name"], delivery=PICKUP)
    if item.materials:
        attachment_add(user=user, case_id=case.pk, material_code="photo", file=io.BytesIO(png_bytes()))
    return case_submit(user=user, case_id=case.pk)


def make_case(applicant, *, state="submitted", department="hukou", region_code="330106", item_code="T001",
              submitted_at=None, due_on=None, assigned_to=None) -> Case:
    """A case row as the engine leaves it (for lists: quicker than the services, dates under control)."""
    n = next(_numbers)
    at = submitted_at or clock.now() - dt.timedelta(minutes=n)
    return Case.objects.create(
        number=f"{region_code}{at:%Y%m%d}{n:04d}", item_code=item_code, item_title=f"事项{item_code}",
        item_snapshot={"code": item_code, "title": f"事项{item_code}", "department": department,
                       "materials": [{"code": "photo", "name": "照片"}]},
        department=department, region_code=region_code, workflow="two_review", state=state, applicant=applicant,
        submitted_at=at, clock_started_on=at.date(), limit_days=5, due_on=due_on, assigned_to=assigned_to)


@pytest.fixture
def citizen():
    return make_citizen()


@pytest.fixture
def officer():
    return make_officer("officer_a", department="hukou", region_code="330100")


@pytest.fixture
def officer_client(client, officer):
    login_verified(client, officer)
    return client


def _numbers_listed(client, query: str = "") -> list[str]:
    body = client.get(f"/backoffice/cases/?{query}").content.decode()
    return re.findall(r'<a href="/backoffice/cases/(\d+)/">', body)


# -- jurisdiction ---------------------------------------------------------------------------------------------


def test_the_inbox_shows_only_the_officers_department_and_region(officer_client, citizen):
    mine = make_case(citizen, region_code="330106")
    make_case(citizen, department="traffic", region_code="330106")
    make_case(citizen, region_code="320102")  # another city
    make_case(citizen, state="draft")  # a draft is the applicant's alone
    Case.objects.filter(state="draft").update(submitted_at=None)
    assert _numbers_listed(officer_client) == [str(mine.pk)]


@pytest.mark.parametrize("who", ["traffic", "other_city", "security_admin", "citizen"])
def test_outside_the_jurisdiction_every_page_and_action_is_not_there(client, citizen, items, who):
    case = submitted(citizen, items[0])
    attachment = case.attachments.first()
    if who == "traffic":
        actor = make_officer("t1", department="traffic", region_code="330100")
    elif who == "other_city":
        actor = make_officer("n1", department="hukou", region_code="320100")
    elif who == "security_admin":
        actor = make_staff("sec", StaffRole.SECURITY_ADMIN)
    else:
        actor = make_citizen()
    if who == "citizen":
        client.force_login(actor)
    else:
        login_verified(client, actor)
    missing = client.get("/backoffice/cases/999999/")
    pages = [("get", f"/backoffice/cases/{case.pk}/", {}),
             ("get", f"/backoffice/cases/{case.pk}/materials/{attachment.pk}/", {}),
             ("post", f"/backoffice/cases/{case.pk}/act/", {"action": "accept", "version": case.version}),
             ("post", f"/backoffice/cases/{case.pk}/assign/", {"how": "claim"}),
             ("post", f"/backoffice/cases/{case.pk}/comment/", {"text": "看看"}),
             ("post", "/backoffice/cases/bulk-accept/", {"case": case.pk, f"v_{case.pk}": case.version})]
    for method, path, data in pages:
        response = getattr(client, method)(path, data)
        if who == "citizen":  # the staff site's gate: a citizen is sent to the staff login
            assert response.status_code == 302 and "/backoffice/login/" in response["Location"]
            continue
        if path.endswith("bulk-accept/") and who in ("traffic", "other_city"):
            assert response.status_code == 302  # the inbox, with "0 accepted": the case is simply not theirs
            continue
        assert response.status_code == 404, (who, path)
        assert response.content == missing.content
    case.refresh_from_db()
    assert case.state == "submitted" and case.assigned_to_id is None
    assert not case.events.filter(kind__in=["comment", "assign"]).exists()
    assert not AuditEntry.objects.filter(action__in=["case.material.open", "personal_data.read"],
                                         subject_type="cases.case").exists()


# -- filters and paging -------------------------------------------------------------------------------------


def test_filters(officer_client, officer, citizen):
    today = clock.today_local()
    old = make_case(citizen, submitted_at=clock.now() - dt.timedelta(days=40), due_on=today - dt.timedelta(days=3))
    review = make_case(citizen, state="review", item_code="T009", assigned_to=officer)
    fresh = make_case(citizen, due_on=today + dt.timedelta(days=4))
    assert _numbers_listed(officer_client, "state=review") == [str(review.pk)]
    assert _numbers_listed(officer_client, "item=T009") == [str(review.pk)]
    assert _numbers_listed(officer_client, "overdue=on") == [str(old.pk)]
    assert _numbers_listed(officer_client, "assigned=mine") == [str(review.pk)]
    assert _numbers_listed(officer_client, "assigned=unassigned") == [str(fresh.pk), str(old.pk)]
    since = (today - dt.timedelta(days=5)).isoformat()
    assert _numbers_listed(officer_client, f"submitted_from={since}") == [str(review.pk), str(fresh.pk)]
    until = (today - dt.timedelta(days=30)).isoformat()
    assert _numbers_listed(officer_client, f"submitted_to={until}") == [str(old.pk)]


def test_a_bad_filter_says_so_and_lists_nothing(officer_client, citizen):
    make_case(citizen)
    response = officer_client.get("/backoffice/cases/?submitted_from=2026-10-09&submitted_to=2026-10-01")
    body = response.content.decode()
    assert "结束日期不能早于开始日期" in body and "<title>错误：" in body
    assert not re.findall(r'<a href="/backoffice/cases/(\d+)/">', body)


def test_keyset_paging_with_a_fixed_number_of_queries(officer_client, citizen):
    at = clock.now()
    made = [make_case(citizen, submitted_at=at - dt.timedelta(minutes=i // 2)) for i in range(45)]  # ties too
    expected = [str(c.pk) for c in sorted(made, key=lambda c: (c.submitted_at, c.pk), reverse=True)]
    officer_client.get("/backoffice/cases/")  # warm up
    with statements() as first_queries:
        body = officer_client.get("/backoffice/cases/?state=submitted").content.decode()
    first = re.findall(r'<a href="/backoffice/cases/(\d+)/">', body)
    cursor = re.search(r'before=([0-9-]+)" rel="next"', body).group(1)
    with statements() as second_queries:
        body = officer_client.get(f"/backoffice/cases/?state=submitted&before={cursor}").content.decode()
    second = re.findall(r'<a href="/backoffice/cases/(\d+)/">', body)
    cursor = re.search(r'before=([0-9-]+)" rel="next"', body).group(1)
    third = _numbers_listed(officer_client, f"state=submitted&before={cursor}")
    assert first + second + third == expected and len(first) == len(second) == 20 and len(third) == 5
    assert 3 <= len(first_queries) == len(second_queries) <= 6, first_queries


# -- one case -----------------------------------------------------------------------------------------------


def test_detail_offers_only_the_allowed_actions_and_is_audited(officer_client, officer, citizen, items):
    case = submitted(citizen, items[0])
    body = officer_client.get(f"/backoffice/cases/{case.pk}/").content.decode()
    offered = re.findall(r'name="go" value="([a-z_]+)"', body)
    assert offered == ["accept", "return_for_correction", "not_accept"]  # not withdraw: that is the applicant's
    assert "损坏换领" in body and "（平台获取）" in body  # the answers, the prefilled mark
    assert "提交申请" in body  # the timeline
    (opened,) = AuditEntry.objects.filter(action="personal_data.read", subject_type="cases.case",
                                          subject_id=str(case.pk))
    assert opened.actor_id == str(officer.pk) and opened.details["event"] == "case_opened"


def test_opening_a_material_is_audited_each_time(officer_client, officer, citizen, items):
    case = submitted(citizen, items[0])
    attachment = case.attachments.get()
    for _ in range(2):
        response = officer_client.get(f"/backoffice/cases/{case.pk}/materials/{attachment.pk}/")
        assert response.status_code == 200 and response["Content-Type"] == attachment.content_type
        assert response.content[:8] == b"\x89PNG\r\n\x1a\n" and response["X-Content-Type-Options"] == "nosniff"
    assert AuditEntry.objects.filter(action="case.material.open", subject_id=str(case.pk),
                                     actor_id=str(officer.pk)).count() == 2


def test_an_action_not_allowed_in_this_state_is_refused_clearly(officer_client, citizen, items):
    case = submitted(citizen, items[0])
    response = officer_client.post(f"/backoffice/cases/{case.pk}/act/", {"action": "approve", "version": case.version})
    body = response.content.decode()
    assert response.status_code == 409 and "不能执行" in body and "<title>错误：" in body
    case.refresh_from_db()
    assert case.state == "submitted"


def test_accept_then_a_stale_second_officer_is_told(officer_client, citizen, items, client):
    case = submitted(citizen, items[0])
    seen = case.version
    response = officer_client.post(f"/backoffice/cases/{case.pk}/act/", {"action": "accept", "version": seen})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == "review"
    from django.test import Client

    other = Client()
    login_verified(other, make_officer("officer_c", region_code="330106"))
    response = other.post(f"/backoffice/cases/{case.pk}/act/", {"action": "not_accept", "version": seen,
                                                                "reason": "材料不全"})
    assert response.status_code == 409 and "已被他人处理" in response.content.decode()


def test_correction_needs_the_missing_items(officer_client, citizen, items):
    case = submitted(citizen, items[0])
    response = officer_client.post(f"/backoffice/cases/{case.pk}/act/",
                                   {"action": "return_for_correction", "version": case.version, "missing": " "})
    body = response.content.decode()
    assert response.status_code == 422 and 'href="#id_return_for_correction_missing"' in body
    assert re.search(r'id="id_return_for_correction_missing"[^>]*aria-invalid="true"', body)
    response = officer_client.post(f"/backoffice/cases/{case.pk}/act/", {
        "action": "return_for_correction", "version": case.version, "missing": "照片背景须为白色\n户口簿首页"})
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.state == "correction" and case.correction_items == ["照片背景须为白色", "户口簿首页"]


def test_claim_assign_and_release(officer_client, officer, citizen, items):
    colleague = make_officer("officer_b", region_code="330106")
    make_officer("traffic_b", department="traffic", region_code="330106")
    case = submitted(citizen, items[0])
    assert officer_client.post(f"/backoffice/cases/{case.pk}/assign/", {"how": "claim"}).status_code == 302
    case.refresh_from_db()
    assert case.assigned_to == officer
    body = officer_client.get(f"/backoffice/cases/{case.pk}/").content.decode()
    assert '<option value="officer_b">' in body and "traffic_b" not in body
    assert officer_client.post(f"/backoffice/cases/{case.pk}/assign/",
                               {"how": "assign", "assignee": "officer_b"}).status_code == 302
    case.refresh_from_db()
    assert case.assigned_to == colleague
    response = officer_client.post(f"/backoffice/cases/{case.pk}/assign/", {"how": "assign", "assignee": "traffic_b"})
    assert response.status_code == 422 and "只能分派给" in response.content.decode()
    assert officer_client.post(f"/backoffice/cases/{case.pk}/assign/", {"how": "release"}).status_code == 302
    case.refresh_from_db()
    assert case.assigned_to is None
    assert AuditEntry.objects.filter(action="case.assign", subject_id=str(case.pk)).count() == 3


def test_bulk_acceptance_only_where_the_item_allows(officer_client, citizen, items):
    photo, fetched = items
    bulk = [submitted(citizen, fetched) for _ in range(2)]
    single = submitted(citizen, photo)
    body = officer_client.get("/backoffice/cases/").content.decode()
    boxes = set(re.findall(r'name="case" value="(\d+)"', body))
    assert boxes == {str(c.pk) for c in bulk}
    data = {"case": [str(c.pk) for c in [*bulk, single]]}
    data.update({f"v_{c.pk}": str(c.version) for c in [*bulk, single]})
    response = officer_client.post("/backoffice/cases/bulk-accept/", data, follow=True)
    text = response.content.decode()
    assert "已批量受理 2 件" in text and "1 件未受理" in text
    states = {c.pk: Case.objects.get(pk=c.pk).state for c in [*bulk, single]}
    assert states == {bulk[0].pk: "review", bulk[1].pk: "review", single.pk: "submitted"}


# -- statistics ---------------------------------------------------------------------------------------------


def test_statistics_with_charts(officer_client, officer, citizen, items):
    photo, fetched = items
    a = submitted(citizen, photo)
    submitted(citizen, fetched)
    case_act(user=officer, case_id=a.pk, action="accept")
    Case.objects.filter(pk=a.pk).update(due_on=clock.today_local() - dt.timedelta(days=1))
    make_case(citizen, department="traffic")  # not in this officer's scope
    response = officer_client.get("/backoffice/cases/stats/")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("<svg") == 6 and "<script" not in body
    assert re.search(r'<dt>办件总数</dt><dd>2</dd>', body)
    assert '<span id="stats-overdue">1</span>' in body
    state_rows = dict(re.findall(r"<tr><td>([^<]+)</td><td>(\d+)</td></tr>", body.split('id="by-state"')[1]
                                 .split("</table>")[0]))
    assert state_rows == {"审核": "1", "待受理": "1"}
    assert "西湖区" in body.split('id="by-region"')[1]


def test_the_officers_home_leads_to_the_inbox(officer_client):
    body = officer_client.get("/backoffice/").content.decode()
    assert 'href="/backoffice/cases/"' in body and "随办件功能上线" not in body
