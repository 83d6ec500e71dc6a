"""Writes of the violation-handling system: recording a violation (and telling the owner), handling it (a penalty
decision, points, the fine through payments), full-score holds and their study, study reductions, and the other
cars a citizen drives. Every write validates first, runs in one transaction, and is audited in it; messages
leave through the outbox (tongban.notifications)."""

from __future__ import annotations

import datetime as dt
import random
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tongban.audit.actions import Action
from tongban.audit.services import Actor, Subject, audit_record
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.registry import interfaces
from tongban.registry.interfaces import LicenceInfo, LicenceStatus, SourceUnavailable
from tongban.violations import rules
from tongban.violations.models import (
    ConsentStatus,
    Decision,
    DrivenVehicle,
    FullScoreHold,
    HoldStatus,
    StudyReduction,
    Violation,
    ViolationStatus,
)

MAX_DRIVEN_VEHICLES = 3


def invalid(message: str, field: str = "", code: str = "violation_invalid") -> TongbanError:
    return TongbanError(code, message, None, 422, details=[{"field": field, "message": message}])


def not_found() -> TongbanError:
    # "Not found" and "not allowed" look the same (STYLE habit 6).
    return TongbanError("not_found", _("未找到该交通违法记录。"), "No such violation.", 404)


def handling_region() -> str:
    """The region this platform handles violations in (处理地); a violation from elsewhere is 异地处理."""
    return str(getattr(settings, "TONGBAN_VIOLATIONS_REGION", "440100"))


def _actor(actor: Any, component: str = "violations") -> Actor:
    return Actor.user(actor) if actor is not None else Actor.system(component)


# -- who the citizen is --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    id_number: str
    name: str


def identity_of(user: Any) -> Identity:
    """The verified mainland identity of a citizen account (the licence number is the ID number)."""
    from tongban.accounts.models import CitizenProfile

    pk = getattr(user, "pk", None)
    profile = CitizenProfile.objects.filter(user_id=pk).first() if pk is not None else None
    if profile is None or profile.level < 2 or not profile.id_number:
        raise TongbanError("verification_required", _("请先完成实名认证（二级及以上）。"),
                           "Verify your identity first.", 403)
    if profile.id_type != "resident_id":
        # A mainland licence's number is the holder's citizen ID number; a Hong Kong or Macao resident's
        # mainland licence is found by their residence permit number, which the traffic source does not key on.
        raise TongbanError("verification_required", _("交通违法网上处理目前仅支持以居民身份证认证的账号，请到公安交管部门窗口办理。"),
                           "Online handling needs an account verified with a resident ID card.", 403)
    return Identity(str(profile.id_number), str(profile.name or ""))


def _account_for(id_number: str) -> Any:
    from tongban.accounts.models import CitizenProfile
    from tongban.crypto.fields import blind_lookup

    profile = (CitizenProfile.objects.filter(**blind_lookup(CitizenProfile, "person_key", id_number))
               .select_related("user").first())
    return profile.user if profile is not None else None


def _message(user: Any, title: str, body: str, key: str, link: str = "") -> None:
    from tongban.notifications.services import account_message_post

    if user is not None:
        account_message_post(user_id=user.pk, title=title, body=body, link=link, source_key=key)


# -- recording ---------------------------------------------------------------------------------------------


def _owner_contact(plate: str, *, actor: Actor, purpose: str) -> Any:
    """The plate's owner (ID number and phone) from the traffic source, for `purpose`: a read of personal data,
    audited as such in the caller's transaction (DESIGN §3, invariant 3); never stored here."""
    try:
        contact = interfaces.traffic().owner_contact_for_plate(plate)
    except SourceUnavailable as exc:
        raise TongbanError("source_unavailable") from exc
    audit_record(action=Action.PERSONAL_DATA_READ, actor=actor, subject=Subject("violations.plate_owner"),
                 details={"source": "traffic", "field": "owner_contact", "purpose": purpose,
                          "found": contact is not None})
    if contact is None:
        raise invalid(_("该号牌未登记。"), "plate")
    return contact


