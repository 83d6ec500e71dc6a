"""The portal home page renders in Chinese, in a desktop browser and on a phone."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")


def test_home_page_in_chinese(page, live_server):
    response = page.goto(live_server.url + "/")
    assert response.status == 200
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "公安“互联网+政务服务”平台" in page.title()
    assert page.locator("h1").inner_text() == "公安“互联网+政务服务”平台"
    services = page.locator("li.service strong").all_inner_texts()
    assert "统一身份认证" in services and "一键挪车" in services and len(services) == 10
    # Security headers reach the browser.
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"


def test_home_page_fits_a_phone(phone_page, live_server):
    phone_page.goto(live_server.url + "/")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page scrolls sideways on a phone ({width}px)"
    box = phone_page.locator("li.service").first.bounding_box()
    assert box is not None and box["width"] > 300  # one card per row on a phone


def test_unknown_page_shows_chinese_404(page, live_server):
    response = page.goto(live_server.url + "/no-such-page")
    assert response.status == 404
    assert "页面不存在" in page.locator("h1").inner_text()
