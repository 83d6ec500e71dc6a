"""Reads on cases, with the reader's rights applied: the applicant's own cases (and their enterprise's),
an officer's cases by department and region, a case's timeline and the actions open to the reader.

"Not found" and "not allowed" look the same: a case outside the reader's reach raises `not_found`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from tongban.cases import deadlines
from tongban.cases.models import Case, CaseEvent
from tongban.cases.services import applicant_may_act, case_roles, countdown_of, not_found, officer_may_act
from tongban.cases.workflow import Action, get_workflow
from tongban.core import clock

LIST_FIELDS = ("id", "number", "item_code", "item_title", "state", "workflow", "department", "region_code",
               "applicant_kind", "applicant_id", "enterprise_id", "assigned_to_id", "limit_days",
               "clock_started_on", "suspended_days", "suspended_since", "due_on", "finished_on", "state_due_on",
               "created_at", "submitted_at", "updated_at", "version")


def cases_of_applicant(user: Any, *, enterprise_id: int | None = None) -> QuerySet[Case]:
    """The citizen's own cases, or — acting for an enterprise they represent or are an active agent of —
    the enterprise's cases (an agent whose authorisation was revoked sees none of them)."""
    if enterprise_id is not None:
        from tongban.accounts.enterprises import active_agencies, enterprises_represented

        allowed = (enterprises_represented(user).filter(pk=enterprise_id).exists()
                   or active_agencies(user).filter(enterprise_id=enterprise_id).exists())
        if not allowed:
            return Case.objects.none()
        rows = Case.objects.filter(enterprise_id=enterprise_id)
    else:
        rows = Case.objects.filter(applicant_id=getattr(user, "pk", None), enterprise__isnull=True)
    return rows.only(*LIST_FIELDS).order_by("-created_at", "-id")


def case_for_applicant(user: Any, case_id: int) -> Case:
    case = Case.objects.select_related("enterprise").filter(pk=case_id).first()
    if case is None or not applicant_may_act(user, case):
        raise not_found()
    return case


def cases_for_officer(user: Any) -> QuerySet[Case]:
    """Submitted cases in the officer's department and region (drafts are the applicant's alone)."""
    from tongban.accounts.selectors import officer_scope

    scope = officer_scope(user)
    if scope is None or not getattr(user, "role_officer", False):
        return Case.objects.none()
    return (Case.objects.filter(department=scope.department, region_code__startswith=scope.region_prefix)
            .exclude(state="draft").only(*LIST_FIELDS).order_by("-submitted_at", "-id"))


def case_for_officer(user: Any, case_id: int) -> Case:
    case = Case.objects.select_related("enterprise", "assigned_to").filter(pk=case_id).first()
    if case is None or case.state == "draft" or not officer_may_act(user, case):
        raise not_found()
    return case


def overdue_filter(today: dt.date | None = None) -> Q:
    """Open cases past their promised date (the clock running: not suspended, not finished)."""
    today = today or clock.today_local()
    return Q(due_on__lt=today, finished_on__isnull=True, suspended_since__isnull=True, clock_started_on__isnull=False)


def available_actions(user: Any, case: Case) -> list[Action]:
    """The workflow actions this reader may take on the case now (what the page offers as buttons)."""
    roles = case_roles(user, case)
    wf = get_workflow(case.workflow)
    actions = wf.actions_for(case.state, roles)
    if case.corrections_used >= 1 and case.state == "submitted":
        actions = [a for a in actions if a.key != "return_for_correction"]
    return actions


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    label: str
    kind: str
    actor_kind: str
    note: str
    details: dict[str, Any]
    from_state: str
    to_state: str


def timeline(case: Case, *, for_applicant: bool) -> list[TimelineEntry]:
    """The case's history, oldest first; the applicant sees what concerns them (not officers' notes)."""
    rows = CaseEvent.objects.filter(case=case).order_by("created_at", "id")
    if for_applicant:
        rows = rows.filter(visible_to_applicant=True)
    entries = []
    for event in rows:
        entries.append(TimelineEntry(at=event.created_at, label=event.label, kind=event.kind,
                                     actor_kind=event.actor_kind, note=event.note or "",
                                     details=event.details or {}, from_state=event.from_state,
                                     to_state=event.to_state))
    return entries