def _number(region_code: str, day: dt.date) -> str:
    return f"{region_code}{day:%Y%m%d}{secrets.randbelow(10**8):08d}"


@transaction.atomic
def violation_record(*, plate: str, occurred_at: dt.datetime, place: str, code: str, region_code: str,
                     authority: str, driver_licence: str | None = None, actor: Any = None,
                     component: str = "violations") -> Violation:
    """Record a violation against a plate. Its fine and points are the standard of the province where it
    happened (`region_code`'s first two digits). It is visible to the owner (and a named driver) at once, the
    same day (处理程序规定 第二十条: 录入后告知), and the owner is told by SMS and in their account."""
    from tongban.crypto.fields import normalize

    plate = normalize("plate", plate or "")
    if not 7 <= len(plate) <= 8:
        raise invalid(_("号牌号码不正确。"), "plate")
    if timezone.is_naive(occurred_at):
        raise invalid(_("违法时间须带时区。"), "occurred_at")
    if occurred_at > clock.now():
        raise invalid(_("违法时间不能晚于现在。"), "occurred_at")
    if not (len(region_code) == 6 and region_code.isdigit()):
        raise invalid(_("辖区代码应为 6 位数字。"), "region_code")
    place = " ".join((place or "").split())
    if not 2 <= len(place) <= 100:
        raise invalid(_("请填写违法地点。"), "place")
    std = rules.standard(code, region_code[:2])
    if std is None:
        raise invalid(_("违法代码不存在。"), "code")
    contact = _owner_contact(plate, actor=_actor(actor, component), purpose="violation_notify")
    today = clock.today_local()
    violation = None
    for _attempt in range(5):
        try:
            with transaction.atomic():
                violation = Violation(
                    number=_number(region_code, today), plate=plate, occurred_at=occurred_at, place=place,
                    province=region_code[:2], region_code=region_code, authority=authority.strip()[:100],
                    code=std.code, description=std.description, fine_fen=std.fine_fen, points=std.points,
                    driver_licence=(driver_licence or None))
                violation.save()
            break
        except IntegrityError:
            violation = None
    if violation is None:
        raise invalid(_("编号冲突，请重试。"))
    audit_record(action=Action.VIOLATION_RECORD, actor=_actor(actor, component),
                 subject=Subject("violations.violation", violation.pk),
                 details={"number": violation.number, "plate": plate, "code": std.code, "fine_fen": std.fine_fen,
                          "points": std.points})
    _notify_recorded(violation, contact.phone, contact.owner_id_number)
    return violation


def _notify_recorded(violation: Violation, phone: str, owner_id_number: str) -> None:
    from tongban.notifications.services import sms_queue

    local = clock.to_local(violation.occurred_at)
    text = _("【交管】您的机动车%(plate)s于%(time)s在%(place)s有一条交通违法记录（%(desc)s），"
             "可登录一网通办“交通违法处理”查询处理。") % {
        "plate": violation.plate, "time": f"{local:%m-%d %H:%M}", "place": violation.place[:30],
        "desc": violation.description[:30]}
    sms_queue(phone=phone, text=text[:500], purpose="violation")
    title = _("交通违法提醒")
    body = _("机动车%(plate)s有一条新的交通违法记录：%(desc)s。") % {"plate": violation.plate,
                                                                   "desc": violation.description}
    _message(_account_for(owner_id_number), title, body, f"violation:recorded:{violation.pk}:owner",
             link=f"/violations/{violation.number}/")
    if violation.driver_licence:
        _message(_account_for(str(violation.driver_licence)), title, body,
                 f"violation:recorded:{violation.pk}:driver", link=f"/violations/{violation.number}/")
    for registration in DrivenVehicle.objects.filter(plate=violation.plate, status=ConsentStatus.APPROVED):
        _message(registration.driver, title, body, f"violation:recorded:{violation.pk}:d{registration.pk}",
                 link=f"/violations/{violation.number}/")


