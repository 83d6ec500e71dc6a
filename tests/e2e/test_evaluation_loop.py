"""好差评 in the browser: a citizen gives a finished case a bad review from 我的办件; a supervisor visits back,
records the rectification and reports back in the staff site; the citizen rates the fix. Every page state on
the way passes axe-core at phone and desktop widths (tests/e2e/a11y.py; docs/evaluation.md)."""

from __future__ import annotations

import pytest

from tests.e2e.a11y import Visit, accessibility_problems, failed, walk

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

PHONE = "13900000161"


def _citizen_sign_in(page, base: str) -> None:
    from tests.sso.conftest import PASSWORD

    page.goto(base + "/login/")
    page.fill("#id_username", PHONE)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/me/" in page.url, page.url


def _staff_sign_in(page, base: str, user) -> None:
    from tests.accounts.factories import PASSWORD, device_of, totp_code

    page.goto(base + "/backoffice/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.fill("#id_token", totp_code(device_of(user)))
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url == base + "/backoffice/", page.url


def _submit(page, selector: str) -> None:
    with page.expect_navigation():
        page.click(selector)


def test_a_bad_review_round_the_loop_to_the_rating_of_the_fix(browser, live_server):
    from tests.accounts.factories import make_officer
    from tests.cases.conftest import make_item
    from tests.evaluation.conftest import closed_case, make_supervisor
    from tests.sso.conftest import make_person
    from tongban.cases.catalog_bridge import withdraw_item
    from tongban.evaluation.models import BadReview, Rating, ReviewStatus

    item = make_item("EV-E2E")
    person = make_person("rater", phone=PHONE, level=2, name="周评价")
    officer = make_officer("handler_e2e", department="hukou", region_code="330100")
    supervisor = make_supervisor("sup_e2e")
    case = closed_case(person, item, officer)
    base = live_server.url
    rate = f"/me/cases/{case.pk}/rate/"
    citizen = browser.new_context(locale="zh-CN").new_page()
    staff = browser.new_context(locale="zh-CN").new_page()
    try:
        # The citizen: 我的办件 → the rating page; an empty submit and a bad review without a reason fail.
        _citizen_sign_in(citizen, base)
        problems = walk(citizen, base, [
            Visit("/me/cases/"), Visit(f"/me/cases/{case.pk}/"), Visit(rate), failed(rate),
            failed(rate, tick=("#id_level_4",)),
        ])
        citizen.goto(base + "/me/cases/")
        _submit(citizen, f'li[data-case="{case.pk}"] a.rate-link')
        assert citizen.url == base + rate
        citizen.check("#id_level_4")  # 非常不满意
        citizen.locator('input[name=tags][value="多次跑腿"]').last.check()
        citizen.fill("#id_comment", "同一份材料让我交了两次。")
        _submit(citizen, "#rate-submit")
        assert "差评已受理" in citizen.locator(".messages").inner_text()
        problems += accessibility_problems(citizen)
        review = BadReview.objects.get(rating__case=case)
        assert review.status == ReviewStatus.ACCEPTED

        # The supervisor: the list, the review, the rater's contact on asking, visit back, rectify, report back.
        _staff_sign_in(staff, base, supervisor)
        detail = f"/backoffice/evaluation/reviews/{review.pk}/"
        problems += walk(staff, base, [
            Visit("/backoffice/"), Visit("/backoffice/evaluation/"), Visit("/backoffice/evaluation/?status=all"),
            Visit(detail), failed(detail), Visit("/backoffice/evaluation/stats/"),
        ])
        staff.goto(base + "/backoffice/evaluation/")
        _submit(staff, f'tr[data-review="{review.pk}"] a')
        assert "同一份材料让我交了两次" in staff.locator("#comment").inner_text()
        _submit(staff, "#show-contact")
        assert "139****0161" in staff.locator("#contact").inner_text() or PHONE in staff.locator("#contact").inner_text()
        problems += accessibility_problems(staff)
        staff.fill("#id_visit-note", "已电话回访，评价人反映属实：材料重复提交。")
        _submit(staff, "#submit-visit")
        assert staff.locator("#review-status").get_attribute("data-status") == "rectifying"
        assert staff.locator("#due").count() == 1
        problems += accessibility_problems(staff)
        staff.fill("#id_rectify-note", "共享已提交材料，窗口不再重复收取。")
        _submit(staff, "#submit-rectify")
        staff.fill("#id_feedback-text", "已整改：已提交的材料不再重复收取。")
        _submit(staff, "#submit-feedback")
        assert staff.locator("#review-status").get_attribute("data-status") == "fed_back"
        problems += accessibility_problems(staff)

        # The citizen rates the fix.
        citizen.goto(base + rate)
        assert "不再重复收取" in citizen.locator("#feedback").inner_text()
        problems += accessibility_problems(citizen)
        citizen.check("#id_fix_level_0")  # 满意
        _submit(citizen, "#fix-submit")
        assert "感谢您对整改结果的评价" in citizen.locator(".messages").inner_text()
        assert citizen.locator("#fix-level").inner_text() == "满意"
        problems += accessibility_problems(citizen)
        review.refresh_from_db()
        assert review.status == ReviewStatus.CLOSED and review.fix_level == "satisfied"
        assert Rating.objects.get(case=case).level == 1

        # The month's public figures show it (and nothing personal).
        citizen.goto(base + "/evaluation/")
        assert citizen.locator("#totals").get_attribute("data-total") == "1"
        assert citizen.locator("#rectification-rate").inner_text() == "100.0%"
        assert "周评价" not in citizen.locator("main").inner_text()
        problems += accessibility_problems(citizen)
    finally:
        citizen.context.close()
        staff.context.close()
        withdraw_item(item.code)
    assert not problems, f"{len(problems)} accessibility problems:\n" + "\n".join(problems)
