"""Recording, handling, points, holds, study and registered cars, against the traffic reference source and the
real payments service (the gateway simulator where a fine is paid)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from tests.violations.conftest import DRIVER_ID, OWNER_ID, add_licence, add_vehicle, record
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.violations import selectors, services
from tongban.violations.models import ConsentStatus, FullScoreHold

pytestmark = pytest.mark.django_db(databases="__all__")
D = dt.date


def pay(decision, paid_at: dt.datetime) -> None:
    """Pay a decision's fine through payments: an attempt at the gateway simulator, then its notification."""
    from tongban.payments.services import amount_due, notification_apply, payment_create

    due = amount_due(decision.document)
    created = payment_create(document_id=decision.document.pk, idempotency_key=uuid.uuid4().hex,
                             expected_total_fen=due.total_fen)
    assert notification_apply(notify_id=uuid.uuid4().hex, order_id=created.payment.order_id, status="success",
                              amount_fen=due.total_fen, paid_at=paid_at) == "applied"


def test_recorded_violation_is_visible_to_the_owner_the_same_day_and_notified_chuli_guiding_art20(world):
    from tongban.notifications.models import AccountMessage, SmsMessage

    violation = record()
    seen = selectors.overview(world["owner"])
    assert [v.number for v in seen.violations] == [violation.number]
    assert violation.recorded_at.astimezone(clock.SHANGHAI).date() == clock.today_local()
    sms = SmsMessage.objects.get(purpose="violation")
    assert sms.phone == "13700000501" and "粤A00501" in str(sms.text)
    assert AccountMessage.objects.filter(user=world["owner"], source_key__startswith="violation:recorded").exists()
    # nobody else sees it
    assert selectors.overview(world["other"]).violations == []
    with pytest.raises(TongbanError):
        selectors.violation_for(world["other"], violation.number)


def test_every_look_up_of_a_plates_owner_is_audited_as_a_personal_data_read(world):
    from tongban.audit.actions import Action
    from tongban.audit.models import AuditEntry

    record()
    services.driven_vehicle_register(user=world["driver"], plate="粤A00501")
    reads = AuditEntry.objects.filter(action=Action.PERSONAL_DATA_READ, subject_type="violations.plate_owner")
    assert sorted(e.details["purpose"] for e in reads) == ["violation_driven_vehicle_consent", "violation_notify"]
    assert all(e.details["source"] == "traffic" and e.details["found"] for e in reads)


def test_a_named_driver_sees_it_on_their_licence_the_same_day_chuli_guiding_art20(world):
    violation = record(plate="粤A00502", driver_licence=DRIVER_ID)
    assert [v.number for v in selectors.overview(world["driver"]).violations] == [violation.number]


def test_online_handling_makes_a_decision_points_and_a_payable_fine_chuli_guiding_art42(world):
    from tongban.payments.services import amount_due

    violation = record(code="1625")  # 200 元, 6 分
    decision = services.violation_handle(user=world["owner"], violation_number=violation.number)
    assert decision.document.number == decision.number and decision.document.kind == "decision"
    assert decision.document.amount_fen == 20_000 and decision.points == 6
    for key in ("number", "person", "plate", "facts", "basis", "penalty", "payment", "authority", "remedy"):
        assert decision.content[key], key
    assert "王*" in decision.content["person"] and OWNER_ID not in str(decision.content)
    standing = services.licence_standing(OWNER_ID)
    assert standing is not None and standing.standing.points == 6
    # 15 days to pay, then 3 % a day (行政处罚法 第六十七条、第七十二条)
    served = decision.served_on
    assert amount_due(decision.document, served + dt.timedelta(days=15)).total_fen == 20_000
    assert amount_due(decision.document, served + dt.timedelta(days=16)).total_fen == 20_600
    with pytest.raises(TongbanError) as again:
        services.violation_handle(user=world["owner"], violation_number=violation.number)
    assert again.value.code == "violation_handled"


def test_fine_over_200_yuan_is_not_handled_online_daolu_jiaotong_anquan_fa_art107(world):
    violation = record(code="1636")  # 2000 元, 12 分
    with pytest.raises(TongbanError) as refused:
        services.violation_handle(user=world["owner"], violation_number=violation.number)
    assert refused.value.code == "violation_not_online"
    verdict = services.eligibility(violation, services.licence_standing(OWNER_ID))
    assert verdict.reason == "fine_over_limit"