# -- a licence's points ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LicenceStanding:
    info: LicenceInfo
    standing: rules.Standing
    hold: FullScoreHold | None  # the hold in force, if any

    @property
    def held(self) -> bool:
        return self.hold is not None


def _decisions_of(id_number: str) -> list[Decision]:
    return list(Decision.objects.blind_filter(licence_number=id_number).select_related("document"))


def point_events(id_number: str, info: LicenceInfo | None = None) -> list[rules.PointEvent]:
    """Everything that moved the licence's points in the handling system, plus the points the traffic system
    already holds for its current cycle (cleared at that cycle's end, as their fines are not ours to see)."""
    events: list[rules.PointEvent] = []
    if info is not None and info.points and info.cycle_start is not None:
        events.append(rules.PointEvent(on=info.cycle_start, points=int(info.points), fine_paid_on=info.cycle_start,
                                       ref="source"))
    for decision in _decisions_of(id_number):
        if not decision.points:
            continue
        paid_at = decision.document.paid_at
        events.append(rules.PointEvent(on=decision.served_on, points=decision.points, ref=decision.number,
                                       fine_paid_on=clock.to_local(paid_at).date() if paid_at else None,
                                       at=decision.created_at))
    for study in StudyReduction.objects.blind_filter(licence_number=id_number):
        events.append(rules.PointEvent(on=study.on, points=-study.points, kind="study", ref=f"study:{study.pk}",
                                       at=study.created_at))
    return events


def _last_release(id_number: str) -> dt.datetime | None:
    hold = (FullScoreHold.objects.blind_filter(licence_number=id_number).filter(status=HoldStatus.RELEASED)
            .order_by("-released_at").first())
    return hold.released_at if hold is not None else None


def _licence(id_number: str, name: str | None = None) -> LicenceInfo:
    try:
        return interfaces.traffic().licence_status(id_number, name)
    except SourceUnavailable as exc:
        raise TongbanError("source_unavailable") from exc


def licence_standing(id_number: str, *, on: dt.date | None = None, info: LicenceInfo | None = None
                     ) -> LicenceStanding | None:
    """The licence's points today (or on `on`), with the hold in force; None when there is no licence."""
    on = on or clock.today_local()
    info = info or _licence(id_number)
    if not info.found or info.cycle_start is None:
        return None
    standing = rules.standing(point_events(id_number, info), anchor=info.cycle_start, on=on,
                              cleared_on=_last_release(id_number))
    hold = (FullScoreHold.objects.blind_filter(licence_number=id_number).filter(status=HoldStatus.HELD)
            .order_by("-reached_on").first())
    return LicenceStanding(info=info, standing=standing, hold=hold)


# -- handling -----------------------------------------------------------------------------------------------


def may_see(user: Any, violation: Violation, identity: Identity | None = None) -> bool:
    """The owner, a registered driver of the car (owner's consent given), the named driver, or the person the
    decision was made against."""
    try:
        identity = identity or identity_of(user)
    except TongbanError:
        return False
    if violation.plate in owned_plates(identity.id_number):
        return True
    if DrivenVehicle.objects.filter(driver=user, plate=violation.plate, status=ConsentStatus.APPROVED).exists():
        return True
    if violation.driver_licence and str(violation.driver_licence).upper() == identity.id_number.upper():
        return True
    decision = Decision.objects.filter(violation=violation).first()
    return decision is not None and str(decision.licence_number).upper() == identity.id_number.upper()


def owned_plates(id_number: str) -> set[str]:
    try:
        return {v.plate for v in interfaces.traffic().vehicles_by_owner(id_number)}
    except SourceUnavailable as exc:
        raise TongbanError("source_unavailable") from exc


def eligibility(violation: Violation, standing: LicenceStanding | None) -> rules.Eligibility:
    if violation.status != ViolationStatus.UNHANDLED:
        return rules.Eligibility(False, "handled", _("该违法记录已处理。"))
    if standing is None:
        return rules.Eligibility(False, "no_licence", _("未查到您的驾驶证，请到公安交管部门窗口处理。"))
    return rules.online_eligibility(
        fine_fen=violation.fine_fen, points=violation.points, current_points=standing.standing.points,
        licence_normal=standing.info.status == LicenceStatus.NORMAL, held=standing.held)


