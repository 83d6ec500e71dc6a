"""The evaluation's pages: rating from 我的办件, the SMS link (its token: wrong case, expired, tampered), the
public figures (no personal data), the supervisors' pages (the loop, the charts) closed to everyone else."""

from __future__ import annotations

import time

import pytest

from tests.accounts.factories import login_verified
from tongban.evaluation import services, tokens
from tongban.evaluation.models import BadReview, Channel, Rating, ReviewStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, citizen):
    client.force_login(citizen)
    return client


# -- the token ---------------------------------------------------------------------------------------------


def test_the_token_opens_its_own_case_only():
    token = tokens.link_token(101)
    tokens.link_check(101, token)
    with pytest.raises(tokens.LinkInvalid):
        tokens.link_check(102, token)  # another case


def test_the_token_expires():
    token = tokens.link_token(101, days=1)
    tokens.link_check(101, token, now=time.time() + 86400 - 60)
    with pytest.raises(tokens.LinkExpired):
        tokens.link_check(101, token, now=time.time() + 86400 + 60)


@pytest.mark.parametrize("change", ["mac", "expiry", "shape", "empty"])
def test_a_tampered_token_is_refused(change):
    token = tokens.link_token(101)
    expires, mac = token.split(".")
    tampered = {
        "mac": f"{expires}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
        "expiry": f"{int(expires, 36) + 86400 * 365:x}.{mac}",  # a later expiry with the old MAC
        "shape": token + ".x",
        "empty": "",
    }[change]
    with pytest.raises(tokens.LinkInvalid):
        tokens.link_check(101, tampered)


# -- the SMS link pages ------------------------------------------------------------------------------------


def test_the_sms_link_rates_that_case_without_signing_in(client, case, citizen):
    url = f"/rate/{case.pk}/{tokens.link_token(case.pk)}/"
    page = client.get(url)
    assert page.status_code == 200 and "评价本次服务" in page.content.decode()
    assert case.display_number in page.content.decode()
    response = client.post(url, {"level": "1", "tags": ["办理超时"], "comment": "跑了两趟"})
    assert response.status_code == 302
    rating = Rating.objects.get(case=case)
    assert rating.channel == Channel.SMS and rating.rater_id == citizen.pk and rating.level == 1
    assert BadReview.objects.get(rating=rating).status == ReviewStatus.ACCEPTED
    # The link does not sign anyone in: the rest of the account stays closed.
    assert client.get(f"/me/cases/{case.pk}/").status_code == 302


def test_the_sms_link_for_another_case_is_refused(client, case, item, citizen, officer):
    from tests.evaluation.conftest import closed_case

    other = closed_case(citizen, item, officer)
    response = client.get(f"/rate/{other.pk}/{tokens.link_token(case.pk)}/")
    assert response.status_code == 404 and "评价链接无效" in response.content.decode()
    assert client.post(f"/rate/{other.pk}/{tokens.link_token(case.pk)}/", {"level": "5"}).status_code == 404
    assert not Rating.objects.exists()


def test_an_expired_sms_link_says_so(client, case):
    token = tokens.link_token(case.pk, now=time.time() - 40 * 86400, days=30)
    response = client.get(f"/rate/{case.pk}/{token}/")
    assert response.status_code == 410 and "评价链接已过期" in response.content.decode()
    assert client.post(f"/rate/{case.pk}/{token}/", {"level": "5"}).status_code == 410
    assert not Rating.objects.exists()


def test_a_tampered_sms_link_is_refused(client, case):
    token = tokens.link_token(case.pk)
    response = client.post(f"/rate/{case.pk}/{token[:-2]}xx/", {"level": "5"})
    assert response.status_code == 404
    assert not Rating.objects.exists()


def test_the_closing_sms_carries_a_working_link(case, citizen, sms_sim):
    from tests.cases.conftest import drain

    drain()
    closing = [m.text for m in sms_sim.messages("13800009901") if "已办结" in m.text]
    assert len(closing) == 1
    link = closing[0].split("欢迎评价本次服务：")[1].strip()
    path = link.split("//", 1)[1].split("/", 1)[1]
    _, case_id, token, _ = path.split("/")
    assert int(case_id) == case.pk
    tokens.link_check(case.pk, token)


# -- 我的办件 ----------------------------------------------------------------------------------------------


def test_my_cases_leads_to_the_rating(signed_in, case):
    assert f"/me/cases/{case.pk}/rate/" in signed_in.get("/me/cases/").content.decode()
    assert f"/me/cases/{case.pk}/rate/" in signed_in.get(f"/me/cases/{case.pk}/").content.decode()


def test_rate_change_once_then_no_form(signed_in, case):
    url = f"/me/cases/{case.pk}/rate/"
    page = signed_in.get(url)
    assert page.status_code == 200 and 'name="level"' in page.content.decode()
    assert signed_in.post(url, {"level": "3", "tags": ["材料较多"]}).status_code == 302
    page = signed_in.get(url).content.decode()
    assert "修改评价（只能修改一次）" in page
    assert signed_in.post(url, {"level": "5"}).status_code == 302
    assert Rating.objects.get(case=case).level == 5
    page = signed_in.get(url).content.decode()
    assert 'name="level"' not in page  # the one change is used
    response = signed_in.post(url, {"level": "1", "tags": ["办理超时"]})
    assert response.status_code == 422 and "只能修改一次" in response.content.decode()
    assert Rating.objects.get(case=case).level == 5


