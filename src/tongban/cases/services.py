"""Writes on cases: start, save a draft, submit, act (accept, return for correction, refuse, review,
approve, deny, deliver), assign, comment, withdraw, answer a correction.

Every service locks the case row (`select_for_update`) and checks, under the lock, the state, the
actor's role in the workflow and — for officers — the version they saw: of two officers acting on one
case at once, one wins and the other is told the case changed. Every change writes its timeline event
and its audit entry in the same transaction, and queues the applicant's notice through the outbox.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from tongban.audit.actions import Action, Outcome
from tongban.audit.services import Actor, Subject, audit_record
from tongban.cases import deadlines, numbers
from tongban.cases.catalog_bridge import ItemSpec, published_item
from tongban.cases.form_schema import clean_answers, missing_required
from tongban.cases.models import (
    ActorKind,
    ApplicantKind,
    Case,
    CaseEvent,
    CaseNumberCounter,
    DeliveryMethod,
)
from tongban.cases.workflow import Workflow, get_workflow
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.jobs.services import outbox_send

CASE_NOTICE_CHANNEL = "case_notice"
MAX_NOTE = 2000
MAX_CORRECTION_ROUNDS = 1  # 一次性告知: one correction request, listing everything missing


def refuse(code: str, zh: str, en: str = "", status: int = 409, **details: Any) -> TongbanError:
    return TongbanError(code, zh, en or None, status, [details] if details else None)


def not_found() -> TongbanError:
    # "Not found" and "not allowed" look the same (STYLE habit 6).
    return TongbanError("not_found", "办件不存在或您无权查看。", "No such case, or it is not yours to see.", 404)


# -- who may do what -------------------------------------------------------------------------------------


def applicant_may_act(user: Any, case: Case) -> bool:
    """The applicant side: the citizen who applied; for an enterprise's case, its representative or an agent
    whose authorisation is active now (a revoked agent loses access at once)."""
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "kind", None) != "citizen":
        return False
    if case.enterprise_id is None:
        return bool(case.applicant_id == user.pk)
    from tongban.accounts.enterprises import active_agencies, enterprises_represented

    return (enterprises_represented(user).filter(pk=case.enterprise_id).exists()
            or active_agencies(user).filter(enterprise_id=case.enterprise_id).exists())


def officer_may_act(user: Any, case: Case) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "role_officer", False):
        return False
    if not getattr(user, "is_active", False):
        return False
    from tongban.accounts.selectors import officer_can_access

    return officer_can_access(user, department=case.department, region_code=case.region_code)


def case_roles(user: Any, case: Case) -> set[str]:
    roles: set[str] = set()
    if applicant_may_act(user, case):
        roles.add("applicant")
    if officer_may_act(user, case):
        roles.add("officer")
    return roles


def _actor(user: Any, component: str | None) -> Actor:
    return Actor.system(component) if component else Actor.user(user)


def _audit(action: Action, case: Case, *, user: Any = None, component: str | None = None,
           request: HttpRequest | None = None, details: dict[str, Any] | None = None,
           outcome: Outcome = Outcome.SUCCESS) -> None:
    audit_record(action=action, outcome=outcome, actor=_actor(user, component), subject=Subject("cases.case", case.pk),
                 request=request, details={"item": case.item_code, "state": case.state, **(details or {})})


# -- eligibility -----------------------------------------------------------------------------------------


def _profile(user: Any) -> Any:
    from tongban.accounts.models import CitizenProfile

    pk = getattr(user, "pk", None)
    if pk is None:
        return None
    return CitizenProfile.objects.filter(user_id=pk, closed_at__isnull=True).first()


def check_eligibility(*, user: Any, item: ItemSpec, enterprise_id: int | None = None) -> Any:
    """Refuse, with the reason, anyone the item is not for; return the enterprise (or None)."""
    if getattr(user, "kind", None) != "citizen" or not getattr(user, "is_active", False):
        raise not_found()
    profile = _profile(user)
    level = profile.level if profile else 0
    if level < item.assurance_level:
        raise refuse("case_level_too_low",
                     f"办理“{item.title}”需要完成 L{item.assurance_level} 级实名认证，请先在“我的”中完成认证。",
                     f"This item needs identity verification at level {item.assurance_level}.", 403,
                     required_level=item.assurance_level, level=level)
    if enterprise_id is not None:
        if not item.enterprise_applicable:
            raise refuse("case_not_for_enterprise", f"“{item.title}”不能以企业身份申请。",
                         "Enterprises cannot apply for this item.", 403)
        from tongban.accounts.enterprises import active_agencies, enterprises_represented

        enterprise = enterprises_represented(user).filter(pk=enterprise_id).first()
        if enterprise is None:
            agency = active_agencies(user).filter(enterprise_id=enterprise_id).first()
            enterprise = agency.enterprise if agency else None
        if enterprise is None:
            raise refuse("case_not_authorised", "您不是该企业的法定代表人或有效授权的经办人。",
                         "You do not represent this enterprise.", 403)
        return enterprise
    hk_macao = bool(profile and profile.id_type == "hk_macao_permit")
    if hk_macao and not item.hk_macao_applicable:
        raise refuse("case_not_for_hk_macao", f"“{item.title}”暂不受理港澳居民的网上申请。",
                     "This item does not take online applications from HK/Macao residents.", 403)
    if not hk_macao and not item.citizen_applicable:
        raise refuse("case_not_for_citizen", f"“{item.title}”只能以企业身份申请。",
                     "Only enterprises can apply for this item.", 403)
    return None


# -- numbers and clocks ----------------------------------------------------------------------------------


def next_number(region_code: str, day: dt.date) -> str:
    """A fresh 受理编号 for region and day (the counter row locked for the increment)."""
    counter, _ = CaseNumberCounter.objects.select_for_update().get_or_create(region_code=region_code, day=day)
    counter.last += 1
    counter.save(update_fields=["last"])
    return numbers.compose(region_code, day, counter.last)


def clock_of(case: Case) -> deadlines.Clock:
    return deadlines.Clock(limit_days=case.limit_days, started_on=case.clock_started_on,
                           suspended_days=case.suspended_days, suspended_since=case.suspended_since,
                           finished_on=case.finished_on)


def countdown_of(case: Case, today: dt.date | None = None) -> deadlines.Countdown:
    return deadlines.countdown(clock_of(case), today or clock.today_local())


# -- transitions -----------------------------------------------------------------------------------------


def _lock(case_id: int) -> Case:
    case = Case.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise not_found()
    return case


def _check_version(case: Case, expected_version: int | None, wf: Workflow) -> None:
    if expected_version is not None and expected_version != case.version:
        raise refuse("case_changed",
                     f"该办件已被他人处理（当前状态：{wf.label_of(case.state)}），请刷新后查看最新情况。",
                     "Someone else acted on this case first; reload it.", 409,
                     state=case.state, version=case.version)


def _enter_state(case: Case, wf: Workflow, to: str, today: dt.date, now: dt.datetime) -> None:
    before = wf.state(case.state)
    after = wf.state(to)
    if before.clock_stopped and not after.clock_stopped and case.suspended_since is not None:
        case.suspended_days += deadlines.suspension_length(case.suspended_since, today)
        case.suspended_since = None
    if after.clock_stopped and not before.clock_stopped:
        case.suspended_since = today
    case.state = to
    case.state_entered_at = now
    case.state_due_on = deadlines.state_due(today, after.sla_days)
    if (after.end or to == "delivery") and case.finished_on is None and case.clock_started_on is not None:
        case.finished_on = today
    if after.end:
        case.closed_at = now
    case.due_on = deadlines.due_date(clock_of(case), today)


def _transition(case: Case, action: str, *, user: Any, actor_kind: str, component: str | None = None,
                note: str = "", details: dict[str, Any] | None = None, request: HttpRequest | None = None,
                roles: set[str] | None = None, expected_version: int | None = None) -> CaseEvent:
    wf = get_workflow(case.workflow)
    if roles is None:
        roles = {"system"} if component else case_roles(user, case)
    _check_version(case, expected_version, wf)
    step = wf.check(case.state, action, roles)  # refused: nothing is written (the transaction rolls back)
    now = clock.now()
    today = clock.today_local()
    from_state = case.state
    _enter_state(case, wf, step.to, today, now)
    case.version += 1
    case.updated_at = now
    case.save()
    event = CaseEvent(case=case, kind="transition", action=action, label=step.label, from_state=from_state,
                      to_state=step.to, actor=user if not component else None, actor_kind=actor_kind,
                      note=note[:MAX_NOTE] or None, details=details or {})
    event.save()
    _audit(Action.CASE_TRANSITION, case, user=user, component=component, request=request,
           details={"action": action, "from": from_state, "to": step.to, "event": event.pk,
                    "version": case.version, **{k: v for k, v in (details or {}).items() if k != "missing"}})
    _notify(case, event)
    from tongban.cases.delivery import on_transition

    on_transition(case, event)
    from tongban.cases import record_check

    record_check.on_transition(case, event)
    return event


def _notify(case: Case, event: CaseEvent) -> None:
    if not event.visible_to_applicant:
        return
    outbox_send(channel=CASE_NOTICE_CHANNEL, payload={"event_id": event.pk}, idempotency_key=f"case-event:{event.pk}")


def _event(case: Case, *, kind: str, label: str, user: Any, actor_kind: str, note: str = "",
           details: dict[str, Any] | None = None, visible: bool = True, action: str = "") -> CaseEvent:
    event = CaseEvent(case=case, kind=kind, action=action, label=label, from_state=case.state, to_state=case.state,
                      actor=user, actor_kind=actor_kind, note=note[:MAX_NOTE] or None, details=details or {},
                      visible_to_applicant=visible)
    event.save()
    return event


# -- the applicant's side --------------------------------------------------------------------------------


@transaction.atomic
def case_start(*, user: Any, item_code: str, enterprise_id: int | None = None, region_code: str = "",
               request: HttpRequest | None = None) -> Case:
    """A draft under the item's current published version (checked: the item, the applicant's level,
    HK/Macao or enterprise eligibility)."""
    item = published_item(item_code)
    if item is None:
        raise refuse("case_item_unavailable", "该事项不存在或暂未开通网上办理。",
                     "This item is not available online.", 404)
    enterprise = check_eligibility(user=user, item=item, enterprise_id=enterprise_id)
    wf = get_workflow(item.workflow)
    region = region_code or case_region(user, item)
    case = Case(item_code=item.code, item_version_id=item.version_id, item_title=item.title[:200],
                item_snapshot=item.snapshot(), department=item.department, region_code=region,
                workflow=wf.key, state=wf.start, applicant=user, limit_days=item.limit_days,
                applicant_kind=ApplicantKind.ENTERPRISE if enterprise else ApplicantKind.CITIZEN,
                enterprise=enterprise)
    case.save()
    _audit(Action.CASE_CREATE, case, user=user, request=request,
           details={"version": item.version, "enterprise": enterprise.pk if enterprise else None})
    return case


def case_region(user: Any, item: ItemSpec) -> str:
    """Where the case is handled: the implementing body's region — narrowed to the applicant's household
    region (the first six digits of a citizen ID number) when that lies inside it, so a province's item
    reaches the officers of the applicant's city and county. Without either, the platform's default."""
    from django.conf import settings

    from tongban.accounts.regions import region_covers, region_exists

    profile = _profile(user)
    household = ""
    if profile and profile.id_type == "resident_id" and profile.id_number:
        candidate = str(profile.id_number)[:6]
        if region_exists(candidate):
            household = candidate
    if item.region_code:
        if household and region_covers(item.region_code, household):
            return household
        return item.region_code
    return household or str(getattr(settings, "TONGBAN_CASES_DEFAULT_REGION", "330100"))


def _own_case(user: Any, case_id: int) -> Case:
    case = _lock(case_id)
    if not applicant_may_act(user, case):
        raise not_found()
    return case


def _item(case: Case) -> ItemSpec:
    return ItemSpec.from_snapshot(case.item_snapshot)


@transaction.atomic
def case_save_draft(*, user: Any, case_id: int, answers: dict[str, Any] | None = None,
                    prefilled: list[str] | None = None, delivery: dict[str, Any] | None = None,
                    request: HttpRequest | None = None) -> Case:
    """Keep the answers (encrypted) and the chosen delivery; allowed in a draft and during a correction."""
    case = _own_case(user, case_id)
    if case.state not in ("draft", "correction"):
        raise refuse("case_not_editable", "办件已提交，不能再修改。", "The case can no longer be changed.", 409)
    if answers is not None:
        cleaned, problems = clean_answers(_item(case).application_form, answers, set(prefilled or case.prefilled))
        if problems:
            first = next(iter(problems))
            raise refuse("case_form_invalid", "申请表填写有误：" + "；".join(problems.values()),
                         "Some answers are not valid.", 422, field=first, problems=problems)
        case.data = cleaned
    if prefilled is not None:
        case.prefilled = sorted(set(prefilled))
    if delivery is not None:
        _set_delivery(case, delivery)
    case.version += 1
    case.updated_at = clock.now()
    case.save()
    _audit(Action.CASE_DRAFT_SAVE, case, user=user, request=request,
           details={"fields": sorted((answers or {}).keys()), "delivery": case.delivery_method})
    return case


def _set_delivery(case: Case, delivery: dict[str, Any]) -> None:
    item = _item(case)
    method = delivery.get("method", "")
    if method not in DeliveryMethod.values:
        raise refuse("case_delivery_invalid", "请选择结果送达方式。", "Choose how the result is delivered.", 422,
                     field="delivery_method")
    if method == DeliveryMethod.POST:
        if not item.postal_delivery:
            raise refuse("case_delivery_invalid", "该事项的结果不支持邮寄。", "This result cannot be posted.", 422,
                         field="delivery_method")
        for key, label in (("recipient", "收件人"), ("phone", "收件人电话"), ("address", "收件地址")):
            if not str(delivery.get(key, "")).strip():
                raise refuse("case_delivery_invalid", f"邮寄送达需要填写{label}。", f"Postal delivery needs {key}.", 422,
                             field=f"delivery_{key}")
        case.delivery_recipient = str(delivery["recipient"]).strip()[:100]
        case.delivery_phone = str(delivery["phone"]).strip()[:20]
        case.delivery_address = str(delivery["address"]).strip()[:300]
        case.pickup_station = ""
    elif method == DeliveryMethod.ELECTRONIC:
        if not item.electronic_result:
            raise refuse("case_delivery_invalid", "该事项暂不提供电子结果。", "No electronic result for this item.", 422,
                         field="delivery_method")
        case.pickup_station = ""
    else:
        station = str(delivery.get("station", "")).strip()
        if not station:
            raise refuse("case_delivery_invalid", "请选择领取地点。", "Choose where to collect the result.", 422,
                         field="delivery_station")
        case.pickup_station = station[:100]
    case.delivery_method = method


def _check_complete(case: Case) -> None:
    item = _item(case)
    problems = [f"“{label}”未填写" for label in missing_required(item.application_form, case.data)]
    have = set(case.attachments.filter(superseded_at__isnull=True).values_list("material_code", flat=True))
    for material in item.materials:
        if material.required and material.code not in have:
            problems.append(f"材料“{material.name}”未{'获取' if material.obtained_by_platform else '上传'}")
    if not case.delivery_method:
        problems.append("未选择结果送达方式")
    if problems:
        raise refuse("case_incomplete", "申请尚不完整：" + "；".join(problems) + "。",
                     "The application is incomplete.", 422, problems=problems)


@transaction.atomic
def case_submit(*, user: Any, case_id: int, request: HttpRequest | None = None) -> Case:
    """Submit a complete draft: it gets its 受理编号 and the promised clock starts."""
    case = _own_case(user, case_id)
    if case.state != "draft":
        wf = get_workflow(case.workflow)
        wf.check(case.state, "submit", {"applicant"})
    _check_complete(case)
    today = clock.today_local()
    case.number = next_number(case.region_code, today)
    case.submitted_at = clock.now()
    case.clock_started_on = today
    _transition(case, "submit", user=user, actor_kind=ActorKind.APPLICANT, request=request,
                roles={"applicant"}, details={"number": case.number})
    return case


@transaction.atomic
def case_withdraw(*, user: Any, case_id: int, note: str = "", request: HttpRequest | None = None) -> Case:
    """Withdraw before acceptance (待受理 or 待补正); refused once an officer has accepted it."""
    case = _own_case(user, case_id)
    _transition(case, "withdraw", user=user, actor_kind=ActorKind.APPLICANT, request=request, note=note,
                roles={"applicant"})
    return case


@transaction.atomic
def case_answer_correction(*, user: Any, case_id: int, answers: dict[str, Any] | None = None, note: str = "",
                           request: HttpRequest | None = None) -> Case:
    """Send the corrected application back: the clock runs again from where it stopped."""
    case = _own_case(user, case_id)
    if case.state != "correction":
        get_workflow(case.workflow).check(case.state, "resubmit", {"applicant"})
    if answers is not None:
        cleaned, problems = clean_answers(_item(case).application_form, {**case.data, **answers},
                                          set(case.prefilled))
        if problems:
            raise refuse("case_form_invalid", "申请表填写有误：" + "；".join(problems.values()),
                         "Some answers are not valid.", 422, problems=problems)
        case.data = cleaned
    _check_complete(case)
    _transition(case, "resubmit", user=user, actor_kind=ActorKind.APPLICANT, request=request, note=note,
                roles={"applicant"}, details={"round": case.corrections_used})
    return case


# -- the officers' side ----------------------------------------------------------------------------------

_NEEDS_REASON = {"not_accept": "不予受理须写明理由和法律依据。", "deny": "不予许可须写明理由和法律依据。"}


@transaction.atomic
def case_act(*, user: Any, case_id: int, action: str, expected_version: int | None = None, note: str = "",
             missing: list[str] | None = None, reason: str = "", request: HttpRequest | None = None) -> Case:
    """An officer's action on a case in their department and region.

    `return_for_correction` needs `missing` (exactly what is missing; once per case); `not_accept` and
    `deny` need `reason` (the legal reason, shown to the applicant). `expected_version` is the version the
    officer saw: if the case changed since, nothing is done and the officer is told so."""
    case = _lock(case_id)
    if not officer_may_act(user, case):
        raise not_found()
    from tongban.cases import record_check

    reason = record_check.before_officer_action(case, action, reason)
    details: dict[str, Any] = {}
    if action == "return_for_correction":
        items = [str(m).strip()[:200] for m in (missing or []) if str(m).strip()]
        if not items:
            raise refuse("case_correction_empty", "补正告知须逐项列明需要补正的内容。",
                          "List exactly what is missing.", 422, field="missing")
        if case.corrections_used >= MAX_CORRECTION_ROUNDS and case.state == "submitted":
            raise refuse("case_correction_once",
                         "补正告知只能一次性提出；申请人已补正过，请作出受理或不予受理的决定。",
                         "A correction may be requested once only.", 409)
        details["missing"] = items
    if action in _NEEDS_REASON:
        if not reason.strip():
            raise refuse("case_reason_required", _NEEDS_REASON[action], "A legal reason is required.", 422,
                         field="reason")
        details["reason"] = reason.strip()[:1000]
    _transition(case, action, user=user, actor_kind=ActorKind.OFFICER, request=request, note=note,
                details=details, expected_version=expected_version, roles=case_roles(user, case))
    if action == "return_for_correction":
        case.corrections_used += 1
        case.correction_items = details["missing"]
    if action == "accept" or (case.accepted_at is None and action == "approve"):
        case.accepted_at = clock.now()
    if action in ("approve", "deny"):
        case.decided_at = clock.now()
    if action in _NEEDS_REASON:
        case.decision_reason = details["reason"]
    if case.assigned_to_id is None:
        case.assigned_to = user  # who acted holds it until someone reassigns it
    case.save(update_fields=["corrections_used", "correction_items", "accepted_at", "decided_at",
                             "decision_reason", "assigned_to"])
    return case


@transaction.atomic
def case_system_act(*, case_id: int, action: str, component: str, note: str = "",
                    details: dict[str, Any] | None = None) -> Case:
    """The platform's own step (a courier's signed-for event, an electronic result issued)."""
    case = _lock(case_id)
    _transition(case, action, user=None, actor_kind=ActorKind.SYSTEM, component=component, note=note,
                details=details)
    return case


@transaction.atomic
def case_assign(*, user: Any, case_id: int, assignee_id: int | None, expected_version: int | None = None,
                request: HttpRequest | None = None) -> Case:
    """Claim (assignee = oneself) or assign to another officer covering the case; None releases it."""
    case = _lock(case_id)
    if not officer_may_act(user, case):
        raise not_found()
    wf = get_workflow(case.workflow)
    _check_version(case, expected_version, wf)
    if wf.state(case.state).end:
        raise refuse("case_closed", "办件已结束，不能再分派。", "The case is finished.", 409)
    assignee = None
    if assignee_id is not None:
        from tongban.accounts.models import User

        assignee = User.objects.filter(pk=assignee_id, is_active=True).first()
        if assignee is None or not officer_may_act(assignee, case):
            raise refuse("case_assignee_invalid", "只能分派给辖区和警种覆盖该办件的在岗民警。",
                         "Assign only to an officer whose scope covers the case.", 422, field="assignee")
    previous = case.assigned_to_id
    case.assigned_to = assignee
    case.version += 1
    case.updated_at = clock.now()
    case.save(update_fields=["assigned_to", "version", "updated_at"])
    label = "认领办件" if assignee_id == user.pk else ("分派办件" if assignee else "释放办件")
    event = _event(case, kind="assign", label=label, user=user, actor_kind=ActorKind.OFFICER, visible=False,
                   details={"from": previous, "to": assignee_id})
    _audit(Action.CASE_ASSIGN, case, user=user, request=request,
           details={"from": previous, "to": assignee_id, "event": event.pk})
    return case


@transaction.atomic
def case_comment(*, user: Any, case_id: int, text: str, request: HttpRequest | None = None) -> CaseEvent:
    """Anyone in the case's workflow may comment: an officer's note is internal, an applicant's is shared."""
    case = _lock(case_id)
    roles = case_roles(user, case)
    if not roles:
        raise not_found()
    text = (text or "").strip()
    if not text:
        raise refuse("case_comment_empty", "请填写批注内容。", "Write something.", 422, field="text")
    officer = "officer" in roles
    event = _event(case, kind="comment", label="民警批注" if officer else "申请人留言", user=user,
                   actor_kind=ActorKind.OFFICER if officer else ActorKind.APPLICANT, note=text,
                   visible=not officer)
    case.updated_at = clock.now()
    case.save(update_fields=["updated_at"])
    _audit(Action.CASE_COMMENT, case, user=user, request=request, details={"event": event.pk, "internal": officer})
    return event