def decision_content(*, violation: Violation, identity: Identity, licence_class: str, number: str,
                     served_on: dt.date, handled_region: str) -> dict[str, Any]:
    """What a 简易程序处罚决定书 states (处理程序规定 第四十二条): the person (masked here), vehicle, the facts,
    the basis, the penalty, how and by when to pay, the authority, and the right to review or sue."""
    from tongban.core.masking import mask_id_number, mask_name
    from tongban.payments.fees import yuan

    elsewhere = violation.province != handled_region[:2]
    local = clock.to_local(violation.occurred_at)
    return {
        "title": "公安交通管理简易程序处罚决定书",
        "number": number,
        "person": mask_name(identity.name), "licence_number": mask_id_number(identity.id_number),
        "licence_class": licence_class, "plate": violation.plate,
        "facts": f"{local:%Y-%m-%d %H:%M}，在{violation.place}，{violation.description}（违法代码 {violation.code}）。",
        "basis": "《中华人民共和国道路交通安全法》第九十条、第一百一十四条；《道路交通安全违法行为记分管理办法》",
        "penalty": f"罚款 {yuan(violation.fine_fen)} 元，记 {violation.points} 分。",
        "standard": f"{rules.province_name(violation.province)}交通违法处罚标准" + ("（异地处理，按违法行为发生地标准）" if elsewhere else ""),
        "payment": (f"自送达之日起15日内（{rules.pay_by(served_on):%Y-%m-%d} 前）凭本决定书编号在一网通办或代收机构缴纳；"
                    "逾期不缴纳的，每日按罚款数额的3%加处罚款，加处罚款总额不超出罚款数额。"),
        "authority": violation.authority, "handled_region": handled_region, "elsewhere": elsewhere,
        "served_on": served_on.isoformat(),
        "remedy": "如不服本决定，可以在收到本决定书之日起60日内向本级人民政府或者上一级公安机关交通管理部门申请行政复议；"
                  "或者在6个月内依法向人民法院提起行政诉讼。",
    }


@transaction.atomic
def violation_handle(*, user: Any, violation_number: str, channel: str = "online", actor: Any = None,
                     licence_number: str | None = None, on: dt.date | None = None) -> Decision:
    """Handle a violation: a penalty decision against the handler's licence, its points on the licence's cycle,
    its fine payable through payments (15 days, then the surcharge).

    Online (`channel="online"`, the citizen `user`): only what `rules.online_eligibility` allows. At the counter
    (`channel="counter"`, an officer `actor`, the driver's `licence_number`), any violation; reaching 12 points
    holds the licence (记分办法 第十九条) and sets the full-score study (第二十条)."""
    violation = Violation.objects.select_for_update().filter(number=violation_number).first()
    if channel == "online":
        identity = identity_of(user)
        if violation is None or not may_see(user, violation, identity):
            raise not_found()
    elif channel == "counter" and actor is not None and licence_number:
        # The officer has the driver's licence in hand; the name on the decision is the account's, if any.
        if violation is None:
            raise not_found()
        identity = Identity(licence_number.strip().upper(), _holder_name(licence_number.strip().upper()))
    else:
        raise invalid(_("处理方式不正确。"), "channel")
    if violation.status != ViolationStatus.UNHANDLED:
        raise invalid(_("该违法记录已处理。"), "violation", code="violation_handled")
    today = on or clock.today_local()
    info = _licence(identity.id_number)
    standing = licence_standing(identity.id_number, on=today, info=info)
    verdict = eligibility(violation, standing)
    if channel == "online" and not verdict.online:
        raise invalid(verdict.message, "violation", code="violation_not_online")
    if standing is None:
        raise invalid(_("未查到驾驶证，不能记分。"), "licence_number")
    from tongban.payments.services import decision_issue

    region = handling_region()
    document = decision_issue(fine_fen=violation.fine_fen, served_on=today, payer_name=identity.name or "当事人",
                              payer_id_number=identity.id_number, region_code=violation.region_code,
                              payee_unit=violation.authority, payer_user_id=getattr(user, "pk", None),
                              component="violations")
    decision = Decision(
        violation=violation, number=document.number, document=document, licence_number=identity.id_number,
        user=user if user is not None else None, channel=channel, handled_region=region, served_on=today,
        fine_fen=violation.fine_fen, points=violation.points,
        content=decision_content(violation=violation, identity=identity, licence_class=info.licence_class or "",
                                 number=document.number, served_on=today, handled_region=region))
    decision.save()
    violation.status = ViolationStatus.HANDLED
    violation.save(update_fields=["status"])
    audit_record(action=Action.VIOLATION_HANDLE, actor=_actor(actor if actor is not None else user),
                 subject=Subject("violations.violation", violation.pk),
                 details={"number": violation.number, "decision": decision.number, "channel": channel,
                          "fine_fen": violation.fine_fen, "points": violation.points,
                          "licence": identity.id_number, "elsewhere": decision.content["elsewhere"]})
    total = standing.standing.points + violation.points
    if total >= rules.FULL_SCORE and standing.hold is None:
        _hold(identity.id_number, info, standing.standing, total, today, actor if actor is not None else user)
    return decision