def test_a_failed_rating_uses_the_error_pattern(signed_in, case):
    response = signed_in.post(f"/me/cases/{case.pk}/rate/", {"level": "1"})
    body = response.content.decode()
    assert response.status_code == 422
    assert "<title>错误：" in body and "差评请选择至少一个标签或写明原因" in body
    response = signed_in.post(f"/me/cases/{case.pk}/rate/", {})
    assert response.status_code == 422 and "请选择评价等级" in response.content.decode()


def test_another_citizen_finds_nothing(client, case):
    from tests.cases.conftest import make_citizen

    client.force_login(make_citizen(id_number="330106199808081239"))
    assert client.get(f"/me/cases/{case.pk}/rate/").status_code == 404
    assert client.post(f"/me/cases/{case.pk}/rate/", {"level": "5"}).status_code == 404


def test_the_rater_rates_the_fix_on_the_site(signed_in, case, citizen, supervisor):
    rating = services.rating_submit(user=citizen, case_id=case.pk, level=2, tags=["多次跑腿"])
    review = BadReview.objects.get(rating=rating)
    services.review_visit(user=supervisor, review_id=review.pk, note="回访属实")
    services.review_rectify(user=supervisor, review_id=review.pk, note="一次告知")
    services.review_feedback(user=supervisor, review_id=review.pk, text="已整改")
    url = f"/me/cases/{case.pk}/rate/"
    assert 'name="fix_level"' in signed_in.get(url).content.decode()
    assert signed_in.post(url, {"step": "fix", "fix_level": "satisfied"}).status_code == 302
    assert BadReview.objects.get(pk=review.pk).status == ReviewStatus.CLOSED


# -- the public figures --------------------------------------------------------------------------------------


def test_the_public_figures_show_the_month_without_personal_data(client, case, citizen):
    services.rating_submit(user=citizen, case_id=case.pk, level=1, tags=["办理超时"], comment="李四的投诉内容")
    page = client.get("/evaluation/")
    body = page.content.decode()
    assert page.status_code == 200
    assert 'data-total="1"' in body and "居民身份证换领补领" in body and "户政" in body
    assert 'id="bad-rate">100.0%' in body
    assert "李四" not in body and case.number not in body and "投诉内容" not in body
    assert client.get("/evaluation/?month=1999-01").status_code == 200
    assert client.get("/evaluation/?month=garbage").status_code == 200


# -- the supervisors' pages ----------------------------------------------------------------------------------


def test_the_supervisor_works_the_loop_in_the_back_office(client, case, citizen, supervisor, supervisor2):
    rating = services.rating_submit(user=citizen, case_id=case.pk, level=1, tags=["服务态度差"], comment="态度差")
    review = BadReview.objects.get(rating=rating)
    login_verified(client, supervisor)
    listing = client.get("/backoffice/evaluation/").content.decode()
    assert f'data-review="{review.pk}"' in listing
    url = f"/backoffice/evaluation/reviews/{review.pk}/"
    page = client.get(url).content.decode()
    assert "态度差" in page and "13800009901" not in page  # the contact only on asking
    shown = client.post(url, {"step": "contact"}).content.decode()
    assert "13800009901" in shown
    failed = client.post(url, {"step": "visit", "visit-note": ""})
    assert failed.status_code == 422 and "<title>错误：" in failed.content.decode()
    assert client.post(url, {"step": "visit", "visit-note": "已回访，属实。"}).status_code == 302
    assert client.post(url, {"step": "rectify", "rectify-note": "已整改。"}).status_code == 302
    assert client.post(url, {"step": "feedback", "feedback-text": "已整改，请评价。"}).status_code == 302
    assert BadReview.objects.get(pk=review.pk).status == ReviewStatus.FED_BACK
    stats = client.get("/backoffice/evaluation/stats/").content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg" role="img"' in stats and 'id="chart-months"' in stats
    assert "<title" in stats.split('id="chart-months"')[1][:300]


def test_the_appeal_in_the_back_office_needs_another_supervisor(client, case, citizen, supervisor, supervisor2):
    rating = services.rating_submit(user=citizen, case_id=case.pk, level=1, tags=["推诿扯皮"])
    review = BadReview.objects.get(rating=rating)
    url = f"/backoffice/evaluation/reviews/{review.pk}/"
    login_verified(client, supervisor)
    assert client.post(url, {"step": "appeal", "appeal-kind": "mistaken",
                             "appeal-reason": "评价的是另一窗口的办件。"}).status_code == 302
    page = client.get(url).content.decode()
    assert 'id="form-decide"' not in page and "申诉待另一名监督员复核" in page
    response = client.post(url, {"step": "decide", "decide-decision": "approve", "decide-note": "同意"})
    assert response.status_code == 422  # not the appellant
    client.logout()
    login_verified(client, supervisor2)
    assert 'id="form-decide"' in client.get(url).content.decode()
    assert client.post(url, {"step": "decide", "decide-decision": "approve",
                             "decide-note": "核实为误评。"}).status_code == 302
    assert Rating.objects.get(pk=rating.pk).removed_at is not None


def test_the_supervisor_pages_are_closed_to_others(client, case, citizen, officer):
    from tests.accounts.factories import make_staff
    from tongban.accounts.roles import StaffRole

    rating = services.rating_submit(user=citizen, case_id=case.pk, level=1, tags=["推诿扯皮"])
    review = BadReview.objects.get(rating=rating)
    for user in (officer, make_staff("sec", StaffRole.SECURITY_ADMIN)):
        login_verified(client, user)
        for path in ("/backoffice/evaluation/", "/backoffice/evaluation/stats/",
                     f"/backoffice/evaluation/reviews/{review.pk}/"):
            assert client.get(path).status_code == 404, (user.username, path)
        client.logout()
