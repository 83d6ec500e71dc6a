"""By keyboard alone: Tab reaches every control of the login and registration pages in the page's order,
the skip link first; the skip link leads into <main>; after a failed submit the focus is on the error
summary and its links lead to the inputs; focus is shown with our own style."""

from __future__ import annotations

import pytest

from tests.sso.conftest import make_person

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

# Stamps every element keyboard users should reach (in document order) with data-kb="<index>" and returns
# a short description of each; a radio group counts once (Tab enters it once).
_STAMP = """() => {
  const seen = new Set();
  const out = [];
  for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]')) {
    if (el.disabled || el.getAttribute('tabindex') === '-1' || !el.getClientRects().length) continue;
    if (el.type === 'radio') { if (seen.has(el.name)) continue; seen.add(el.name); }
    el.dataset.kb = String(out.length);
    out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} ${(el.textContent || el.name || '').trim().slice(0, 12)}`);
  }
  return out;
}"""
_ACTIVE = """() => { const e = document.activeElement; return e && e !== document.body ? (e.dataset.kb ?? `unstamped ${e.tagName} ${e.id}`) : null; }"""


def tab_through(page, limit: int = 80) -> list[str]:
    """Press Tab until the focus leaves the page; the data-kb stamps of the elements reached, in order."""
    reached: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        stamp = page.evaluate(_ACTIVE)
        if stamp is None or (reached and stamp == reached[0]):
            break
        reached.append(stamp)
    return reached


def assert_every_control_in_order(page) -> list[str]:
    controls = page.evaluate(_STAMP)
    reached = tab_through(page)
    assert reached == [str(i) for i in range(len(controls))], (
        "Tab order differs from the page's order:\n" + "\n".join(
            f"{stamp}: {controls[int(stamp)] if stamp.isdigit() else stamp}" for stamp in reached))
    assert controls[0].startswith("a") and "跳到主要内容" in controls[0], controls[0]
    return controls


def test_login_page_by_keyboard(page, live_server):
    make_person("kb", phone="13900000091")
    page.goto(live_server.url + "/login/")
    controls = assert_every_control_in_order(page)
    assert any(c.startswith("input#id_username") for c in controls)
    assert any(c.startswith("input#id_password") for c in controls)
    assert any(c.startswith("button") and "登录" in c for c in controls)

    # The skip link shows when focused and leads into <main>: the next Tab is the first control there.
    page.goto(live_server.url + "/login/")
    page.keyboard.press("Tab")
    box = page.locator(".skip-link").bounding_box()
    assert box is not None and box["y"] >= 0, "the focused skip link is off screen"
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent") == "验证码登录"

    # Our focus style: a yellow ring on the focused input.
    page.focus("#id_username")
    assert page.evaluate("() => getComputedStyle(document.activeElement).outlineColor") == "rgb(255, 221, 0)"


def test_failed_login_by_keyboard(page, live_server):
    make_person("kb", phone="13900000091")
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "13900000091")
    page.fill("#id_password", "Not-the-password-1")
    page.keyboard.press("Enter")
    page.wait_for_selector(".error-summary")
    assert page.title().startswith("错误：登录")
    # The focus moves to the summary (autofocus: at the browser's next rendering after the load).
    page.wait_for_function("() => document.activeElement.id === 'error-summary'", timeout=5000)
    assert page.get_attribute("#id_username", "aria-invalid") == "true"
    assert page.get_attribute("#id_password", "aria-invalid") == "true"
    described = page.get_attribute("#id_password", "aria-describedby")
    assert "手机号或密码不正确" in page.locator(f"#{described}").inner_text()
    page.keyboard.press("Tab")  # the summary's link …
    assert page.evaluate("() => document.activeElement.getAttribute('href')") == "#id_username"
    page.keyboard.press("Enter")  # … leads to the input
    assert page.evaluate("() => document.activeElement.id") == "id_username"


def test_registration_pages_by_keyboard(page, live_server):
    page.goto(live_server.url + "/register/")
    controls = assert_every_control_in_order(page)
    assert any(c.startswith("input#id_phone") for c in controls)
    page.goto(live_server.url + "/register/verify/")
    controls = assert_every_control_in_order(page)
    inputs = [c.split()[0] for c in controls if c.startswith("input")]
    assert inputs == ["input#id_code", "input#id_password", "input#id_password2"]
    # The password rules are read out with the input.
    assert page.get_attribute("#id_password", "aria-describedby") == "id_password_helptext"
    assert "至少 10 位" in page.locator("#id_password_helptext").inner_text()
