"""Writes on evaluations: rate a case (and change the rating once), receive a rating from the national platform,
and every step of a bad review's loop — visit back and verify, rectify, report back, the rater rates the fix,
appeal and its review by a second supervisor.

Each service locks its row, checks the actor's right under the lock, writes the audit entry in the same
transaction and queues the rater's notice through the outbox. "Not found" and "not allowed" look the same.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.http import HttpRequest

from tongban.audit.actions import Action, Outcome
from tongban.audit.services import Actor, Subject, audit_record
from tongban.cases.models import Case
from tongban.cases.selectors import case_handlers
from tongban.cases.services import applicant_may_act
from tongban.core import clock
from tongban.core.errors import TongbanError
from tongban.evaluation import conf
from tongban.evaluation.models import (
    BAD_LEVELS,
    OPEN_STATUSES,
    TAGS,
    AppealStatus,
    BadReview,
    Channel,
    FixLevel,
    Level,
    Rating,
    ReviewStatus,
)
from tongban.jobs.services import outbox_send

NOTICE_CHANNEL = "evaluation_notice"
RATEABLE_STATES = frozenset({"closed", "denied", "not_accepted"})  # finished or refused (withdrawn is neither)
MAX_COMMENT = 500
MAX_NOTE = 2000
APPEAL_KINDS = {"mistaken": "误评（评价对象或事实有误）", "malicious": "恶意差评"}


def refuse(code: str, zh: str, en: str, status: int = 409, **details: Any) -> TongbanError:
    return TongbanError(code, zh, en, status, [details] if details else None)


def not_found() -> TongbanError:
    return TongbanError("not_found", "评价不存在或您无权查看。", "No such evaluation, or it is not yours.", 404)


# -- rating ---------------------------------------------------------------------------------------------


def _window_end(case: Case) -> dt.datetime | None:
    if case.closed_at is None:
        return None
    return case.closed_at + dt.timedelta(days=conf.window_days())


def _check_rateable(case: Case, now: dt.datetime) -> None:
    if case.state not in RATEABLE_STATES or case.closed_at is None:
        raise refuse("evaluation_case_not_finished", "办件办结或作出不予受理、不予许可决定后才能评价。",
                     "A case can be rated once it is finished or refused.", 409)
    end = _window_end(case)
    if end is not None and now > end:
        raise refuse("evaluation_window_closed", f"评价期已过（办结后 {conf.window_days()} 日内可以评价）。",
                     "The time for rating this case is over.", 409)


def _clean(level: Any, tags: Iterable[str] | None, comment: str | None) -> tuple[int, list[str], str]:
    try:
        value = int(level)
    except (TypeError, ValueError):
        value = 0
    if value not in Level.values:
        raise refuse("evaluation_level_invalid", "请选择评价等级（非常满意至非常不满意）。",
                     "Choose one of the five levels.", 422, field="level")
    allowed = TAGS.get(value, ())
    chosen = [str(t) for t in (tags or [])]
    wrong = [t for t in chosen if t not in allowed]
    if wrong:
        raise refuse("evaluation_tag_invalid", f"所选标签与评价等级不符：{'、'.join(wrong)}。",
                     "A tag does not belong to the chosen level.", 422, field="tags")
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise refuse("evaluation_comment_too_long", f"评价内容不超过 {MAX_COMMENT} 字。",
                     "The comment is too long.", 422, field="comment")
    if value in BAD_LEVELS and not chosen and not text:
        raise refuse("evaluation_bad_needs_reason", "差评请选择至少一个标签或写明原因，便于核实整改。",
                     "A bad review needs a tag or a comment.", 422, field="tags")
    return value, sorted(set(chosen), key=chosen.index), text


def _audit(action: Action, subject: Subject, *, user: Any = None, component: str | None = None,
           request: HttpRequest | None = None, details: dict[str, Any] | None = None,
           outcome: Outcome = Outcome.SUCCESS) -> None:
    actor = Actor.system(component) if component else Actor.user(user)
    audit_record(action=action, outcome=outcome, actor=actor, subject=subject, request=request, details=details)


def _rating_subject(rating: Rating) -> Subject:
    return Subject("evaluation.rating", rating.pk)


def _review_subject(review: BadReview) -> Subject:
    return Subject("evaluation.review", review.pk)


def _lock_case(case_id: int) -> Case:
    case = Case.objects.select_for_update().filter(pk=case_id).first()
    if case is None:
        raise not_found()
    return case


def _rater_check(user: Any, case: Case) -> None:
    """Only the applicant: the citizen who applied, or for an enterprise its representative or an agent whose
    authorisation is active. Staff never rate (and their screens never ask them to)."""
    if not applicant_may_act(user, case):
        raise TongbanError("not_found", "办件不存在或您无权评价。", "No such case, or it is not yours to rate.", 404)


def _open_review(rating: Rating, *, user: Any, component: str | None, request: HttpRequest | None) -> BadReview:
    review = BadReview.objects.filter(rating=rating).first()
    now = clock.now()
    if review is None:
        review = BadReview(rating=rating, department=rating.department, region_code=rating.region_code)
    elif review.status in (ReviewStatus.SUPERSEDED,):
        review.status = ReviewStatus.ACCEPTED
    else:
        return review
    review.updated_at = now
    review.save()
    _audit(Action.EVALUATION_RATE, _review_subject(review), user=user, component=component, request=request,
           details={"loop": "accepted", "rating": rating.pk, "level": rating.level, "real_name": rating.real_name})
    if rating.real_name and rating.rater_id is not None:
        _notify(review, "accepted")
    return review


def _after_level(rating: Rating, *, user: Any, component: str | None, request: HttpRequest | None) -> None:
    """A bad review opens (or reopens) its loop; a rating changed to a good one ends an open loop."""
    if rating.level in BAD_LEVELS:
        _open_review(rating, user=user, component=component, request=request)
        return
    review = BadReview.objects.select_for_update().filter(rating=rating, status__in=OPEN_STATUSES).first()
    if review is not None:
        review.status = ReviewStatus.SUPERSEDED
        review.updated_at = clock.now()
        review.save(update_fields=["status", "updated_at"])


@transaction.atomic
def rating_submit(*, user: Any, case_id: int, level: Any, tags: Iterable[str] | None = None,
                  comment: str | None = None, channel: str = Channel.WEB, visit_ref: str = "",
                  request: HttpRequest | None = None) -> Rating:
    """The applicant rates a finished or refused case: once per case online, once per visit on site."""
    case = _lock_case(case_id)
    _rater_check(user, case)
    now = clock.now()
    _check_rateable(case, now)
    value, chosen, text = _clean(level, tags, comment)
    if channel not in Channel.values or channel == Channel.NATIONAL:
        raise refuse("evaluation_channel_invalid", "评价渠道无效。", "Unknown channel.", 422)
    visit = (visit_ref or "").strip()[:64] if channel == Channel.ONSITE else ""
    if channel == Channel.ONSITE and not visit:
        raise refuse("evaluation_visit_required", "现场评价须对应一次现场服务（一次一评）。",
                     "An on-site rating names its visit.", 422)
    if Rating.objects.filter(case=case, visit_ref=visit).exists():
        raise refuse("evaluation_already_rated", "该办件您已评价过（一事一评）；在评价期内可以修改一次。",
                     "This case has been rated already.", 409)
    handlers = case_handlers(case)
    rating = Rating(case=case, visit_ref=visit, channel=channel, level=value, first_level=value, tags=chosen,
                    comment=text or None, rater=user, real_name=True, item_code=case.item_code,
                    item_title=case.item_title, department=case.department, region_code=case.region_code,
                    handler_id=case.assigned_to_id or (min(handlers) if handlers else None), created_at=now)
    rating.save()
    _audit(Action.EVALUATION_RATE, _rating_subject(rating), user=user, request=request,
           details={"case": case.pk, "level": value, "channel": channel, "tags": chosen})
    _after_level(rating, user=user, component=None, request=request)
    return rating


@transaction.atomic
def rating_change(*, user: Any, case_id: int, level: Any, tags: Iterable[str] | None = None,
                  comment: str | None = None, visit_ref: str = "", request: HttpRequest | None = None) -> Rating:
    """Change one's rating, once, within the rating window."""
    case = _lock_case(case_id)
    _rater_check(user, case)
    rating = Rating.objects.select_for_update().filter(case=case, visit_ref=(visit_ref or "")[:64]).first()
    if rating is None or rating.removed_at is not None:
        raise not_found()
    if rating.changes >= 1:
        raise refuse("evaluation_change_used", "评价只能修改一次，您已修改过。",
                     "A rating can be changed once only.", 409)
    now = clock.now()
    _check_rateable(case, now)
    value, chosen, text = _clean(level, tags, comment)
    before = rating.level
    rating.level, rating.tags, rating.comment = value, chosen, text or None
    rating.changes += 1
    rating.changed_at = now
    rating.save(update_fields=["level", "tags", "comment", "changes", "changed_at"])
    _audit(Action.EVALUATION_CHANGE, _rating_subject(rating), user=user, request=request,
           details={"case": case.pk, "from": before, "to": value, "tags": chosen})
    _after_level(rating, user=user, component=None, request=request)
    return rating