def test_points_reaching_12_are_not_handled_online_jifen_banfa_art19(world):
    from tongban.registry.models import DrivingLicence

    DrivingLicence.objects.filter(licence_number=OWNER_ID).update(points=5, cycle_start=D(2026, 3, 15))
    eleven = record(code="1625")
    assert services.eligibility(eleven, services.licence_standing(OWNER_ID, on=D(2026, 12, 7))).online  # 5 + 6 = 11
    DrivingLicence.objects.filter(licence_number=OWNER_ID).update(points=6)
    verdict = services.eligibility(eleven, services.licence_standing(OWNER_ID, on=D(2026, 12, 7)))  # 6 + 6 = 12
    assert (verdict.online, verdict.reason) == (False, "full_score")


def test_elsewhere_handled_here_with_the_standard_of_where_it_happened_chuli_guiding_art22(world, settings):
    settings.TONGBAN_VIOLATIONS_REGION = "440100"
    violation = record(code="1625", region="330100")  # 浙江: 150 元
    assert violation.fine_fen == 15_000
    decision = services.violation_handle(user=world["owner"], violation_number=violation.number)
    assert decision.document.amount_fen == 15_000
    assert decision.content["elsewhere"] is True and "浙江" in decision.content["standard"]
    assert decision.handled_region == "440100" and decision.document.region_code == "330100"


def test_register_up_to_3_other_cars_with_the_owners_consent(world):
    from tongban.notifications.models import SmsMessage

    driver, owner = world["driver"], world["owner"]
    violation = record(plate="粤A00501", code="1344")
    registration = services.driven_vehicle_register(user=driver, plate="粤a00501")
    assert registration.status == ConsentStatus.PENDING
    assert SmsMessage.objects.filter(purpose="violation_consent").count() == 1
    with pytest.raises(TongbanError):  # pending: the driver sees nothing yet
        selectors.violation_for(driver, violation.number)
    with pytest.raises(TongbanError):  # only the owner may consent
        services.driven_vehicle_decide(owner=world["other"], registration_id=registration.pk, approve=True)
    assert [c.pk for c in selectors.overview(owner).consents] == [registration.pk]
    services.driven_vehicle_decide(owner=owner, registration_id=registration.pk, approve=True)
    decision = services.violation_handle(user=driver, violation_number=violation.number)
    assert str(decision.licence_number) == DRIVER_ID  # the points go on the driver's licence
    assert services.licence_standing(DRIVER_ID).standing.points == 1  # type: ignore[union-attr]
    assert services.licence_standing(OWNER_ID).standing.points == 0  # type: ignore[union-attr]
    # up to 3: the third is accepted, the fourth refused; one's own car needs no registration
    for n in (11, 12):
        add_vehicle(f"粤A005{n}", f"x{n}")
        services.driven_vehicle_register(user=driver, plate=f"粤A005{n}")
    add_vehicle("粤A00513", "x13")
    with pytest.raises(TongbanError) as fourth:
        services.driven_vehicle_register(user=driver, plate="粤A00513")
    assert fourth.value.code == "violation_too_many_vehicles"
    with pytest.raises(TongbanError):
        services.driven_vehicle_register(user=owner, plate="粤A00501")
    # removing one frees a place
    services.driven_vehicle_remove(user=driver, registration_id=registration.pk)
    assert services.driven_vehicle_register(user=driver, plate="粤A00513").status == ConsentStatus.PENDING