def _holder_name(licence_number: str) -> str:
    user = _account_for(licence_number)
    if user is None:
        return "当事人"
    try:
        return identity_of(user).name
    except TongbanError:
        return "当事人"


def _hold(id_number: str, info: LicenceInfo, standing: rules.Standing, total: int, today: dt.date,
          actor: Any) -> FullScoreHold:
    """满分: hold the licence and set the days of study (记分办法 第十九条, 第二十条)."""
    times = FullScoreHold.objects.blind_filter(licence_number=id_number).filter(
        cycle_start=standing.cycle_start).count() + 1
    days = rules.full_score_study_days(times_in_cycle=times, total_points=total, licence_class=info.licence_class or "")
    hold = FullScoreHold(licence_number=id_number, reached_on=today, cycle_start=standing.cycle_start,
                         times_in_cycle=times, total_points=min(total, 255), study_days=days)
    hold.save()
    audit_record(action=Action.VIOLATION_POINTS, actor=_actor(actor), subject=Subject("violations.hold", hold.pk),
                 details={"event": "full_score", "licence": id_number, "points": total, "study_days": days})
    _message(_account_for(id_number), _("驾驶证记分满分提醒"),
             _("您的驾驶证在本记分周期内累积记分已满12分，驾驶证被扣押。请参加为期%(days)d天的满分学习并考试。")
             % {"days": days}, f"violation:hold:{hold.pk}")
    return hold


@transaction.atomic
def hold_study_day(*, hold_id: int, day: dt.date, actor: Any) -> FullScoreHold:
    """Record one day of full-score study (a day counts once)."""
    hold = FullScoreHold.objects.select_for_update().filter(pk=hold_id, status=HoldStatus.HELD).first()
    if hold is None:
        raise not_found()
    if day < hold.reached_on or day > clock.today_local():
        raise invalid(_("学习日期不正确。"), "day")
    days = set(hold.studied_days)
    days.add(day.isoformat())
    hold.studied_days = sorted(days)
    hold.save(update_fields=["studied_days"])
    audit_record(action=Action.VIOLATION_POINTS, actor=_actor(actor), subject=Subject("violations.hold", hold.pk),
                 details={"event": "study_day", "day": day.isoformat(), "studied": len(days)})
    return hold