@transaction.atomic
def rating_receive_from_national(*, national_id: str, case_number: str, level: Any,
                                 tags: Iterable[str] | None = None, comment: str | None = None,
                                 rated_at: dt.datetime | None = None, real_name: bool = True,
                                 channel: str = Channel.NATIONAL, visit_ref: str = "") -> tuple[Rating, bool]:
    """A rating made on the national platform (好差评 system) for one of our cases, as the data exchange hands
    it over: (the rating, whether it is new). Idempotent by the national platform's id; a second rating of a
    case already rated here is refused (一事一评 across channels). The national platform authenticated the
    rater as the case's applicant; an anonymous rating (real_name False) keeps no rater and gets no visit back.
    """
    key = (national_id or "").strip()[:64]
    if not key:
        raise refuse("evaluation_national_id_missing", "缺少国家平台评价编号。", "national_id is required.", 422)
    existing = Rating.objects.filter(national_id=key).first()
    if existing is not None:
        return existing, False
    case = Case.objects.select_for_update().filter(number=(case_number or "").strip()[:18]).first()
    if case is None:
        raise TongbanError("not_found", "办件不存在。", "No such case.", 404)
    now = clock.now()
    when = rated_at or now
    _check_rateable(case, when)
    value, chosen, text = _clean(level, tags, comment)
    visit = (visit_ref or "").strip()[:64] if channel == Channel.ONSITE else ""
    if Rating.objects.filter(case=case, visit_ref=visit).exists():
        raise refuse("evaluation_already_rated", "该办件已有评价（一事一评）。", "This case has been rated already.", 409)
    handlers = case_handlers(case)
    rating = Rating(case=case, visit_ref=visit, channel=channel if channel in Channel.values else Channel.NATIONAL,
                    level=value, first_level=value, tags=chosen, comment=text or None,
                    rater_id=case.applicant_id if real_name else None, real_name=bool(real_name), national_id=key,
                    item_code=case.item_code, item_title=case.item_title, department=case.department,
                    region_code=case.region_code,
                    handler_id=case.assigned_to_id or (min(handlers) if handlers else None), created_at=when)
    try:
        with transaction.atomic():
            rating.save()
    except IntegrityError:  # the same national id arriving twice at once: the first one stands
        existing = Rating.objects.filter(national_id=key).first()
        if existing is None:
            raise
        return existing, False
    _audit(Action.EVALUATION_RECEIVE, _rating_subject(rating), component="evaluation.national",
           details={"case": case.pk, "level": value, "channel": rating.channel, "real_name": rating.real_name})
    _after_level(rating, user=None, component="evaluation.national", request=None)
    return rating, True


