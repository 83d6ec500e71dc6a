"""The point and handling rules on their edge days (pure functions: no database)."""

from __future__ import annotations

import datetime as dt

from tongban.payments.fees import late_fee_fen
from tongban.violations import rules
from tongban.violations.rules import PointEvent, standing

D = dt.date
ANCHOR = D(2020, 3, 15)  # first issue of the licence


def test_cycle_runs_12_months_from_first_issue_jifen_banfa_art3():
    assert rules.cycle_of(ANCHOR, D(2026, 3, 14)) == (D(2025, 3, 15), D(2026, 3, 15))
    assert rules.cycle_of(ANCHOR, D(2026, 3, 15)) == (D(2026, 3, 15), D(2027, 3, 15))
    # first issued on 29 February: the cycle of a common year starts on 1 March
    assert rules.cycle_of(D(2020, 2, 29), D(2025, 2, 28)) == (D(2024, 2, 29), D(2025, 3, 1))
    assert rules.cycle_of(D(2020, 2, 29), D(2025, 3, 1)) == (D(2025, 3, 1), D(2026, 3, 1))


def test_points_below_12_cleared_at_cycle_end_jifen_banfa_art18():
    events = [PointEvent(on=D(2025, 6, 1), points=6, fine_paid_on=D(2025, 6, 3))]
    assert standing(events, anchor=ANCHOR, on=D(2026, 3, 14)).points == 6  # the cycle's last day
    assert standing(events, anchor=ANCHOR, on=D(2026, 3, 15)).points == 0  # the next cycle's first day


def test_unpaid_fine_points_carry_into_next_cycle_jifen_banfa_art18():
    unpaid = [PointEvent(on=D(2025, 6, 1), points=3), PointEvent(on=D(2025, 7, 1), points=2, fine_paid_on=D(2025, 7, 2))]
    after = standing(unpaid, anchor=ANCHOR, on=D(2026, 3, 15))
    assert (after.points, after.carried) == (3, 3)  # only the unpaid one goes on
    # paid on the cycle's last day: cleared; paid on the next cycle's first day: too late, carried
    paid_last_day = [PointEvent(on=D(2025, 6, 1), points=3, fine_paid_on=D(2026, 3, 14))]
    paid_next_day = [PointEvent(on=D(2025, 6, 1), points=3, fine_paid_on=D(2026, 3, 15))]
    assert standing(paid_last_day, anchor=ANCHOR, on=D(2026, 3, 15)).points == 0
    assert standing(paid_next_day, anchor=ANCHOR, on=D(2026, 3, 15)).points == 3
    # carried and then paid: cleared at the end of the cycle it was carried into
    assert standing(paid_next_day, anchor=ANCHOR, on=D(2027, 3, 14)).points == 3
    assert standing(paid_next_day, anchor=ANCHOR, on=D(2027, 3, 15)).points == 0


def test_full_score_not_cleared_by_cycle_end_until_exam_jifen_banfa_art19_art23():
    events = [PointEvent(on=D(2026, 1, 5), points=6, fine_paid_on=D(2026, 1, 6)),
              PointEvent(on=D(2026, 2, 5), points=6, fine_paid_on=D(2026, 2, 6))]
    assert standing(events, anchor=ANCHOR, on=D(2026, 3, 15)).points == 12
    assert standing(events, anchor=ANCHOR, on=D(2026, 4, 1), cleared_on=D(2026, 4, 1)).points == 0


def test_online_only_up_to_200_yuan_jiaotong_anquan_fa_art107_chuli_guiding_art42():
    assert rules.online_eligibility(fine_fen=20_000, points=0, current_points=0).online
    verdict = rules.online_eligibility(fine_fen=20_001, points=0, current_points=0)
    assert (verdict.online, verdict.reason) == (False, "fine_over_limit")


def test_online_only_while_points_stay_below_12_jifen_banfa_art19():
    assert rules.online_eligibility(fine_fen=20_000, points=6, current_points=5).online  # 11
    verdict = rules.online_eligibility(fine_fen=20_000, points=6, current_points=6)  # 12
    assert (verdict.online, verdict.reason) == (False, "full_score")
    assert rules.online_eligibility(fine_fen=100, points=0, current_points=0, held=True).reason == "licence_held"


def test_full_score_study_days_7_then_more_for_repeats_jifen_banfa_art20():
    assert rules.full_score_study_days(times_in_cycle=1, total_points=12) == 7
    assert rules.full_score_study_days(times_in_cycle=1, total_points=23) == 7
    assert rules.full_score_study_days(times_in_cycle=1, total_points=24) == 14
    assert rules.full_score_study_days(times_in_cycle=2, total_points=12) == 14
    assert rules.full_score_study_days(times_in_cycle=3, total_points=12) == 21
    assert rules.full_score_study_days(times_in_cycle=1, total_points=36) == 21
    assert rules.full_score_study_days(times_in_cycle=1, total_points=12, licence_class="A1") == 30


def test_study_reduces_at_most_6_per_cycle_jifen_banfa_art28_art30():
    assert rules.study_reduction(kind="onsite", current_points=9, reduced_in_cycle=4) == 2  # reaches 6
    assert rules.study_reduction(kind="onsite", current_points=9, reduced_in_cycle=5) == 1  # capped
    assert rules.study_reduction(kind="online", current_points=9, reduced_in_cycle=6) == 0
    assert rules.study_reduction(kind="onsite", current_points=1, reduced_in_cycle=0) == 1  # not below zero
    assert rules.study_reduction(kind="online", current_points=12, reduced_in_cycle=0) == 0  # full score: no
    events = [PointEvent(on=D(2026, 1, 5), points=9, fine_paid_on=D(2026, 1, 5)),
              PointEvent(on=D(2026, 2, 5), points=-2, kind="study"),
              PointEvent(on=D(2026, 2, 6), points=-2, kind="study")]
    now = standing(events, anchor=ANCHOR, on=D(2026, 3, 14))
    assert (now.points, now.reduced) == (5, 4)
    # reductions belong to their cycle: the next cycle starts with a fresh allowance
    assert standing(events, anchor=ANCHOR, on=D(2026, 3, 15)).reduced == 0


def test_fine_due_in_15_days_then_3_percent_a_day_capped_xingzheng_chufa_fa_art67_art72():
    served = D(2026, 12, 1)
    assert rules.pay_by(served) == D(2026, 12, 16)
    assert late_fee_fen(fine_fen=20_000, served_on=served, paid_on=rules.pay_by(served)) == 0
    assert late_fee_fen(fine_fen=20_000, served_on=served, paid_on=D(2026, 12, 17)) == 600
    assert late_fee_fen(fine_fen=20_000, served_on=served, paid_on=D(2027, 2, 1)) == 20_000


def test_elsewhere_uses_the_standard_of_where_it_happened_chuli_guiding_art22():
    assert rules.standard("1625", "33").fine_fen == 15_000  # type: ignore[union-attr]
    assert rules.standard("1625", "44").fine_fen == 20_000  # type: ignore[union-attr]
    assert rules.standard("1039", "62").fine_fen == 10_000  # type: ignore[union-attr]  (no table: national default)
    assert rules.standard("9999", "44") is None