@transaction.atomic
def hold_exam_pass(*, hold_id: int, on: dt.date, actor: Any) -> FullScoreHold:
    """The exam after the full-score study passed: points cleared, licence returned (记分办法 第二十三条).
    Refused before the study days are done (第二十条)."""
    hold = FullScoreHold.objects.select_for_update().filter(pk=hold_id, status=HoldStatus.HELD).first()
    if hold is None:
        raise not_found()
    if len(hold.studied_days) < hold.study_days:
        raise invalid(_("满分学习天数不足，不能参加考试。"), "hold", code="violation_study_incomplete")
    hold.status = HoldStatus.RELEASED
    hold.released_on = on
    hold.released_at = clock.now()
    hold.save(update_fields=["status", "released_on", "released_at"])
    audit_record(action=Action.VIOLATION_POINTS, actor=_actor(actor), subject=Subject("violations.hold", hold.pk),
                 details={"event": "released", "on": on.isoformat()})
    return hold


@transaction.atomic
def study_reduction_apply(*, user: Any, kind: str, on: dt.date | None = None) -> StudyReduction:
    """学法减分: a completed study takes 1 (online) or 2 (on site) points off, at most 6 a cycle (记分办法
    第二十八条, 第三十条); only with every violation handled and every fine paid, and below 12 points."""
    if kind not in rules.STUDY_KINDS:
        raise invalid(_("学习方式不正确。"), "kind")
    identity = identity_of(user)
    today = on or clock.today_local()
    standing = licence_standing(identity.id_number, on=today)
    if standing is None:
        raise invalid(_("未查到您的驾驶证。"), "kind")
    if standing.held:
        raise invalid(_("驾驶证满分被扣押期间不能学法减分。"), "kind", code="violation_no_reduction")
    unpaid = [d for d in _decisions_of(identity.id_number) if d.document.status == "unpaid"]
    unhandled = Violation.objects.filter(plate__in=owned_plates(identity.id_number),
                                         status=ViolationStatus.UNHANDLED).exists()
    if unpaid or unhandled:
        raise invalid(_("请先处理完交通违法并缴清罚款，再申请学法减分。"), "kind", code="violation_no_reduction")
    points = rules.study_reduction(kind=kind, current_points=standing.standing.points,
                                   reduced_in_cycle=standing.standing.reduced)
    if points <= 0:
        raise invalid(_("本记分周期已无可扣减的记分（每周期最多扣减6分）。"), "kind", code="violation_no_reduction")
    study = StudyReduction(licence_number=identity.id_number, kind=kind, on=today, points=points,
                           cycle_start=standing.standing.cycle_start)
    study.save()
    audit_record(action=Action.VIOLATION_POINTS, actor=_actor(user), subject=Subject("violations.study", study.pk),
                 details={"event": "study_reduction", "kind": kind, "points": points, "licence": identity.id_number})
    return study


# -- other people's cars ----------------------------------------------------------------------------------


@transaction.atomic
def driven_vehicle_register(*, user: Any, plate: str) -> DrivenVehicle:
    """Ask to register another person's car one drives (at most 3 at a time); its owner is asked to consent by
    SMS and in their account."""
    from tongban.crypto.fields import normalize
    from tongban.notifications.services import sms_queue

    identity = identity_of(user)
    plate = normalize("plate", plate or "")
    if not 7 <= len(plate) <= 8:
        raise invalid(_("号牌号码不正确。"), "plate")
    contact = _owner_contact(plate, actor=_actor(user), purpose="violation_driven_vehicle_consent")
    if contact.owner_id_number.upper() == identity.id_number.upper():
        raise invalid(_("这是您本人名下的机动车，无须备案。"), "plate")
    live = DrivenVehicle.objects.select_for_update().filter(
        driver=user, status__in=[ConsentStatus.PENDING, ConsentStatus.APPROVED])
    rows = list(live)
    if any(r.plate == plate for r in rows):
        raise invalid(_("该机动车已备案或正在等待车主同意。"), "plate")
    if len(rows) >= MAX_DRIVEN_VEHICLES:
        raise invalid(_("最多可备案3辆他人名下的机动车。"), "plate", code="violation_too_many_vehicles")
    registration = DrivenVehicle(driver=user, plate=plate)
    registration.save()
    audit_record(action=Action.VIOLATION_DRIVEN_VEHICLE, actor=_actor(user),
                 subject=Subject("violations.driven", registration.pk), details={"event": "requested", "plate": plate})
    sms_queue(phone=contact.phone, purpose="violation_consent",
              text=_("【交管】有驾驶人申请将您的机动车%(plate)s备案为其驾驶车辆，以便处理该车交通违法。"
                     "请登录一网通办“交通违法处理”同意或拒绝。") % {"plate": plate})
    _message(_account_for(contact.owner_id_number), _("机动车备案待您同意"),
             _("有驾驶人申请备案您的机动车%(plate)s。") % {"plate": plate}, f"violation:consent:{registration.pk}",
             link="/violations/")
    return registration