# -- the bad-review loop --------------------------------------------------------------------------------


def supervisor_may_act(user: Any, review: BadReview, *, handlers: set[int] | None = None) -> bool:
    """A supervisor whose department and region cover the review — and who did not handle the case."""
    from tongban.accounts.regions import region_covers
    from tongban.accounts.roles import StaffRole

    if user is None or not getattr(user, "is_authenticated", False) or not hasattr(user, "has_role"):
        return False
    if not user.has_role(StaffRole.SUPERVISOR) or not user.department or not user.region_code:
        return False
    if user.department != review.department or not region_covers(user.region_code, review.region_code):
        return False
    rating = review.rating
    if handlers is None:
        handlers = case_handlers(rating.case)
    return user.pk != rating.handler_id and user.pk not in handlers


def _lock_review(user: Any, review_id: int) -> BadReview:
    review = BadReview.objects.select_for_update().select_related("rating", "rating__case").filter(pk=review_id).first()
    if review is None or not supervisor_may_act(user, review):
        raise not_found()
    return review


def _need(review: BadReview, *statuses: str) -> None:
    if review.status not in statuses:
        raise refuse("evaluation_step_not_allowed",
                     f"该差评当前为“{review.get_status_display()}”，不能进行这一步。",
                     "This step cannot be taken now.", 409, current=review.status)
    if review.appeal_status == AppealStatus.PENDING:
        raise refuse("evaluation_appeal_pending", "该差评正在申诉复核中，复核完成前暂停整改流程。",
                     "An appeal is pending.", 409)


