"""The rules of handling a traffic violation, as pure functions over dates and numbers (no database), so each
can be tested on its edge days. The services feed them from the handling system's records.

Sources: 道路交通安全违法行为记分管理办法 (公安部令第163号, "记分办法"), 道路交通安全违法行为处理程序规定
(公安部令第105号, 第157号修订, "处理程序规定"), 机动车驾驶证申领和使用规定 (公安部令第162号), 道路交通安全法,
行政处罚法. Article numbers are those of the texts in force in 2026; docs/violations.md lists them.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

FULL_SCORE = 12  # 记分办法 第三条: 记分周期为12个月，满分为12分
ONLINE_FINE_LIMIT_FEN = 20_000  # 道路交通安全法 第一百零七条 / 处理程序规定 第四十二条: 简易程序, 200 元以下罚款
STUDY_REDUCTION_CAP = 6  # 记分办法 第二十八条: 一个记分周期内累计最高扣减6分
PAY_WITHIN_DAYS = 15  # 行政处罚法 第六十七条; 道路交通安全法 第一百零九条
LARGE_CLASSES = frozenset({"A1", "A2", "A3", "B1", "B2"})  # 大型客车、牵引车、城市公交车、中型客车、大型货车


# -- standards (codes, points, each province's fines) ------------------------------------------------------


@dataclass(frozen=True)
class Standard:
    code: str
    description: str
    points: int
    fine_fen: int
    province: str  # the province whose standard this is (2 digits)


@lru_cache(maxsize=1)
def _standards() -> dict[str, Any]:
    return json.loads((Path(__file__).parent / "data" / "standards.json").read_text("utf-8"))  # type: ignore[no-any-return]


def codes() -> dict[str, dict[str, Any]]:
    return _standards()["codes"]  # type: ignore[no-any-return]


def standard(code: str, province: str) -> Standard | None:
    """The fine and points of violation `code` by the standard of `province` (the place it happened:
    处理程序规定 第二十二条 — handled elsewhere, still the standard of where it happened)."""
    data = _standards()
    entry = data["codes"].get(code)
    if entry is None:
        return None
    table = data["provinces"].get(province) or data["provinces"]["default"]
    fine = table.get(code, data["provinces"]["default"].get(code))
    if fine is None:
        return None
    return Standard(code=code, description=entry["description"], points=int(entry["points"]), fine_fen=int(fine),
                    province=province if province in data["provinces"] else "default")


def province_name(code: str) -> str:
    return str(_standards()["province_names"].get(code, code))


def province_of_plate(plate: str) -> str:
    """The province code a plate was issued in (its first character), '' if unknown."""
    return str(_standards()["plate_provinces"].get(plate[:1], ""))


# -- the scoring cycle -------------------------------------------------------------------------------------


def _anniversary(anchor: dt.date, years: int) -> dt.date:
    """`anchor` plus whole years; 29 February falls on 1 March in a common year (12 months after 28 Feb
    would end a day early)."""
    try:
        return anchor.replace(year=anchor.year + years)
    except ValueError:
        return dt.date(anchor.year + years, 3, 1)


def cycle_of(anchor: dt.date, day: dt.date) -> tuple[dt.date, dt.date]:
    """The scoring cycle holding `day`: [start, end), 12 months each, counted on from the licence's first
    issue (`anchor`: the first issue date or any cycle start). 记分办法 第三条."""
    years = day.year - anchor.year
    start = _anniversary(anchor, years)
    if start > day:
        years -= 1
        start = _anniversary(anchor, years)
    return start, _anniversary(anchor, years + 1)


@dataclass(frozen=True)
class PointEvent:
    """One change to a licence's points: a violation's points (positive; `fine_paid_on` None while its fine is
    unpaid) or a study reduction (negative)."""

    on: dt.date
    points: int
    kind: str = "violation"  # violation | study
    fine_paid_on: dt.date | None = None
    ref: str = ""
    at: dt.datetime | None = None  # when it was made (events the same day as a clearance: before or after it)

    def moment(self) -> dt.datetime:
        return self.at or _midnight(self.on)


def _midnight(day: dt.date) -> dt.datetime:
    from zoneinfo import ZoneInfo

    return dt.datetime.combine(day, dt.time.min, tzinfo=ZoneInfo("Asia/Shanghai"))


@dataclass(frozen=True)
class Standing:
    points: int  # counted in the cycle holding `on`
    cycle_start: dt.date
    cycle_end: dt.date  # exclusive
    reduced: int  # study reductions already made in this cycle (positive number)
    carried: int  # points carried over from earlier cycles (unpaid fines, or a full score not yet cleared)


def standing(events: Iterable[PointEvent], *, anchor: dt.date, on: dt.date,
             cleared_on: dt.date | dt.datetime | None = None) -> Standing:
    """The licence's points on day `on`.

    - Each event counts in the cycle its day falls in (记分办法 第三条).
    - At a cycle's end, points below 12 are cleared, except a violation's whose fine was still unpaid at the
      end: those go on into the next cycle (记分办法 第十八条). A paid fine's points clear at the end of the
      cycle they are then in.
    - Points at 12 or more are not cleared by the cycle's end: they stay until the full-score study and exam
      clear them (记分办法 第十九条, 第二十三条): `cleared_on`, the day (or moment) they were cleared; events
      before it no longer count.
    """
    start, end = cycle_of(anchor, on)
    cleared = (cleared_on if isinstance(cleared_on, dt.datetime) or cleared_on is None else _midnight(cleared_on))
    relevant = sorted((e for e in events if e.on <= on and (cleared is None or e.moment() >= cleared)),
                      key=lambda e: e.on)
    if not relevant:
        return Standing(0, start, end, 0, 0)
    c_start, c_end = cycle_of(anchor, relevant[0].on)
    carry: list[PointEvent] = []
    while True:
        own = [e for e in relevant if c_start <= e.on < c_end]
        total = sum(e.points for e in carry) + sum(e.points for e in own)
        if c_start == start:
            reduced = -sum(e.points for e in own if e.kind == "study")
            return Standing(max(total, 0), start, end, reduced, sum(e.points for e in carry))
        if total >= FULL_SCORE:
            carry = carry + [e for e in own if e.kind == "violation"]
        else:
            carry = [e for e in carry + own
                     if e.kind == "violation" and (e.fine_paid_on is None or e.fine_paid_on >= c_end)]
        c_start, c_end = cycle_of(anchor, c_end)


# -- online handling -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Eligibility:
    online: bool
    reason: str = ""  # why not: fine_over_limit | full_score | licence_not_normal | licence_held | handled
    message: str = ""


def online_eligibility(*, fine_fen: int, points: int, current_points: int, licence_normal: bool = True,
                       held: bool = False) -> Eligibility:
    """Whether a violation may be handled online.

    Online handling is the 简易程序: a warning or a fine of at most 200 元 (道路交通安全法 第一百零七条;
    处理程序规定 第四十二条). Reaching 12 points means the licence is held and a full-score notice served
    (记分办法 第十九条), which the platform cannot do: the driver's points plus this violation's must stay
    below 12. A held or not-normal licence goes to the counter too.
    """
    from django.utils.translation import gettext as _

    if held:
        return Eligibility(False, "licence_held", _("驾驶证因记分满分被扣押，须完成满分学习和考试后再处理。"))
    if not licence_normal:
        return Eligibility(False, "licence_not_normal", _("驾驶证状态不正常，请到公安交管部门窗口处理。"))
    if fine_fen > ONLINE_FINE_LIMIT_FEN:
        return Eligibility(False, "fine_over_limit", _("罚款超过200元，不能网上处理，请到公安交管部门窗口处理。"))
    if current_points + points >= FULL_SCORE:
        return Eligibility(False, "full_score",
                           _("处理后累积记分将达到12分，不能网上处理，请到公安交管部门窗口处理。"))
    return Eligibility(True)


# -- full score and study --------------------------------------------------------------------------------------


def full_score_study_days(*, times_in_cycle: int, total_points: int, licence_class: str = "") -> int:
    """Days of full-score study (满分学习). 记分办法 第二十条: 7 days the first time in a cycle (30 for drivers of
    large buses and lorries); 14 days the second time or for 24–35 points; 21 days the third time or more, or for
    36 points or more."""
    if times_in_cycle >= 3 or total_points >= 36:
        days = 21
    elif times_in_cycle == 2 or total_points >= 24:
        days = 14
    else:
        days = 7
    if licence_class.upper()[:2] in LARGE_CLASSES:
        days = max(days, 30)
    return days


STUDY_KINDS = {"online": 1, "onsite": 2}  # 记分办法 第三十条: 网上学习一次减1分, 现场学习一次减2分


def study_reduction(*, kind: str, current_points: int, reduced_in_cycle: int) -> int:
    """Points one completed study (学法减分) takes off: its value, but never beyond the 6 a cycle allows
    (记分办法 第二十八条) nor below zero; 0 when nothing may be reduced."""
    value = STUDY_KINDS[kind]
    if current_points <= 0 or current_points >= FULL_SCORE:
        return 0
    return max(0, min(value, STUDY_REDUCTION_CAP - reduced_in_cycle, current_points))


def pay_by(served_on: dt.date) -> dt.date:
    """The last day to pay a fine without the surcharge: 15 days from service (行政处罚法 第六十七条; the
    surcharge, 第七十二条, is computed by tongban.payments.fees.late_fee_fen)."""
    return served_on + dt.timedelta(days=PAY_WITHIN_DAYS)