def test_full_score_at_counter_holds_licence_7_days_study_then_more_jifen_banfa_art19_art20(world):
    from tests.accounts.factories import make_officer

    officer = make_officer("viol_officer", department="traffic", region_code="440100")
    first = record(code="1636")  # 12 分
    services.violation_handle(user=None, violation_number=first.number, channel="counter", actor=officer,
                              licence_number=OWNER_ID)
    standing = services.licence_standing(OWNER_ID)
    assert standing is not None and standing.held and standing.standing.points == 12
    hold = standing.hold
    assert hold is not None and (hold.study_days, hold.times_in_cycle) == (7, 1)
    # held: nothing more online, and no study reduction
    small = record(code="1344")
    assert services.eligibility(small, standing).reason == "licence_held"
    with pytest.raises(TongbanError):
        services.study_reduction_apply(user=world["owner"], kind="online")
    # the exam only after 7 days of study (6 are not enough); a day counts once
    today = clock.today_local()
    FullScoreHold.objects.filter(pk=hold.pk).update(reached_on=today - dt.timedelta(days=10))
    for d in range(6):
        services.hold_study_day(hold_id=hold.pk, day=today - dt.timedelta(days=d), actor=officer)
    services.hold_study_day(hold_id=hold.pk, day=today, actor=officer)
    with pytest.raises(TongbanError) as early:
        services.hold_exam_pass(hold_id=hold.pk, on=today, actor=officer)
    assert early.value.code == "violation_study_incomplete"
    services.hold_study_day(hold_id=hold.pk, day=today - dt.timedelta(days=6), actor=officer)
    services.hold_exam_pass(hold_id=hold.pk, on=today, actor=officer)
    after = services.licence_standing(OWNER_ID)
    assert after is not None and not after.held and after.standing.points == 0
    # a second full score in the same cycle: 14 days
    services.violation_handle(user=None, violation_number=record(code="1636").number, channel="counter",
                              actor=officer, licence_number=OWNER_ID)
    second = services.licence_standing(OWNER_ID)
    assert second is not None and second.hold is not None
    assert (second.hold.study_days, second.hold.times_in_cycle) == (14, 2)


def test_study_reduction_needs_fines_paid_and_stops_at_6_per_cycle_jifen_banfa_art28_art30(world, pay_sim):
    owner = world["owner"]
    decision = services.violation_handle(user=owner, violation_number=record(code="1625").number)
    with pytest.raises(TongbanError) as unpaid:  # the fine is not paid yet
        services.study_reduction_apply(user=owner, kind="onsite")
    assert unpaid.value.code == "violation_no_reduction"
    pay(decision, clock.now())
    assert [services.study_reduction_apply(user=owner, kind="onsite").points for _ in range(3)] == [2, 2, 2]
    with pytest.raises(TongbanError) as capped:
        services.study_reduction_apply(user=owner, kind="online")
    assert capped.value.code == "violation_no_reduction"
    standing = services.licence_standing(OWNER_ID)
    assert standing is not None and (standing.standing.points, standing.standing.reduced) == (0, 6)


def test_points_of_an_unpaid_fine_carry_past_the_cycle_end_jifen_banfa_art18(world, pay_sim):
    from tongban.registry.models import DrivingLicence

    today = clock.today_local()
    # the licence's cycle ends tomorrow
    start = today.replace(year=today.year - 1) + dt.timedelta(days=1)
    DrivingLicence.objects.filter(licence_number=OWNER_ID).update(cycle_start=start, first_issued=start)
    decision = services.violation_handle(user=world["owner"], violation_number=record(code="1625").number)
    tomorrow = today + dt.timedelta(days=1)
    assert services.licence_standing(OWNER_ID, on=today).standing.points == 6  # type: ignore[union-attr]
    assert services.licence_standing(OWNER_ID, on=tomorrow).standing.carried == 6  # type: ignore[union-attr]
    # paid on the cycle's last day: cleared with the cycle
    pay(decision, clock.now())
    assert services.licence_standing(OWNER_ID, on=tomorrow).standing.points == 0  # type: ignore[union-attr]


def test_licence_holder_without_a_licence_is_sent_to_the_counter(world):
    from tests.sso.conftest import resident_id
    from tests.violations.conftest import make_citizen

    nolicence_id = resident_id(777)
    add_vehicle("粤A00777", nolicence_id)
    user = make_citizen(id_number=nolicence_id, name="无证人")
    violation = record(plate="粤A00777", code="1344")
    assert services.eligibility(violation, services.licence_standing(nolicence_id)).reason == "no_licence"
    with pytest.raises(TongbanError):
        services.violation_handle(user=user, violation_number=violation.number)
    add_licence(nolicence_id, status="suspended")
    assert services.eligibility(violation, services.licence_standing(nolicence_id)).reason == "licence_not_normal"