def _note(value: str | None, field: str, label: str) -> str:
    text = (value or "").strip()
    if not text:
        raise refuse("evaluation_note_required", f"请填写{label}。", f"{field} is required.", 422, field=field)
    return text[:MAX_NOTE]


def rectify_due(start: dt.date, days: int | None = None) -> dt.date:
    """The rectification deadline: `days` working days (default 15) after `start`, on the Chinese calendar."""
    from tongban.cases.deadlines import state_due

    due = state_due(start, days if days is not None else conf.rectify_working_days())
    return due or start


def _save(review: BadReview) -> None:
    review.updated_at = clock.now()
    review.save()


@transaction.atomic
def review_visit(*, user: Any, review_id: int, note: str, request: HttpRequest | None = None) -> BadReview:
    """回访核实: the supervisor called the rater back (or, for an anonymous review, checked the case) and records
    what was found; the rectification deadline starts."""
    review = _lock_review(user, review_id)
    _need(review, ReviewStatus.ACCEPTED)
    review.visit_note = _note(note, "note", "回访核实情况")
    review.visited_by, review.visited_at = user, clock.now()
    review.rectify_due_on = rectify_due(clock.today_local())
    review.status = ReviewStatus.RECTIFYING
    _save(review)
    _audit(Action.EVALUATION_VISIT, _review_subject(review), user=user, request=request,
           details={"due": review.rectify_due_on.isoformat()})
    return review


@transaction.atomic
def review_rectify(*, user: Any, review_id: int, note: str, request: HttpRequest | None = None) -> BadReview:
    """整改 done: what was changed. An anonymous review ends here (there is no one to report back to)."""
    review = _lock_review(user, review_id)
    _need(review, ReviewStatus.RECTIFYING)
    review.rectify_note = _note(note, "note", "整改情况")
    review.rectified_by, review.rectified_at = user, clock.now()
    late = review.rectify_due_on is not None and clock.today_local() > review.rectify_due_on
    if review.rating.real_name and review.rating.rater_id is not None:
        review.status = ReviewStatus.RECTIFIED
    else:
        review.status, review.closed_at = ReviewStatus.CLOSED, clock.now()
    _save(review)
    _audit(Action.EVALUATION_RECTIFY, _review_subject(review), user=user, request=request,
           details={"late": late, "status": review.status})
    return review


@transaction.atomic
def review_feedback(*, user: Any, review_id: int, text: str, request: HttpRequest | None = None) -> BadReview:
    """反馈: the result of the rectification reported to the rater, who is asked to rate the fix."""
    review = _lock_review(user, review_id)
    _need(review, ReviewStatus.RECTIFIED)
    review.feedback = _note(text, "text", "反馈内容")
    review.fed_back_by, review.fed_back_at = user, clock.now()
    review.status = ReviewStatus.FED_BACK
    _save(review)
    _audit(Action.EVALUATION_FEEDBACK, _review_subject(review), user=user, request=request, details={})
    _notify(review, "feedback")
    return review


@transaction.atomic
def review_fix_rate(*, user: Any, case_id: int, fix_level: str, request: HttpRequest | None = None) -> BadReview:
    """The rater rates the fix (满意/基本满意/不满意); the loop ends."""
    case = _lock_case(case_id)
    _rater_check(user, case)
    review = (BadReview.objects.select_for_update().select_related("rating")
              .filter(rating__case=case, rating__visit_ref="").first())
    if review is None:
        raise not_found()
    if review.status != ReviewStatus.FED_BACK:
        raise refuse("evaluation_fix_not_open", "目前没有待您评价的整改结果。", "There is no fix to rate now.", 409)
    if fix_level not in FixLevel.values:
        raise refuse("evaluation_fix_level_invalid", "请选择对整改结果的评价。", "Choose a level.", 422,
                     field="fix_level")
    review.fix_level, review.fix_rated_at = fix_level, clock.now()
    review.status, review.closed_at = ReviewStatus.CLOSED, clock.now()
    _save(review)
    _audit(Action.EVALUATION_FIX_RATE, _review_subject(review), user=user, request=request,
           details={"fix_level": fix_level})
    return review


