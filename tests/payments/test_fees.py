"""The fee tables, the late fee of a fine on its edges, amounts in figures and capitals, number formats."""

from __future__ import annotations

import datetime as dt

import pytest

from tongban.cases.numbers import damm
from tongban.payments import fees, numbers

SERVED = dt.date(2026, 11, 1)


def late(fine: int, day: int) -> int:
    """The late fee of a fine paid `day` days after the date of service."""
    return fees.late_fee_fen(fine_fen=fine, served_on=SERVED, paid_on=SERVED + dt.timedelta(days=day))


def test_no_late_fee_up_to_day_15():
    assert late(20000, 0) == 0
    assert late(20000, 15) == 0


def test_day_16_owes_three_percent():
    assert late(20000, 16) == 600
    assert late(20000, 17) == 1200


def test_capped_at_the_fine():
    # 200 元 paid 40 days late (day 55): 40 x 3 % = 120 % -> capped at 200 元.
    assert late(20000, 15 + 40) == 20000
    # The cap is reached on day 15 + 34 (102 %), and 33 days late is still under it (99 %).
    assert late(20000, 15 + 33) == 19800
    assert late(20000, 15 + 34) == 20000
    assert late(20000, 400) == 20000


def test_rounds_down_to_the_fen_in_integers():
    assert late(3333, 16) == 99  # 99.99 fen -> 99
    assert isinstance(late(3333, 16), int)


def test_seven_categories_with_real_amounts():
    cats = fees.categories()
    assert len(cats) == 7
    assert {"vehicle_docs", "temporary_entry", "driving_exam", "traffic_fine", "resident_id", "exit_entry",
            "residence_permit"} == set(cats)
    assert cats["resident_id"].item("id_apply").fen == 2000  # type: ignore[union-attr]
    assert cats["resident_id"].item("id_replace").fen == 4000  # type: ignore[union-attr]
    assert cats["exit_entry"].item("passport").fen == 12000  # type: ignore[union-attr]
    assert cats["traffic_fine"].decision
    for cat in cats.values():
        for item in cat.items:
            assert item.fen is None or (isinstance(item.fen, int) and item.fen > 0)


@pytest.mark.parametrize(("fen", "text"), [
    (0, "零元整"), (20000, "贰佰元整"), (20050, "贰佰元伍角整"), (40001, "肆佰元零壹分"), (12345, "壹佰贰拾叁元肆角伍分"),
    (100000000, "壹佰万元整"), (1000500, "壹万零伍元整"), (4000, "肆拾元整"), (10000010, "壹拾万元壹角整"),
])
def test_capitals(fen, text):
    assert fees.capitals(fen) == text


def test_yuan():
    assert fees.yuan(12345) == "123.45"
    assert fees.yuan(5) == "0.05"


@pytest.mark.django_db
def test_number_formats_come_from_configuration(settings):
    number = numbers.allocate("notice", region="440106", day=dt.date(2026, 12, 6))
    assert len(number) == 20 and number.startswith("440106261206") and damm(number) == 0
    assert numbers.checks_out("notice", number)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not numbers.checks_out("notice", wrong)
    conf = dict(settings.TONGBAN_PAYMENTS)
    conf["NUMBERS"] = {**conf["NUMBERS"], "notice": {"label": "缴款码", "accept": r"^\d{22}$",
                                                     "layout": "{region}{date}{seq:09d}", "check": True}}
    settings.TONGBAN_PAYMENTS = conf
    longer = numbers.allocate("notice", region="440106", day=dt.date(2026, 12, 6))
    assert len(longer) == 22 and numbers.checks_out("notice", longer)
    assert not numbers.checks_out("notice", number)
