"""The service hall's pages: results with filters and paging, the guide, the plain "not open yet" page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tongban.search.models import SearchDocument

pytestmark = pytest.mark.django_db


def test_publication_indexes_and_retirement_unindexes(publish):
    from tongban.accounts.models import User
    from tongban.catalog.services import version_retire

    version = publish("330100-HJ-1", "户籍证明开具", keywords=["开证明"])
    assert SearchDocument.objects.get(code="330100-HJ-1").version_number == 1
    version_retire(actor=User.objects.get(username="rv-hukou"), version=version, note="停办")
    assert not SearchDocument.objects.filter(code="330100-HJ-1").exists()


def test_results_page(client, publish):
    publish("330100-HJ-1", "户籍证明开具", keywords=["开证明"])
    publish("330100-SFZ-1", "居民身份证换领", charged=True, fee_basis="《关于居民身份证收费标准的通知》",
            fee_standard_fen=2000, fee_items=[{"name": "工本费", "fen": 2000}], online_payment=True,
            high_frequency=True)
    response = client.get(reverse("portal:items"), {"q": "sfz"})
    assert response.status_code == 200
    body = response.content.decode()
    codes = [part.split('"')[0] for part in body.split('class="item" data-code="')[1:]]
    assert codes[0] == "330100-SFZ-1"  # by its initials; the other only names 居民身份证 among its materials
    assert "“sfz”的搜索结果" in body
    body = client.get(reverse("portal:items"), {"q": "", "fee": "free", "department": "hukou"}).content.decode()
    assert "户籍证明开具" in body and "居民身份证换领" not in body
    body = client.get(reverse("portal:items"), {"q": "烟花"}).content.decode()
    assert "没有找到相关事项" in body


def test_bad_filter_values_are_not_a_500(client, publish):
    publish("330100-HJ-1", "户籍证明开具")
    response = client.get(reverse("portal:items"), {"q": "户籍", "department": "nope", "page": "x"})
    assert response.status_code == 422
    assert "错误：" in response.content.decode()
    assert client.get(reverse("portal:items"), {"page": "99"}).status_code == 200


def test_paging(client, publish):
    for n in range(23):
        publish(f"330100-T-{n}", f"测试证明开具{n:02d}")
    first = client.get(reverse("portal:items"), {"q": "证明"}).content.decode()
    assert "共找到 23 个事项" in first and "第 1 页，共 2 页" in first and 'rel="next"' in first
    second = client.get(reverse("portal:items"), {"q": "证明", "page": "2"}).content.decode()
    assert second.count('class="item"') == 3 and 'rel="prev"' in second


def test_guide_page(client, publish):
    publish("330100-SFZ-1", "居民身份证换领", charged=True, fee_basis="《关于居民身份证收费标准的通知》",
            fee_standard_fen=2000, fee_items=[{"name": "工本费", "fen": 2000}], online_payment=True)
    response = client.get(reverse("portal:item", args=["330100-SFZ-1"]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h1>居民身份证换领</h1>" in body
    assert "免提交" in body and "人口信息" in body  # the material the platform fetches itself
    assert "工本费：20 元" in body and "收费依据" in body
    assert "派出所户籍窗口" in body and "工作日 9:00-17:00" in body
    # no case engine yet: said plainly, no dead button
    assert 'id="apply"' not in body
    assert client.get(reverse("portal:item", args=["NO-SUCH"])).status_code == 404


def test_service_page_and_home(client, publish):
    publish("330100-SFZ-1", "居民身份证换领", high_frequency=True)
    home = client.get("/").content.decode()
    assert 'action="/items/"' in home and "居民身份证换领" in home and "?event=birth" in home
    assert "?department=hukou" in home
    page = client.get(reverse("portal:service", args=["carmove"]))
    assert page.status_code == 200 and "暂未开通" in page.content.decode()
    assert client.get(reverse("portal:service", args=["nothing"])).status_code == 404