def progress_steps(case: Case) -> list[dict[str, Any]]:
    """The main path of the case's workflow with where the case stands (for the progress bar)."""
    wf = get_workflow(case.workflow)
    path: list[str] = []
    state = wf.start
    seen = set()
    while state and state not in seen:  # follow the first action to a non-end state: the happy path
        seen.add(state)
        path.append(state)
        current = wf.state(state)
        nxt = next((a.to for a in current.actions if a.to not in ("withdrawn", "not_accepted", "denied",
                                                                     "correction")), None)
        state = nxt or ""
    position = path.index(case.state) if case.state in path else -1
    steps = [{"key": key, "label": wf.label_of(key), "done": position > i or (position == -1 and False),
              "current": key == case.state} for i, key in enumerate(path)]
    return steps


def state_label(case: Case) -> str:
    return get_workflow(case.workflow).label_of(case.state)


def deadline_of(case: Case) -> deadlines.Countdown:
    return countdown_of(case)


def region_range(prefix: str) -> tuple[str, str]:
    """The codes starting with `prefix` as a half-open range [low, high) of six-digit strings: a range an
    index serves under any collation (LIKE 'xx%' needs a pattern index on PostgreSQL)."""
    width = len(prefix)
    low = prefix.ljust(6, "0")
    high = str(int(prefix) + 1).zfill(width).ljust(6, "0") if width < 6 else ""
    return low, high


def _local_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=clock.SHANGHAI)


def officer_inbox(user: Any, *, states: list[str] | None = None, item_code: str = "", overdue: bool = False,
                  submitted_from: dt.date | None = None, submitted_to: dt.date | None = None,
                  assigned: str = "", before: tuple[dt.datetime, int] | None = None,
                  today: dt.date | None = None) -> QuerySet[Case]:
    """The officer's inbox: submitted cases in their department and region, newest first, narrowed by state,
    item, overdue, the submission dates (Asia/Shanghai days, both ends included) and assignment
    ("mine", "unassigned", "others"); `before` = (submitted_at, id) of the last row of the previous page
    (keyset paging: every page costs the same, however deep)."""
    from tongban.accounts.selectors import officer_scope

    scope = officer_scope(user)
    if scope is None or not getattr(user, "role_officer", False):
        return Case.objects.none()
    low, high = region_range(scope.region_prefix)
    rows = Case.objects.filter(department=scope.department, submitted_at__isnull=False)
    rows = rows.filter(region_code__gte=low, region_code__lt=high) if high else rows.filter(region_code=low)
    if states:
        rows = rows.filter(state__in=states)
    if item_code:
        rows = rows.filter(item_code=item_code)
    if overdue:
        rows = rows.filter(overdue_filter(today))
    if submitted_from is not None:
        rows = rows.filter(submitted_at__gte=_local_midnight(submitted_from))
    if submitted_to is not None:
        rows = rows.filter(submitted_at__lt=_local_midnight(submitted_to + dt.timedelta(days=1)))
    if assigned == "mine":
        rows = rows.filter(assigned_to_id=user.pk)
    elif assigned == "unassigned":
        rows = rows.filter(assigned_to__isnull=True)
    elif assigned == "others":
        rows = rows.filter(assigned_to__isnull=False).exclude(assigned_to_id=user.pk)
    if before is not None:
        at, pk = before
        rows = rows.filter(Q(submitted_at__lt=at) | Q(submitted_at=at, id__lt=pk))
    return (rows.select_related("assigned_to").only(*LIST_FIELDS, "assigned_to__username")
            .order_by("-submitted_at", "-id"))


def case_handlers(case: Case) -> set[int]:
    """The staff accounts that handled the case (acted on it, or hold it): kept out of the supervision of
    its evaluation (tongban.evaluation)."""
    ids = set(CaseEvent.objects.filter(case=case, actor_kind="officer", actor__isnull=False)
              .values_list("actor_id", flat=True))
    if case.assigned_to_id is not None:
        ids.add(case.assigned_to_id)
    return {int(i) for i in ids}
