"""The citizen's pages: apply (prefilled fields marked and not asked, errors in the shared pattern, a
review page), 我的办件 with its timeline, the correction loop, withdrawal, the message centre."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.cases.conftest import make_citizen, png_bytes
from tongban.cases.models import Case
from tongban.cases.services import case_act
from tongban.jobs.worker import Worker

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(client, citizen):
    client.force_login(citizen)
    return client


def _fill(client, case_id, **extra):
    data = {"reason": "damaged", "delivery_method": "pickup", "delivery_station": "受理地公安机关办证窗口",
            "next": "review", "material_photo": SimpleUploadedFile("photo.jpg", png_bytes(), "image/jpeg")}
    data.update(extra)
    return client.post(f"/me/cases/{case_id}/edit/", data)


def test_apply_review_submit_and_follow(signed_in, item, officer):
    client = signed_in
    start = client.get(f"/apply/{item.code}/")
    assert start.status_code == 200 and "开始申请" in start.content.decode()
    started = client.post(f"/apply/{item.code}/")
    case = Case.objects.get()
    assert started.status_code == 302 and started["Location"] == f"/me/cases/{case.pk}/edit/"
    page = client.get(f"/me/cases/{case.pk}/edit/").content.decode()
    # The name comes from the verified identity: shown as obtained, not asked.
    assert 'data-field="name"' in page and "张三" in page and "已核验" in page
    assert 'name="name"' not in page
    assert 'name="reason"' in page and 'name="material_photo"' in page
    # A failed submit: 422, the title starts with 错误：, an error summary linking to the field.
    bad = client.post(f"/me/cases/{case.pk}/edit/", {"delivery_method": "post", "next": "review"})
    body = bad.content.decode()
    assert bad.status_code == 422 and "<title>错误：" in body
    assert 'class="error-summary"' in body and 'href="#id_reason' in body
    assert 'aria-invalid="true"' in body and "邮寄送达请填写收件人" in body
    for radio in re.findall(r'<input type="radio" name="reason"[^>]*>', body):  # each radio names the error
        assert 'aria-describedby="id_reason_error' in radio, radio
    good = _fill(client, case.pk)
    assert good.status_code == 302 and good["Location"] == f"/me/cases/{case.pk}/review/"
    review = client.get(good["Location"]).content.decode()
    assert "损坏换领" in review and "平台已获取" in review and "本人近期证件照" in review
    submitted = client.post(f"/me/cases/{case.pk}/review/")
    assert submitted.status_code == 302
    case.refresh_from_db()
    assert case.state == "submitted" and case.number
    detail = client.get(f"/me/cases/{case.pk}/").content.decode()
    assert case.display_number in detail and "待受理" in detail and 'id="withdraw"' in detail
    listing = client.get("/me/cases/").content.decode()
    assert f'data-case="{case.pk}"' in listing and "待受理" in listing
    # The officer returns it for correction: the page says exactly what is missing, and the loop closes.
    case_act(user=officer, case_id=case.pk, action="return_for_correction", missing=["证件照须为白色背景"])
    detail = client.get(f"/me/cases/{case.pk}/").content.decode()
    assert "证件照须为白色背景" in detail and 'data-status="suspended"' in detail
    again = _fill(client, case.pk, material_photo=SimpleUploadedFile("p.png", png_bytes(color="white"), "image/png"))
    assert again.status_code == 302
    assert client.post(f"/me/cases/{case.pk}/review/").status_code == 302
    case.refresh_from_db()
    assert case.state == "submitted" and case.corrections_used == 1
    # Notices: the message centre lists them.
    worker = Worker(worker_id="tests")
    while worker.run_once():
        pass
    inbox = client.get("/me/messages/").content.decode()
    assert "需要补正" in inbox and "未读" in inbox
    client.post("/me/messages/")
    assert "没有未读消息" in client.get("/me/messages/").content.decode()


def test_withdraw_from_the_page_and_strangers_get_404(signed_in, item, citizen):
    client = signed_in
    client.post(f"/apply/{item.code}/")
    case = Case.objects.get()
    _fill(client, case.pk)
    client.post(f"/me/cases/{case.pk}/review/")
    assert client.post(f"/me/cases/{case.pk}/withdraw/").status_code == 302
    case.refresh_from_db()
    assert case.state == "withdrawn"
    other = make_citizen(id_number="330106198001011230")
    client.force_login(other)
    for url in (f"/me/cases/{case.pk}/", f"/me/cases/{case.pk}/edit/", f"/me/cases/{case.pk}/result.pdf"):
        assert client.get(url).status_code == 404
    assert client.post(f"/me/cases/{case.pk}/withdraw/").status_code == 404


def test_low_level_applicant_is_told_why(client, item, db):
    low = make_citizen(level=1, id_number="330106199909091235")
    client.force_login(low)
    response = client.post(f"/apply/{item.code}/")
    body = response.content.decode()
    assert response.status_code == 422 and "L2" in body and "<title>错误：" in body
    assert Case.objects.count() == 0


def test_anonymous_is_sent_to_login(client, item):
    response = client.get("/me/cases/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get(f"/apply/{item.code}/").status_code == 200  # the entry page is public
    assert client.get("/apply/NOPE/").status_code == 404


def test_list_query_count_is_pinned(signed_in, item, django_assert_max_num_queries):
    client = signed_in
    for _ in range(3):
        client.post(f"/apply/{item.code}/")
    with django_assert_max_num_queries(8):
        page = client.get("/me/cases/")
    assert len(re.findall(r"data-case=", page.content.decode())) == 3