@transaction.atomic
def driven_vehicle_decide(*, owner: Any, registration_id: int, approve: bool) -> DrivenVehicle:
    """The owner consents to (or refuses) a driver's registration of their car."""
    identity = identity_of(owner)
    registration = DrivenVehicle.objects.select_for_update().filter(pk=registration_id,
                                                                    status=ConsentStatus.PENDING).first()
    if registration is None or registration.plate not in owned_plates(identity.id_number):
        raise not_found()
    registration.status = ConsentStatus.APPROVED if approve else ConsentStatus.REFUSED
    registration.decided_at = clock.now()
    registration.save(update_fields=["status", "decided_at"])
    audit_record(action=Action.VIOLATION_DRIVEN_VEHICLE, actor=_actor(owner),
                 subject=Subject("violations.driven", registration.pk),
                 details={"event": registration.status, "plate": registration.plate})
    _message(registration.driver, _("机动车备案结果"),
             (_("车主已同意您备案机动车%(plate)s。") if approve else _("车主拒绝了您备案机动车%(plate)s。"))
             % {"plate": registration.plate}, f"violation:consent:{registration.pk}:{registration.status}",
             link="/violations/")
    return registration


@transaction.atomic
def driven_vehicle_remove(*, user: Any, registration_id: int) -> DrivenVehicle:
    """The driver (or the car's owner) ends a registration."""
    registration = DrivenVehicle.objects.select_for_update().filter(
        pk=registration_id, status__in=[ConsentStatus.PENDING, ConsentStatus.APPROVED]).first()
    if registration is None:
        raise not_found()
    if registration.driver_id != user.pk and registration.plate not in owned_plates(identity_of(user).id_number):
        raise not_found()
    registration.status = ConsentStatus.REMOVED
    registration.save(update_fields=["status"])
    audit_record(action=Action.VIOLATION_DRIVEN_VEHICLE, actor=_actor(user),
                 subject=Subject("violations.driven", registration.pk), details={"event": "removed"})
    return registration


# -- the generator (demo, load tests) ---------------------------------------------------------------------

PLACES = ("广州大道中与天河路交叉口", "环市东路淘金路口", "广园快速路东往西K3+200", "华南快速干线北行K12+500",
          "黄埔大道西体育东路口", "沈海高速广州段K2801+300")


def violations_generate(*, plates: list[str], per_plate: int = 3, seed: int = 0, region_code: str = "440100",
                        authority: str = "广州市公安局交通警察支队", codes: list[str] | None = None) -> list[Violation]:
    """Record `per_plate` camera violations (within the last 30 days) for each plate through `violation_record`
    (so owners are told): the codes in turn from `codes` (default: a mix of online-handleable ones)."""
    rng = random.Random(seed)  # noqa: S311  (synthetic, reproducible demo data)
    choice = codes or ["1625", "1039", "1344", "6011", "1303"]
    made = []
    now = clock.now()
    for n, plate in enumerate(plates):
        for i in range(per_plate):
            when = now - dt.timedelta(days=rng.randrange(1, 30), minutes=rng.randrange(0, 24 * 60))
            made.append(violation_record(plate=plate, occurred_at=when, place=rng.choice(PLACES),
                                         code=choice[(n + i) % len(choice)], region_code=region_code,
                                         authority=authority))
    return made