@transaction.atomic
def review_appeal(*, user: Any, review_id: int, kind: str, reason: str,
                  request: HttpRequest | None = None) -> BadReview:
    """申诉: the department asks that a mistaken or malicious review be removed, with its reason; another
    supervisor decides."""
    review = _lock_review(user, review_id)
    _need(review, *OPEN_STATUSES)
    if kind not in APPEAL_KINDS:
        raise refuse("evaluation_appeal_kind", "请选择申诉理由类型。", "Choose the kind of appeal.", 422, field="kind")
    if review.appeal_status in (AppealStatus.REJECTED,):
        raise refuse("evaluation_appeal_once", "该差评的申诉已被复核驳回，不能再次申诉。",
                     "An appeal was already rejected.", 409)
    review.appeal_status, review.appeal_kind = AppealStatus.PENDING, kind
    review.appeal_reason = _note(reason, "reason", "申诉理由")
    review.appeal_by, review.appeal_at = user, clock.now()
    _save(review)
    _audit(Action.EVALUATION_APPEAL, _review_subject(review), user=user, request=request, details={"kind": kind})
    return review


@transaction.atomic
def review_appeal_decide(*, user: Any, review_id: int, approve: bool, note: str,
                         request: HttpRequest | None = None) -> BadReview:
    """复核: a second supervisor (never the one who appealed) approves — the rating is removed from the figures
    and publication, with the reason kept — or rejects, and the loop goes on."""
    review = _lock_review(user, review_id)
    if review.appeal_status != AppealStatus.PENDING:
        raise refuse("evaluation_no_appeal", "该差评没有待复核的申诉。", "No appeal is pending.", 409)
    if review.appeal_by_id == user.pk:
        raise refuse("evaluation_second_approver", "申诉须由另一名监督员复核，申诉人不能复核自己的申诉。",
                     "A second supervisor must decide the appeal.", 403)
    review.appeal_decision_note = _note(note, "note", "复核意见")
    review.appeal_decided_by, review.appeal_decided_at = user, clock.now()
    if approve:
        review.appeal_status = AppealStatus.APPROVED
        review.status, review.closed_at = ReviewStatus.REMOVED, clock.now()
        rating = Rating.objects.select_for_update().get(pk=review.rating_id)
        rating.removed_at = clock.now()
        rating.save(update_fields=["removed_at"])
    else:
        review.appeal_status = AppealStatus.REJECTED
    _save(review)
    _audit(Action.EVALUATION_APPEAL_DECIDE, _review_subject(review), user=user, request=request,
           details={"approved": bool(approve), "kind": review.appeal_kind, "appealed_by": review.appeal_by_id})
    if approve and review.rating.real_name and review.rating.rater_id is not None:
        _notify(review, "removed")
    return review


@transaction.atomic
def reviews_flag_overdue(*, today: dt.date | None = None) -> int:
    """Flag, once each, the rectifications past their deadline (audited); the number flagged."""
    today = today or clock.today_local()
    rows = list(BadReview.objects.select_for_update().filter(
        status=ReviewStatus.RECTIFYING, rectify_due_on__lt=today, overdue_at__isnull=True).order_by("pk"))
    for review in rows:
        review.overdue_at = clock.now()
        review.save(update_fields=["overdue_at"])
        _audit(Action.EVALUATION_OVERDUE, _review_subject(review), component="evaluation.overdue",
               details={"due": review.rectify_due_on.isoformat() if review.rectify_due_on else None})
    return len(rows)


def rater_contact_read(*, user: Any, review_id: int, request: HttpRequest | None = None) -> dict[str, str]:
    """For the visit back: the rater's name and phone, shown to the supervisor (never to the handler) and
    audited as a read of personal data. Empty for an anonymous review."""
    with transaction.atomic():
        review = _lock_review(user, review_id)
        rating = review.rating
        if not rating.real_name or rating.rater_id is None:
            return {}
        from tongban.accounts.models import CitizenProfile

        profile = CitizenProfile.objects.filter(user_id=rating.rater_id, closed_at__isnull=True).first()
        _audit(Action.EVALUATION_RATER_READ, _review_subject(review), user=user, request=request,
               details={"fields": ["name", "phone"]})
        if profile is None:
            return {}
        return {"name": str(profile.name or ""), "phone": str(profile.phone or "")}


# -- notices ---------------------------------------------------------------------------------------------


def _notify(review: BadReview, kind: str) -> None:
    outbox_send(channel=NOTICE_CHANNEL, payload={"review_id": review.pk, "kind": kind},
                idempotency_key=f"evaluation:{review.pk}:{kind}:{int(review.updated_at.timestamp())}")
