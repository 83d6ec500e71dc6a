"""Reads on evaluations with the reader's rights applied: the applicant's own rating of a case, a supervisor's bad
reviews (department and region, never a case they handled), and the figures — satisfaction per item,
department, region and month, the bad-review and rectification rates — which carry no personal data.

An officer has no read here that names a rater: ratings reach officers only as figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncMonth

from tongban.core import clock
from tongban.evaluation.models import BAD_LEVELS, OPEN_STATUSES, BadReview, Rating, ReviewStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")


def rating_of_case(case_id: int, visit_ref: str = "") -> Rating | None:
    """The case's rating (the caller has checked the reader is its applicant)."""
    return Rating.objects.filter(case_id=case_id, visit_ref=visit_ref).first()


def review_of_rating(rating: Rating | None) -> BadReview | None:
    if rating is None:
        return None
    return BadReview.objects.filter(rating=rating).first()


def _supervisor_scope(user: Any) -> tuple[str, str] | None:
    from tongban.accounts.roles import StaffRole

    if user is None or not getattr(user, "is_authenticated", False) or not hasattr(user, "has_role"):
        return None
    if not user.has_role(StaffRole.SUPERVISOR) or not user.department or not user.region_code:
        return None
    return user.department, user.region_code


def reviews_for_supervisor(user: Any) -> QuerySet[BadReview]:
    """Bad reviews in the supervisor's department and region, minus those of cases they handled."""
    from tongban.accounts.regions import region_prefix

    scope = _supervisor_scope(user)
    if scope is None:
        return BadReview.objects.none()
    department, region = scope
    return (BadReview.objects.select_related("rating")
            .filter(department=department, region_code__startswith=region_prefix(region))
            .exclude(rating__handler_id=user.pk)
            .order_by("-created_at", "-id"))


def review_for_supervisor(user: Any, review_id: int) -> BadReview | None:
    from tongban.evaluation.services import supervisor_may_act

    review = reviews_for_supervisor(user).select_related("rating__case").filter(pk=review_id).first()
    if review is None or not supervisor_may_act(user, review):
        return None
    return review


def is_overdue(review: BadReview, today: dt.date | None = None) -> bool:
    today = today or clock.today_local()
    return (review.status == ReviewStatus.RECTIFYING and review.rectify_due_on is not None
            and review.rectify_due_on < today)


def overdue_filter(today: dt.date | None = None) -> Q:
    return Q(status=ReviewStatus.RECTIFYING, rectify_due_on__lt=today or clock.today_local())


# -- figures -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    total: int
    score_sum: int
    satisfied: int  # 非常满意, 满意, 基本满意
    bad: int  # 不满意, 非常不满意
    rectified: int  # bad reviews rectified (整改完成)

    @property
    def average(self) -> float:
        return round(self.score_sum / self.total, 2) if self.total else 0.0

    @property
    def satisfaction_rate(self) -> float:
        return round(100 * self.satisfied / self.total, 1) if self.total else 0.0

    @property
    def bad_rate(self) -> float:
        return round(100 * self.bad / self.total, 2) if self.total else 0.0

    @property
    def rectification_rate(self) -> float:
        return round(100 * self.rectified / self.bad, 1) if self.bad else 100.0


def published_ratings() -> QuerySet[Rating]:
    """Every rating that counts: those removed on appeal do not."""
    return Rating.objects.filter(removed_at__isnull=True)


def month_range(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(month.year, month.month, 1, tzinfo=SHANGHAI)
    end = dt.datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=SHANGHAI)
    return start, end


def in_month(rows: QuerySet[Rating], month: dt.date) -> QuerySet[Rating]:
    start, end = month_range(month)
    return rows.filter(created_at__gte=start, created_at__lt=end)


def ratings_in_scope(user: Any) -> QuerySet[Rating]:
    """The ratings a supervisor's figures cover (department and region)."""
    from tongban.accounts.regions import region_prefix

    scope = _supervisor_scope(user)
    if scope is None:
        return Rating.objects.none()
    department, region = scope
    return published_ratings().filter(department=department, region_code__startswith=region_prefix(region))


_RECTIFIED = Q(review__rectified_at__isnull=False) & Q(level__in=sorted(BAD_LEVELS))


def figures(rows: QuerySet[Rating], by: str) -> list[Figure]:
    """Figures grouped by "item", "department", "region" or "month" (one query)."""
    from tongban.accounts.regions import region_name
    from tongban.accounts.roles import Department

    aggregates = {"total": Count("id"), "score_sum": Sum("level"),
                  "satisfied": Count("id", filter=Q(level__gte=3)),
                  "bad": Count("id", filter=Q(level__in=sorted(BAD_LEVELS))),
                  "rectified": Count("id", filter=_RECTIFIED)}
    grouped: Any
    if by == "month":
        grouped = (rows.annotate(month=TruncMonth("created_at", tzinfo=SHANGHAI)).values("month")
                   .annotate(**aggregates).order_by("month"))
    elif by in _GROUPS:
        fields = _GROUPS[by]
        grouped = rows.values(*fields).annotate(**aggregates).order_by(*fields)
    else:
        raise ValueError(f"unknown grouping {by!r}")
    labels = dict(Department.choices)
    out = []
    for r in grouped:
        if by == "month":
            key = label = r["month"].strftime("%Y-%m") if r["month"] else ""
        elif by == "item":
            key, label = r["item_code"], r["item_title"]
        elif by == "department":
            key, label = r["department"], str(labels.get(r["department"], r["department"]))
        else:
            key, label = r["region_code"], region_name(r["region_code"]) or r["region_code"]
        out.append(Figure(key, label, r["total"], r["score_sum"] or 0, r["satisfied"], r["bad"], r["rectified"]))
    return out


_GROUPS = {"item": ("item_code", "item_title"), "department": ("department",), "region": ("region_code",)}


def totals(rows: QuerySet[Rating]) -> Figure:
    found = figures(rows, "department")
    return Figure("all", "合计", sum(f.total for f in found), sum(f.score_sum for f in found),
                  sum(f.satisfied for f in found), sum(f.bad for f in found), sum(f.rectified for f in found))


def level_counts(rows: QuerySet[Rating]) -> dict[int, int]:
    counts = {level: 0 for level in (5, 4, 3, 2, 1)}
    for row in rows.values("level").annotate(n=Count("id")):
        counts[int(row["level"])] = row["n"]
    return counts


def loop_counts(user: Any) -> dict[str, int]:
    reviews = reviews_for_supervisor(user)
    return {"open": reviews.filter(status__in=OPEN_STATUSES).count(),
            "overdue": reviews.filter(overdue_filter()).count(),
            "appeals": reviews.filter(appeal_status="pending").count()}
