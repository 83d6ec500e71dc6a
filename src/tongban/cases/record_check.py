"""无犯罪记录证明 in the case engine: the `criminal_record` check a workflow state may name.

Entering such a state (the handling station's acceptance), the platform asks the criminal-record source
for a verdict on the applicant's ID number — within the period the applicant asked to certify — audits the
ask, and keeps the verdict as an internal timeline event for the officer. Approving (出具证明) is refused
unless the verdict is "no record"; denying where a record exists needs no typed reason (the standard one is
used) and issues the refusal notice (不予出具告知书) as the case's signed electronic document. The certificate
and the notice carry no detail of any offence: the source answers a verdict only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.translation import gettext as _

from tongban.audit.actions import Action, Outcome
from tongban.audit.services import Actor, Subject, audit_record
from tongban.cases.models import ActorKind, Case, CaseEvent
from tongban.core import clock
from tongban.core.errors import TongbanError

CHECK = "criminal_record"
RECHECK_TASK = "cases.record_check"
NONE, RECORD, UNAVAILABLE = "none", "record", "unavailable"
LEGAL_BASIS = "《公安部关于印发〈关于规范公安机关出具无犯罪记录证明工作的意见〉的通知》（公通字〔2021〕1号）"
REFUSAL_REASON = ("经查询，申请人在查询期限内存在犯罪记录，依据" + LEGAL_BASIS + "，不予出具无犯罪记录证明。")


def _checked_state(case: Case, state: str) -> bool:
    from tongban.cases.workflow import get_workflow

    return get_workflow(case.workflow).state(state).check == CHECK


def uses_check(case: Case) -> bool:
    from tongban.cases.workflow import get_workflow

    return any(s.check == CHECK for s in get_workflow(case.workflow).states.values())


def _answers(case: Case) -> dict[str, Any]:
    data = case.data
    return data if isinstance(data, dict) else {}


def period_start(case: Case) -> dt.date | None:
    """The first day of the period to certify (`period_years` back from the submission), None for all."""
    try:
        years = int(_answers(case).get("period_years") or 0)
    except (TypeError, ValueError):
        years = 0
    if years <= 0:
        return None
    base = clock.to_local(case.submitted_at).date() if case.submitted_at else clock.today_local()
    try:
        return base.replace(year=base.year - years)
    except ValueError:  # 29 February
        return base.replace(year=base.year - years, day=28)


def _id_number(case: Case) -> str:
    from tongban.accounts.models import CitizenProfile

    profile = CitizenProfile.objects.filter(user_id=case.applicant_id).first()
    return str(profile.id_number or "") if profile is not None and profile.id_type == "resident_id" else ""


def verdict(case: Case) -> str | None:
    """The latest verdict kept on the case (none / record / unavailable), or None before any check."""
    event = case.events.filter(kind="check").order_by("-pk").first()
    return str(event.details.get("record_check")) if event is not None else None


def run_check(case: Case) -> str:
    """Ask the source (audited), keep the verdict as an internal event; queue a retry while unavailable."""
    from tongban.registry.interfaces import SourceUnavailable, criminal_records

    since = period_start(case)
    number = _id_number(case)
    outcome = Outcome.SUCCESS
    if not number:
        result = UNAVAILABLE
        outcome = Outcome.FAILURE
    else:
        try:
            result = RECORD if criminal_records().record_check(number, since).has_record else NONE
        except SourceUnavailable:
            result, outcome = UNAVAILABLE, Outcome.ERROR
    audit_record(action=Action.CRIMINAL_RECORD_CHECK, outcome=outcome, actor=Actor.system("cases.record_check"),
                 subject=Subject("cases.case", case.pk),
                 details={"source": "criminal", "since": since.isoformat() if since else None,
                          "verdict": result})
    labels = {NONE: _("违法犯罪记录核查：未发现犯罪记录"), RECORD: _("违法犯罪记录核查：存在犯罪记录"),
              UNAVAILABLE: _("违法犯罪记录核查：暂时无法查询，稍后自动重试")}
    CaseEvent(case=case, kind="check", action="record_check", label=labels[result], from_state=case.state,
              to_state=case.state, actor=None, actor_kind=ActorKind.SYSTEM, visible_to_applicant=False,
              details={"record_check": result, "since": since.isoformat() if since else None}).save()
    if result == UNAVAILABLE and number:
        from tongban.jobs.services import job_enqueue

        job_enqueue(task=RECHECK_TASK, payload={"case_id": case.pk},
                    run_after=clock.now() + dt.timedelta(minutes=5))
    return result


def on_transition(case: Case, event: CaseEvent) -> None:
    """Run the check on entering a checked state; issue the refusal notice on a denial where a record exists."""
    if event.from_state == event.to_state:
        return
    if _checked_state(case, event.to_state):
        run_check(case)
    elif event.to_state == "denied" and _checked_state(case, event.from_state) and verdict(case) == RECORD:
        from tongban.cases.delivery import ISSUE_RESULT_TASK
        from tongban.jobs.services import job_enqueue

        job_enqueue(task=ISSUE_RESULT_TASK, payload={"case_id": case.pk}, idempotency_key=f"result:{case.pk}")


def before_officer_action(case: Case, action: str, reason: str) -> str:
    """Guard an officer's action in a checked state; the reason to use (the standard one for a denial where a
    record exists and none was typed)."""
    if not _checked_state(case, case.state):
        return reason
    found = verdict(case)
    if action == "approve" and found != NONE:
        if found == RECORD:
            raise TongbanError("case_record_exists", _("核查发现申请人在查询期限内存在犯罪记录，不能出具无犯罪记录证明，请选择“不予出具”。"),
                               "A criminal record exists: the certificate cannot be issued.", 409)
        raise TongbanError("case_check_pending", _("违法犯罪记录核查尚无结果，请稍后再试。"),
                           "The criminal-record check has no verdict yet.", 409)
    if action == "deny" and not reason.strip() and found == RECORD:
        return REFUSAL_REASON
    return reason


def recheck(case_id: int) -> None:
    """The retry job: check again a case still waiting in its checked state with no verdict."""
    from django.db import transaction

    with transaction.atomic():
        case = Case.objects.select_for_update().filter(pk=case_id).first()
        if case is None or not _checked_state(case, case.state) or verdict(case) in (NONE, RECORD):
            return
        if run_check(case) == UNAVAILABLE:
            return  # run_check queued the next try


def document(case: Case, *, holder: str, issued_on: str, check_code: str) -> tuple[str, list[tuple[int, str]]] | None:
    """(title, lines) of the certificate or the refusal notice of a case under a checked workflow, else None."""
    if not uses_check(case):
        return None
    from tongban.cases.numbers import display

    answers = _answers(case)
    station = _station(case, answers)
    since = period_start(case)
    period = (_("%(start)s 至 %(end)s") % {"start": since.isoformat(), "end": issued_on}) if since else _("至今")
    number = _id_number(case)
    purpose = _choice_label(case, "purpose", answers.get("purpose"))
    if case.state == "denied":
        return _("不予出具无犯罪记录证明告知书"), [
            (20, _("不予出具无犯罪记录证明告知书")), (12, ""),
            (12, _("编号：%(n)s") % {"n": display(case.number or "")}),
            (12, _("%(name)s（公民身份号码 %(id)s）：") % {"name": holder, "id": number}),
            (12, _("你申请开具无犯罪记录证明（查询期限：%(p)s）。") % {"p": period}),
            (12, _("经查询，你在查询期限内存在犯罪记录。")),
            (12, _("依据《关于规范公安机关出具无犯罪记录证明工作的意见》，")),
            (12, _("本机关不予出具无犯罪记录证明。")),
            (12, _("对查询结果有异议的，可向本机关申请复核；")),
            (12, _("也可依法申请行政复议或者提起行政诉讼。")),
            (12, _("出具单位：%(s)s") % {"s": station}),
            (12, _("出具日期：%(d)s") % {"d": issued_on}),
            (12, _("核验码：%(c)s") % {"c": check_code}),
        ]
    return _("无犯罪记录证明"), [
        (20, _("无犯罪记录证明")), (12, ""),
        (12, _("编号：%(n)s") % {"n": display(case.number or "")}),
        (12, _("兹证明 %(name)s（公民身份号码 %(id)s），") % {"name": holder, "id": number}),
        (12, _("在查询期限（%(p)s）内，") % {"p": period}),
        (12, _("未发现有犯罪记录。")),
        (12, _("用途：%(u)s；使用单位：%(r)s") % {"u": purpose, "r": str(answers.get("recipient") or "")[:40]}),
        (12, _("出具单位：%(s)s") % {"s": station}),
        (12, _("出具日期：%(d)s（自出具之日起三个月内有效）") % {"d": issued_on}),
        (12, _("核验码：%(c)s") % {"c": check_code}),
    ]


def _choice_label(case: Case, name: str, value: Any) -> str:
    from tongban.cases.form_schema import fields_of

    form = (case.item_snapshot or {}).get("application_form") or {}
    for spec in fields_of(form):
        if spec.get("name") == name:
            for choice in spec.get("choices") or []:
                if choice and choice[0] == value:
                    return str(choice[1])
    return str(value or "")


def _station(case: Case, answers: dict[str, Any]) -> str:
    return _choice_label(case, "station", answers.get("station")) or case.item_title
