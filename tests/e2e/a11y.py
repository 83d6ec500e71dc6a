"""Accessibility checks for the browser tests: axe-core (the copy vendored by the pinned PyPI package
axe-playwright-python, so nothing is downloaded at run time) at a phone's and a desktop's width, plus the
checks of our own form pattern that axe cannot make (docs/accessibility.md).

`accessibility_problems(page)` returns what is wrong with the page as it is now (an empty list when
nothing is); the `assert_accessible` fixture of tests/e2e/conftest.py fails a test on any of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from axe_playwright_python.base import AXE_SCRIPT
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

PHONE_WIDTH = 375
DESKTOP_WIDTH = 1280
WIDTHS = (PHONE_WIDTH, DESKTOP_WIDTH)
ERROR_TITLE_PREFIX = "错误："
SKIP_LINK_TEXT = "跳到主要内容"

# Every rule axe-core enables by default: WCAG 2.0/2.1/2.2 A and AA and axe's best practices.
AXE_OPTIONS: dict[str, Any] = {"resultTypes": ["violations"]}

# What our own pattern promises on every page, measured in the page (see docs/accessibility.md).
_PATTERN = """() => {
  const problems = [];
  const byId = (id) => document.getElementById(id);
  for (const el of document.querySelectorAll('[aria-describedby], [aria-labelledby]')) {
    for (const attr of ['aria-describedby', 'aria-labelledby']) {
      for (const id of (el.getAttribute(attr) || '').split(/\\s+/).filter(Boolean)) {
        if (!byId(id)) problems.push(`${attr}="${id}" on <${el.tagName.toLowerCase()} id="${el.id}"> names no element`);
      }
    }
  }
  const focusable = [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])')]
    .filter((el) => !el.disabled);
  const skip = focusable[0];
  if (!skip || skip.textContent.trim() !== '跳到主要内容') {
    problems.push('the first focusable element is not the skip link 跳到主要内容');
  } else {
    const target = byId((skip.getAttribute('href') || '').replace(/^#/, ''));
    if (!target || target.tagName !== 'MAIN') problems.push('the skip link does not lead to <main>');
  }
  if (document.querySelectorAll('h1').length !== 1) problems.push(`${document.querySelectorAll('h1').length} <h1> on the page`);
  const summary = document.querySelector('.error-summary');
  const invalid = [...document.querySelectorAll('[aria-invalid="true"]')];
  if (document.title.startsWith('错误：') !== !!summary) {
    problems.push(`title "${document.title}" and error summary (${summary ? 'present' : 'absent'}) disagree`);
  }
  if (summary) {
    if (document.activeElement !== summary) problems.push(`focus is on <${document.activeElement.tagName.toLowerCase()}>, not the error summary`);
    if (summary.getAttribute('tabindex') !== '-1') problems.push('the error summary cannot take focus (tabindex="-1")');
    const main = document.querySelector('main');
    const firstHeading = main && main.querySelector('h1, h2');
    if (!firstHeading || !summary.contains(firstHeading)) problems.push('the error summary is not at the top of <main>');
    const links = [...summary.querySelectorAll('li a')];
    if (!links.length) problems.push('the error summary lists no link');
    for (const a of links) {
      if (!byId((a.getAttribute('href') || '').replace(/^#/, ''))) problems.push(`summary link ${a.getAttribute('href')} leads nowhere`);
    }
    for (const a of links) {
      const target = byId((a.getAttribute('href') || '').replace(/^#/, ''));
      if (target && target.matches('input, select, textarea') && target.getAttribute('aria-invalid') !== 'true') {
        problems.push(`summary link ${a.getAttribute('href')} leads to an input not marked aria-invalid="true"`);
      }
    }
  }
  for (const el of invalid) {
    const ids = (el.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean);
    const said = ids.map((id) => byId(id)).filter(Boolean).map((e) => e.textContent).join(' ');
    if (!said.includes('错误')) problems.push(`<${el.tagName.toLowerCase()} id="${el.id}"> is invalid but its error message is not linked by aria-describedby`);
  }
  return problems;
}"""


_SUMMARY_FOCUSED = """() => { const s = document.querySelector('.error-summary'); return !s || document.activeElement === s; }"""


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now (injected once per document)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE_SCRIPT)
    result = page.evaluate("async (options) => await window.axe.run(document, options)", AXE_OPTIONS)
    return list(result["violations"])


def format_violation(violation: dict[str, Any]) -> str:
    nodes = "; ".join(" ".join(map(str, node["target"])) + f" {node['html'][:160]}" for node in violation["nodes"][:5])
    return f"axe {violation['id']} ({violation['impact']}): {violation['help']} — {nodes}"


def accessibility_problems(page: Any, *, widths: tuple[int, ...] = WIDTHS) -> list[str]:
    """Our pattern's checks (first: they look at where the page put the focus), then axe-core at each
    width and a check that nothing scrolls sideways on a phone. The viewport is restored afterwards."""
    try:  # the browser moves the focus to an autofocus element at its next rendering, after the load event
        page.wait_for_function(_SUMMARY_FOCUSED, timeout=5000)
    except PlaywrightTimeoutError:
        pass  # reported below
    problems = [f"pattern: {p}" for p in page.evaluate(_PATTERN)]
    original = page.viewport_size
    try:
        for width in widths:
            page.set_viewport_size({"width": width, "height": (original or {}).get("height", 800)})
            problems += [f"{width}px {format_violation(v)}" for v in axe_violations(page)]
            if width == PHONE_WIDTH:
                scroll = page.evaluate("() => document.documentElement.scrollWidth")
                if scroll > width:
                    problems.append(f"{width}px: the page scrolls sideways ({scroll}px wide)")
    finally:
        if original:
            page.set_viewport_size(original)
    return [f"{page.url} [{page.title()}] {p}" for p in problems]


# -- the pages every run checks ------------------------------------------------------------------------------

SUBMIT = "main form[novalidate] button[type=submit]"


@dataclass(frozen=True)
class Visit:
    """One state of one page: `path` (with {placeholders} from the walk's values) as loaded, or — with
    `submit` — after filling `fill` (selector, value), ticking `tick` and pressing `submit`: a failed
    submit shows the error pattern, another one the page it leads to (its message, say)."""

    path: str
    fill: tuple[tuple[str, str], ...] = ()
    tick: tuple[str, ...] = ()
    submit: str = ""


def failed(path: str, *fill: tuple[str, str], tick: tuple[str, ...] = (), submit: str = SUBMIT) -> Visit:
    return Visit(path, fill=fill, tick=tick, submit=submit)


# Signed out. Add the pages of a new feature here (the catalog's search and guide pages, say).
PUBLIC_PAGES: list[Visit] = [
    Visit("/"),
    Visit("/no-such-page/"),
    Visit("/login/"),
    failed("/login/"),
    failed("/login/", ("#id_username", "13900000081"), ("#id_password", "Not-the-password-1")),
    Visit("/login/code/"),
    failed("/login/code/", ("#id_phone", "12345")),
    Visit("/login/code/verify/"),
    failed("/login/code/verify/", ("#id_code", "12")),
    Visit("/register/"),
    failed("/register/"),
    Visit("/register/verify/"),
    failed("/register/verify/", ("#id_code", "123456"), ("#id_password", "short"), ("#id_password2", "other")),
    Visit("/recover/"),
    failed("/recover/", ("#id_phone", "1380000")),
    Visit("/recover/verify/"),
    failed("/recover/verify/"),
    Visit("/o/authorize/"),  # a request no client made: the SSO error page
    Visit("/o/logout/"),  # nobody signed in: the signed-out page
    Visit("/evaluation/"),  # 好差评 published figures
    Visit("/evaluation/?month=2026-01"),
    Visit("/rate/1/not-a-token/"),  # an SMS rating link that is not valid
    Visit("/backoffice/login/"),
    failed("/backoffice/login/"),
    failed("/backoffice/login/", ("#id_username", "a11y"), ("#id_password", "Not-the-password-1")),
    # the service hall (issue 13; the walk loads the shipped catalog first)
    Visit("/items/"),
    Visit("/items/?q=身份证"),
    Visit("/items/?q=护照&region=330000&fee=charged"),
    Visit("/items/?q=没有这种事项"),
    Visit("/items/?department=traffic"),
    Visit("/items/?q=证明&page=2"),
    Visit("/items/?q=x&department=nope"),  # a value no filter has: the error pattern
    Visit("/items/330106-GAHZ007/"),  # 居民身份证换领: fees, materials with 免提交, locations
    Visit("/items/330106-GAHZ001/"),  # 出生登记: 全程网办
    Visit("/services/carmove/"),  # a service not open yet
    # Police non-tax payments (tongban.payments): the look-up by number and name, the public receipt check.
    Visit("/pay/"),
    failed("/pay/"),
    failed("/pay/", ("#id_number", "44010626120600000011"), ("#id_payer_name", "张三")),
    Visit("/verify/receipt/"),
    failed("/verify/receipt/"),
    failed("/verify/receipt/", ("#id_number", "2600000001"), ("#id_code", "abcdef")),
    Visit("/verify/result/"),  # the public check of an electronic result (tongban.cases)
    failed("/verify/result/"),
    failed("/verify/result/", ("#id_number", "330106-261206-00001-0"), ("#id_code", "ABCDEFGH")),
]

# Signed in as a citizen verified to L2 who represents the enterprise {enterprise} and has authorised a
# client (tests/e2e/test_accessibility.py makes them).
CITIZEN_PAGES: list[Visit] = [
    Visit("/"),
    Visit("/services/cases/"),  # 我的办件 until the case engine is there
    Visit("/me/"),
    Visit("/me/identity/"),
    failed("/me/identity/"),
    failed("/me/identity/", ("#id_id_number", "110101199003070000"), ("#id_name", "张三丰")),
    Visit("/me/sessions/"),
    Visit("/me/sessions/", submit="form[action$='revoke-others/'] button"),  # a message
    Visit("/me/phone/"),
    failed("/me/phone/"),
    failed("/me/phone/", ("#id_phone", "13900000099"), ("#id_password", "Not-the-password-1")),
    Visit("/me/phone/verify/"),
    failed("/me/phone/verify/"),
    Visit("/me/password/"),
    failed("/me/password/", ("#id_old_password", "x"), ("#id_password", "Abcdefgh-2026"),
           ("#id_password2", "Abcdefgh-2027")),
    Visit("/me/close/"),
    failed("/me/close/"),
    Visit("/me/authorizations/"),
    Visit("/enterprise/"),
    Visit("/enterprise/register/"),
    failed("/enterprise/register/"),
    Visit("/enterprise/{enterprise}/"),
    failed("/enterprise/{enterprise}/", ("#id_agent_phone", "1")),
    Visit("/enterprise/invitations/"),
    Visit("/me/cases/"),  # 我的办件 and the message centre (tongban.cases; the application pages: CASE_PAGES)
    Visit("/me/messages/"),
    Visit("/no-such-page/"),
    Visit("/o/logout/"),  # the confirmation
]

# Signed in as that citizen with the item {item} offered online and a draft {draft} and a submitted case
# {case} of theirs (tests/e2e/test_cases_pages.py makes them).
CASE_PAGES: list[Visit] = [
    Visit("/apply/{item}/"),
    Visit("/me/cases/{draft}/edit/"),
    failed("/me/cases/{draft}/edit/", ("#id_delivery_recipient", "张")),
    Visit("/me/cases/{draft}/review/"),
    failed("/me/cases/{draft}/review/", submit="main form button#submit"),  # incomplete: the summary
    Visit("/me/cases/{case}/"),
    Visit("/me/cases/"),
]

# The payments pages of the staff site, walked by an officer ({notice}: a notice of their region, unpaid) and
# by finance staff (tests/e2e/test_accessibility.py::test_payment_pages).
PAYMENT_OFFICER_PAGES: list[Visit] = [
    Visit("/backoffice/payments/"),
    Visit("/backoffice/payments/notice/new/"),
    failed("/backoffice/payments/notice/new/"),
    Visit("/backoffice/payments/decision/new/"),
    failed("/backoffice/payments/decision/new/", ("#id_fine", "2e3")),
    Visit("/backoffice/payments/d/{notice}/"),
    Visit("/backoffice/payments/d/{paid}/"),
    failed("/backoffice/payments/d/{paid}/", ("#id_amount", "99999")),
    Visit("/backoffice/payments/refunds/"),
]
PAYMENT_FINANCE_PAGES: list[Visit] = [
    Visit("/backoffice/payments/"),
    Visit("/backoffice/payments/reconciliation/"),
    failed("/backoffice/payments/reconciliation/", ("#id_day", "")),
]

# Signed in to the staff site (password and TOTP) as a security administrator (sees the staff and the statistics).
STAFF_PAGES: list[Visit] = [
    Visit("/backoffice/"),
    Visit("/backoffice/password/"),
    failed("/backoffice/password/", ("#id_old_password", "x"), ("#id_new_password1", "Abcdefgh-2026!"),
           ("#id_new_password2", "Abcdefgh-2027!")),
    failed("/backoffice/password/", ("#id_old_password", "wrong-old-Password-1"), ("#id_new_password1", "short"),
           ("#id_new_password2", "short")),
    Visit("/backoffice/staff/"),
    Visit("/backoffice/staff/?department=hukou&region=330100&role=officer&active=1"),
    Visit("/backoffice/staff/?region=999999"),  # a filter that cannot be met: its error, nobody listed
    Visit("/backoffice/staff/{staff}/"),
    # Staff management (the security admin): create, roles and scope, disable, reset.
    Visit("/backoffice/staff-create/"),
    failed("/backoffice/staff-create/"),
    failed("/backoffice/staff-create/", ("#id_username", "13900000001"), ("#id_region_code", "339999"),
           tick=("#id_roles_0", "#id_roles_1")),
    Visit("/backoffice/staff-create/", fill=(("#id_username", "a11y-auditor"),), tick=("#id_roles_2",),
          submit=SUBMIT),  # the temporary password, shown once
    Visit("/backoffice/staff/{staff}/roles/"),
    failed("/backoffice/staff/{staff}/roles/", ("#id_region_code", ""), tick=("#id_roles_0",)),
    Visit("/backoffice/staff/{staff}/disable/"),
    failed("/backoffice/staff/{staff}/disable/"),
    Visit("/backoffice/staff/{other}/password/"),
    Visit("/backoffice/staff/{other}/password/", tick=("#id_confirm",), submit=SUBMIT),
    Visit("/backoffice/staff/{other}/roles/", tick=("#id_roles_2",), submit=SUBMIT),  # saved: a message
    Visit("/backoffice/partners/stats/"),
    Visit("/backoffice/partners/alerts/"),
    Visit("/backoffice/sso/stats/"),
]


# Signed in to the staff site as an officer (户政, 杭州市) with a case {case} waiting for acceptance.
OFFICER_PAGES: list[Visit] = [
    Visit("/backoffice/"),
    Visit("/backoffice/cases/"),
    Visit("/backoffice/cases/?state=submitted&assigned=unassigned&overdue=on"),
    Visit("/backoffice/cases/?submitted_from=2026-10-09&submitted_to=2026-10-01"),  # the filter's error
    Visit("/backoffice/cases/{case}/"),
    failed("/backoffice/cases/{case}/", submit="#act-return_for_correction button[type=submit]"),  # nothing listed
    Visit("/backoffice/cases/{case}/", submit="#assign-form button[value=claim]"),  # claimed: a message
    Visit("/backoffice/cases/stats/"),
]


def staff_sign_in(page: Any, base_url: str, user: Any, password: str) -> None:
    """Password then the TOTP code, as a person at the keyboard would."""
    from tests.accounts.factories import device_of, totp_code

    page.goto(base_url + "/backoffice/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.fill("#id_token", totp_code(device_of(user)))
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url == base_url + "/backoffice/", page.url


def visit(page: Any, base_url: str, step: Visit, values: dict[str, Any] | None = None) -> None:
    page.goto(base_url + step.path.format(**(values or {})))
    if step.submit:
        for selector, value in step.fill:
            page.fill(selector, value)
        for selector in step.tick:
            page.check(selector)
        with page.expect_navigation():
            page.click(step.submit)


def walk(page: Any, base_url: str, steps: list[Visit], values: dict[str, Any] | None = None) -> list[str]:
    """Every step visited and checked; what is wrong on all of them (so one run shows every page's)."""
    problems: list[str] = []
    for step in steps:
        visit(page, base_url, step, values)
        problems += accessibility_problems(page)
    return problems
