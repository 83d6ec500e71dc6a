"""The rating rules and the bad-review loop on the real case engine: who may rate, 一事一评 and 一次一评, one
change, the window, the loop from a bad review to the rater rating the fix, the appeal with a second approver,
the handler kept away from the rater, the rectification deadline across a holiday, the national entry point."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from tests.cases.conftest import drain, make_citizen
from tests.evaluation.conftest import closed_case, make_supervisor
from tongban.accounts.models import User
from tongban.audit.models import AuditEntry
from tongban.cases.models import Case
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.evaluation import selectors, services
from tongban.evaluation.models import BadReview, Channel, Rating, ReviewStatus
from tongban.notifications.models import AccountMessage

pytestmark = pytest.mark.django_db


def bad(user, case, **extra):
    return services.rating_submit(user=user, case_id=case.pk, level=1, tags=["办理超时"],
                                  comment="等了很久，窗口让我跑了两次。", **extra)


# -- who may rate, and how often ---------------------------------------------------------------------------


def test_the_applicant_rates_a_finished_case(case, citizen):
    rating = services.rating_submit(user=citizen, case_id=case.pk, level=5, tags=["办事效率高"], comment="很快")
    assert rating.level == 5 and rating.channel == Channel.WEB and rating.rater_id == citizen.pk
    assert not BadReview.objects.filter(rating=rating).exists()  # a good rating opens no loop
    assert AuditEntry.objects.filter(action="evaluation.rate", subject_id=str(rating.pk)).count() == 1
    from django.db import connection

    with connection.cursor() as cursor:  # the free text is encrypted at rest
        cursor.execute("SELECT comment FROM evaluation_rating WHERE id = %s", [rating.pk])
        raw = bytes(cursor.fetchone()[0])
    assert "很快".encode() not in raw


def test_a_refused_case_can_be_rated(item, citizen, officer):
    case = closed_case(citizen, item, officer, refuse=True)
    assert case.state == "not_accepted"
    assert services.rating_submit(user=citizen, case_id=case.pk, level=3).level == 3


@pytest.mark.parametrize("who", ["other_citizen", "officer", "supervisor", "anonymous"])
def test_someone_who_is_not_the_applicant_is_refused(case, officer, supervisor, who):
    from django.contrib.auth.models import AnonymousUser

    user = {"other_citizen": make_citizen(id_number="330106199202021234", name="王五"), "officer": officer,
            "supervisor": supervisor, "anonymous": AnonymousUser()}[who]
    with pytest.raises(TongbanError) as caught:
        services.rating_submit(user=user, case_id=case.pk, level=5)
    assert caught.value.code == "not_found"  # not allowed looks like not found
    assert not Rating.objects.filter(case=case).exists()


def test_an_open_case_cannot_be_rated(item, citizen, officer):
    from tests.evaluation.conftest import ANSWERS, PICKUP
    from tongban.cases.services import case_save_draft, case_start

    case = case_start(user=citizen, item_code=item.code)
    case_save_draft(user=citizen, case_id=case.pk, answers=ANSWERS, prefilled=["name"], delivery=PICKUP)
    with pytest.raises(TongbanError) as caught:
        services.rating_submit(user=citizen, case_id=case.pk, level=4)
    assert caught.value.code == "evaluation_case_not_finished"


def test_a_second_rating_is_refused(case, citizen):
    services.rating_submit(user=citizen, case_id=case.pk, level=4)
    with pytest.raises(TongbanError) as caught:
        services.rating_submit(user=citizen, case_id=case.pk, level=1, tags=["办理超时"])
    assert caught.value.code == "evaluation_already_rated"
    assert Rating.objects.filter(case=case).count() == 1
    # The database holds the rule too (一事一评), whoever writes.
    with pytest.raises(IntegrityError), transaction.atomic():
        Rating.objects.create(case=case, channel="web", level=5, first_level=5, item_code="x", item_title="x",
                              department="hukou", region_code="330106")


def test_a_rating_changes_once_and_no_more(case, citizen):
    services.rating_submit(user=citizen, case_id=case.pk, level=2, tags=["指引不清"])
    assert BadReview.objects.get(rating__case=case).status == ReviewStatus.ACCEPTED
    changed = services.rating_change(user=citizen, case_id=case.pk, level=4, tags=["指引清楚"])
    assert changed.level == 4 and changed.first_level == 2 and changed.changes == 1
    # Changed to a good rating: the open loop ends.
    assert BadReview.objects.get(rating__case=case).status == ReviewStatus.SUPERSEDED
    with pytest.raises(TongbanError) as caught:
        services.rating_change(user=citizen, case_id=case.pk, level=1, tags=["办理超时"])
    assert caught.value.code == "evaluation_change_used"
    assert Rating.objects.get(case=case).level == 4


def test_the_window_closes(case, citizen, settings):
    settings.TONGBAN_EVALUATION_WINDOW_DAYS = 10
    Case.objects.filter(pk=case.pk).update(closed_at=clock.now() - dt.timedelta(days=11))
    with pytest.raises(TongbanError) as caught:
        services.rating_submit(user=citizen, case_id=case.pk, level=5)
    assert caught.value.code == "evaluation_window_closed"
    Case.objects.filter(pk=case.pk).update(closed_at=clock.now() - dt.timedelta(days=9))
    assert services.rating_submit(user=citizen, case_id=case.pk, level=5)


def test_tags_must_match_the_level_and_a_bad_review_says_why(case, citizen):
    with pytest.raises(TongbanError) as caught:
        services.rating_submit(user=citizen, case_id=case.pk, level=5, tags=["推诿扯皮"])
    assert caught.value.code == "evaluation_tag_invalid"
    with pytest.raises(TongbanError) as caught:
        services.rating_submit(user=citizen, case_id=case.pk, level=1)
    assert caught.value.code == "evaluation_bad_needs_reason"
    with pytest.raises(TongbanError) as caught:
        services.rating_submit(user=citizen, case_id=case.pk, level=7)
    assert caught.value.code == "evaluation_level_invalid"


def test_on_site_service_is_rated_once_per_visit(case, citizen):
    services.rating_submit(user=citizen, case_id=case.pk, level=5, channel=Channel.ONSITE, visit_ref="Q20261201-0031")
    services.rating_submit(user=citizen, case_id=case.pk, level=4, channel=Channel.ONSITE, visit_ref="Q20261203-0007")
    with pytest.raises(TongbanError) as caught:
        services.rating_submit(user=citizen, case_id=case.pk, level=3, channel=Channel.ONSITE,
                               visit_ref="Q20261203-0007")
    assert caught.value.code == "evaluation_already_rated"
    # The online rating of the case is a rating of its own (一事一评 beside 一次一评).
    services.rating_submit(user=citizen, case_id=case.pk, level=5)
    assert Rating.objects.filter(case=case).count() == 3


def test_an_enterprise_case_is_rated_through_its_authorised_agent(officer):
    from tests.cases.conftest import make_item
    from tongban.accounts.enterprises import agent_revoke
    from tongban.accounts.models import Enterprise, EnterpriseAgent
    from tongban.cases.catalog_bridge import withdraw_item

    item = make_item("EV-ENT", enterprise_applicable=True)
    try:
        boss = make_citizen(id_number="330106197001011239", name="王老板")
        agent = make_citizen(id_number="330106199505051233", name="李经办")
        other_agent = make_citizen(id_number="330106199606061231", name="周经办")
        enterprise = Enterprise.objects.create(uscc="91330106MA2GXXXX1X", name="杭州西湖旅馆有限公司",
                                               legal_representative=boss)
        authorisation = EnterpriseAgent.objects.create(enterprise=enterprise, agent=agent, authorised_by=boss)
        EnterpriseAgent.objects.create(enterprise=enterprise, agent=other_agent, authorised_by=boss)
        case = closed_case(agent, item, officer, enterprise_id=enterprise.pk)
        assert case.enterprise_id == enterprise.pk
        agent_revoke(user=boss, enterprise_id=enterprise.pk, agent_id=authorisation.pk)
        with pytest.raises(TongbanError) as caught:  # revoked: no longer acts for the applicant
            services.rating_submit(user=agent, case_id=case.pk, level=5)
        assert caught.value.code == "not_found"
        rating = services.rating_submit(user=other_agent, case_id=case.pk, level=4)
        assert rating.rater_id == other_agent.pk
    finally:
        withdraw_item(item.code)


# -- the handler never finds the rater ---------------------------------------------------------------------


def test_the_handler_cannot_find_the_rater(case, citizen, officer, supervisor, client):
    from tests.accounts.factories import login_verified

    rating = bad(citizen, case)
    review = BadReview.objects.get(rating=rating)
    assert rating.handler_id == officer.pk
    # No read gives an officer the review, its rater or their contact.
    assert not selectors.reviews_for_supervisor(officer).exists()
    assert selectors.review_for_supervisor(officer, review.pk) is None
    assert not services.supervisor_may_act(officer, review)
    with pytest.raises(TongbanError):
        services.rater_contact_read(user=officer, review_id=review.pk)
    login_verified(client, officer)
    for path in (f"/backoffice/evaluation/reviews/{review.pk}/", "/backoffice/evaluation/",
                 "/backoffice/evaluation/stats/", f"/me/cases/{case.pk}/rate/"):
        assert client.get(path).status_code == 404, path
    # Staff screens never prompt a rating.
    home = client.get("/backoffice/").content.decode()
    assert "评价本次服务" not in home and "/rate/" not in home
    # The supervisor sees the review; the rater's contact only on asking, and that read is audited.
    assert selectors.review_for_supervisor(supervisor, review.pk) is not None
    contact = services.rater_contact_read(user=supervisor, review_id=review.pk)
    assert contact == {"name": "李四", "phone": "13800009901"}
    assert AuditEntry.objects.filter(action="evaluation.rater.read", subject_id=str(review.pk)).count() == 1


def test_a_supervisor_who_handled_the_case_is_kept_out(item, citizen):
    """Someone who handled the case as an officer and later became a supervisor does not supervise its review."""
    from tests.accounts.factories import make_officer

    former = make_officer("former_officer", department="hukou", region_code="330100")
    case = closed_case(citizen, item, former)
    review = BadReview.objects.get(rating=bad(citizen, case))
    User.objects.filter(pk=former.pk).update(role_officer=False, role_supervisor=True)
    former.refresh_from_db()
    assert selectors.review_for_supervisor(former, review.pk) is None
    with pytest.raises(TongbanError):
        services.review_visit(user=former, review_id=review.pk, note="回访")


def test_the_officer_and_supervisor_roles_are_separated(db):
    from tests.accounts.factories import make_staff
    from tongban.accounts.roles import StaffRole

    with pytest.raises(IntegrityError), transaction.atomic():
        make_staff("both", StaffRole.OFFICER, StaffRole.SUPERVISOR, department="hukou", region_code="330100")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_staff("noscope", StaffRole.SUPERVISOR)


def test_a_supervisor_outside_the_scope_sees_nothing(case, citizen):
    review = BadReview.objects.get(rating=bad(citizen, case))
    elsewhere = make_supervisor("sup_nj", region_code="320100")
    other_department = make_supervisor("sup_traffic", department="traffic")
    for user in (elsewhere, other_department):
        assert selectors.review_for_supervisor(user, review.pk) is None
        with pytest.raises(TongbanError) as caught:
            services.review_visit(user=user, review_id=review.pk, note="回访")
        assert caught.value.code == "not_found"


# -- the loop ----------------------------------------------------------------------------------------------


def test_a_bad_review_goes_round_the_loop(case, citizen, supervisor, sms_sim):
    rating = bad(citizen, case)
    review = BadReview.objects.get(rating=rating)
    assert review.status == ReviewStatus.ACCEPTED and review.department == "hukou"
    with pytest.raises(TongbanError) as caught:  # steps in order
        services.review_rectify(user=supervisor, review_id=review.pk, note="整改")
    assert caught.value.code == "evaluation_step_not_allowed"
    review = services.review_visit(user=supervisor, review_id=review.pk, note="已电话回访，情况属实。")
    assert review.status == ReviewStatus.RECTIFYING
    assert review.rectify_due_on == services.rectify_due(clock.today_local())
    review = services.review_rectify(user=supervisor, review_id=review.pk, note="窗口增设导办员，材料一次告知。")
    assert review.status == ReviewStatus.RECTIFIED
    review = services.review_feedback(user=supervisor, review_id=review.pk, text="已增设导办员，欢迎监督。")
    assert review.status == ReviewStatus.FED_BACK
    drain()
    message = AccountMessage.objects.get(user_id=citizen.pk, title="差评整改结果反馈")
    assert "已增设导办员" in message.body
    texts = [m.text for m in sms_sim.messages("13800009901")]
    assert any("已整改" in t and f"/rate/{case.pk}/" in t for t in texts), texts  # with the rating link
    assert any("欢迎评价本次服务" in t and f"/rate/{case.pk}/" in t for t in texts), texts  # the closing SMS
    with pytest.raises(TongbanError):  # the fix is the rater's to rate
        services.review_fix_rate(user=make_citizen(id_number="330106199404041230"), case_id=case.pk,
                                 fix_level="satisfied")
    review = services.review_fix_rate(user=citizen, case_id=case.pk, fix_level="basic")
    assert review.status == ReviewStatus.CLOSED and review.fix_level == "basic"
    steps = list(AuditEntry.objects.filter(subject_type="evaluation.review", subject_id=str(review.pk))
                 .order_by("id").values_list("action", flat=True))
    assert steps == ["evaluation.rate", "evaluation.visit", "evaluation.rectify", "evaluation.feedback",
                     "evaluation.fix_rate"]
    month = selectors.in_month(selectors.published_ratings(), clock.today_local().replace(day=1))
    total = selectors.totals(month)
    assert (total.total, total.bad, total.rectified, total.rectification_rate) == (1, 1, 1, 100.0)


def test_the_deadline_counts_working_days_across_a_holiday(case, citizen, supervisor, monkeypatch):
    # National Day 2026: 1-7 October off, Saturday 10 October a working day (调休).
    start = dt.date(2026, 9, 30)
    assert services.rectify_due(start) == dt.date(2026, 10, 27)
    assert services.rectify_due(start, 3) == dt.date(2026, 10, 10)  # the 调休 Saturday counts
    naive = start + dt.timedelta(days=21)  # 15 weekdays without the holiday would be 21 October
    assert services.rectify_due(start) > naive
    review = BadReview.objects.get(rating=bad(citizen, case))
    monkeypatch.setattr(clock, "today_local", lambda: start)
    review = services.review_visit(user=supervisor, review_id=review.pk, note="回访属实。")
    assert review.rectify_due_on == dt.date(2026, 10, 27)


def test_the_deadline_is_configurable(settings):
    settings.TONGBAN_EVALUATION_RECTIFY_WORKING_DAYS = 5
    assert services.rectify_due(dt.date(2026, 9, 30)) == dt.date(2026, 10, 13)


def test_overdue_rectifications_are_flagged_once(case, citizen, supervisor, monkeypatch):
    review = BadReview.objects.get(rating=bad(citizen, case))
    services.review_visit(user=supervisor, review_id=review.pk, note="回访属实。")
    due = BadReview.objects.get(pk=review.pk).rectify_due_on
    assert services.reviews_flag_overdue(today=due) == 0
    assert services.reviews_flag_overdue(today=due + dt.timedelta(days=1)) == 1
    assert services.reviews_flag_overdue(today=due + dt.timedelta(days=2)) == 0
    monkeypatch.setattr(clock, "today_local", lambda: due + dt.timedelta(days=1))
    assert selectors.loop_counts(supervisor)["overdue"] == 1
    assert AuditEntry.objects.filter(action="evaluation.overdue", subject_id=str(review.pk)).count() == 1


def test_an_appeal_needs_a_second_approver(case, citizen, supervisor, supervisor2):
    rating = bad(citizen, case)
    review = BadReview.objects.get(rating=rating)
    with pytest.raises(TongbanError) as caught:
        services.review_appeal(user=supervisor, review_id=review.pk, kind="malicious", reason="")
    assert caught.value.code == "evaluation_note_required"
    services.review_appeal(user=supervisor, review_id=review.pk, kind="malicious",
                           reason="评价人与本案无关，系同一号码批量差评。")
    with pytest.raises(TongbanError) as caught:  # the loop waits for the review
        services.review_visit(user=supervisor2, review_id=review.pk, note="回访")
    assert caught.value.code == "evaluation_appeal_pending"
    with pytest.raises(TongbanError) as caught:
        services.review_appeal_decide(user=supervisor, review_id=review.pk, approve=True, note="同意")
    assert caught.value.code == "evaluation_second_approver"
    review = services.review_appeal_decide(user=supervisor2, review_id=review.pk, approve=True,
                                           note="核实为恶意差评，予以撤销。")
    assert review.status == ReviewStatus.REMOVED and review.appeal_by_id == supervisor.pk
    assert review.appeal_decided_by_id == supervisor2.pk and review.appeal_reason.startswith("评价人与本案无关")
    assert Rating.objects.get(pk=rating.pk).removed_at is not None
    assert not selectors.published_ratings().filter(pk=rating.pk).exists()  # out of the figures
    decided = AuditEntry.objects.get(action="evaluation.appeal.decide", subject_id=str(review.pk))
    assert decided.details["approved"] is True and decided.details["appealed_by"] == supervisor.pk


def test_a_rejected_appeal_lets_the_loop_go_on(case, citizen, supervisor, supervisor2):
    review = BadReview.objects.get(rating=bad(citizen, case))
    services.review_appeal(user=supervisor, review_id=review.pk, kind="mistaken", reason="评价对象有误。")
    services.review_appeal_decide(user=supervisor2, review_id=review.pk, approve=False, note="评价属实。")
    with pytest.raises(TongbanError) as caught:
        services.review_appeal(user=supervisor, review_id=review.pk, kind="mistaken", reason="再次申诉")
    assert caught.value.code == "evaluation_appeal_once"
    assert services.review_visit(user=supervisor, review_id=review.pk, note="回访").status == ReviewStatus.RECTIFYING


# -- the national platform's entry point -------------------------------------------------------------------


def test_ratings_from_the_national_platform(case, citizen, supervisor):
    rating, created = services.rating_receive_from_national(national_id="GJ-2026-0000001", case_number=case.number,
                                                            level=5, tags=["全程网办"])
    assert created and rating.channel == Channel.NATIONAL and rating.rater_id == citizen.pk
    again, created = services.rating_receive_from_national(national_id="GJ-2026-0000001",
                                                           case_number=case.number, level=5)
    assert not created and again.pk == rating.pk  # delivered twice, stored once
    with pytest.raises(TongbanError) as caught:
        services.rating_receive_from_national(national_id="GJ-2026-0000002", case_number=case.number, level=1,
                                              tags=["办理超时"])
    assert caught.value.code == "evaluation_already_rated"  # 一事一评 across channels
    with pytest.raises(TongbanError) as caught:
        services.rating_submit(user=citizen, case_id=case.pk, level=4)
    assert caught.value.code == "evaluation_already_rated"
    with pytest.raises(TongbanError) as caught:
        services.rating_receive_from_national(national_id="GJ-2026-0000003", case_number="330106209901010001",
                                              level=5)
    assert caught.value.code == "not_found"


def test_an_anonymous_national_bad_review_closes_at_rectification(item, citizen, officer, supervisor):
    case = closed_case(citizen, item, officer)
    rating, _ = services.rating_receive_from_national(national_id="GJ-2026-0000009", case_number=case.number,
                                                      level=2, comment="等候时间长", real_name=False)
    assert rating.rater_id is None and not rating.real_name
    review = BadReview.objects.get(rating=rating)
    assert services.rater_contact_read(user=supervisor, review_id=review.pk) == {}
    services.review_visit(user=supervisor, review_id=review.pk, note="调阅办件，等候超时属实。")
    review = services.review_rectify(user=supervisor, review_id=review.pk, note="增开窗口。")
    assert review.status == ReviewStatus.CLOSED  # no one to report back to


def test_figures_by_item_department_region_and_month(item, citizen, officer):
    cases = [closed_case(citizen, item, officer) for _ in range(4)]
    for case, level in zip(cases, (5, 4, 3, 1), strict=True):
        services.rating_submit(user=citizen, case_id=case.pk, level=level, tags=["办理超时"] if level == 1 else [])
    rows = selectors.published_ratings()
    (by_item,) = selectors.figures(rows, "item")
    assert (by_item.total, by_item.satisfied, by_item.bad, by_item.satisfaction_rate, by_item.bad_rate) == (
        4, 3, 1, 75.0, 25.0)
    assert by_item.average == 3.25 and by_item.rectification_rate == 0.0
    (by_department,) = selectors.figures(rows, "department")
    assert by_department.label == "户政" and by_department.total == 4
    (by_region,) = selectors.figures(rows, "region")
    assert by_region.key == "330106"
    (by_month,) = selectors.figures(rows, "month")
    assert by_month.key == clock.today_local().strftime("%Y-%m")
