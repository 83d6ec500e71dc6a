"""The one error pattern of every form (docs/accessibility.md), as the server renders it: help texts and
error messages tied to their inputs, an error summary that takes the focus, "错误：" in the title,
radio groups in a fieldset, message lists axe accepts, a skip link, a title per step. The browser checks
(axe-core, keyboard) are in tests/e2e/test_accessibility.py and test_keyboard.py."""

from __future__ import annotations

import re

import pytest

from tests.accounts.factories import PASSWORD as STAFF_PASSWORD
from tests.accounts.factories import login_verified, make_officer
from tests.sso.conftest import PASSWORD, _sso_caches, flow, make_person, person, rp  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db(databases="__all__")


def title(html: str) -> str:
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match, html[:500]
    return match.group(1).strip()


def tag(html: str, element_id: str) -> str:
    """The opening tag of the element with this id."""
    match = re.search(rf'<[a-z]+[^>]*\bid="{re.escape(element_id)}"[^>]*>', html)
    assert match, f"no element with id {element_id}"
    return match.group(0)


def attr(opening_tag: str, name: str) -> str | None:
    match = re.search(rf'\b{name}="([^"]*)"', opening_tag)
    return match.group(1) if match else None


def summary_links(html: str) -> list[str]:
    match = re.search(r'<div class="error-summary"[^>]*>(.*?)</ul>', html, re.S)
    assert match, "no error summary"
    return re.findall(r'<a href="#([^"]+)">', match.group(1))


def test_help_text_is_read_with_its_input(client):
    html = client.get("/register/verify/").content.decode()
    described = attr(tag(html, "id_password"), "aria-describedby")
    assert described == "id_password_helptext"
    assert "至少 10 位" in re.search(r'id="id_password_helptext">([^<]*)<', html).group(1)


def test_empty_form_has_no_summary_and_a_plain_title(client):
    html = client.get("/login/").content.decode()
    assert "error-summary" not in html and 'aria-invalid' not in html
    assert title(html) == "登录 · 一网通办"


def test_wrong_password_marks_both_inputs_and_leads_the_summary(client):
    make_person("p1", phone="13900000051")
    response = client.post("/login/", {"username": "13900000051", "password": "Not-the-password-1"})
    html = response.content.decode()
    assert response.status_code == 422
    assert title(html).startswith("错误：登录")
    summary = tag(html, "error-summary")
    assert attr(summary, "tabindex") == "-1" and " autofocus" in summary
    assert html.index("error-summary") < html.index("<h1>")  # at the top, above the heading
    assert summary_links(html) == ["id_username"]
    for input_id in ("id_username", "id_password"):
        opening = tag(html, input_id)
        assert attr(opening, "aria-invalid") == "true"
        assert attr(opening, "aria-describedby") == "passwordloginform_form_error"
    message = re.search(r'id="passwordloginform_form_error">(.*?)</div>', html, re.S).group(1)
    assert "错误：" in message and "手机号或密码不正确" in message


def test_field_errors_link_each_input_to_its_message(client):
    response = client.post("/register/verify/", {"code": "", "password": "Abcdefgh-2026", "password2": "other"})
    html = response.content.decode()
    assert title(html).startswith("错误：注册账号")
    assert summary_links(html) == ["id_code", "id_password2"]
    for input_id in ("id_code", "id_password2"):
        opening = tag(html, input_id)
        assert attr(opening, "aria-invalid") == "true"
        assert f"{input_id}_error" in (attr(opening, "aria-describedby") or "").split()
        assert f'id="{input_id}_error"' in html
    assert attr(tag(html, "id_password"), "aria-invalid") is None  # the field without an error stays unmarked


def test_radio_groups_are_fieldsets_with_a_legend(client):
    user = make_person("p1", phone="13900000052", level=0)
    client.force_login(user, backend="tongban.accounts.backends.TongbanBackend")
    html = client.get("/me/identity/").content.decode()
    assert '<span class="label">' not in html
    for name, legend in (("id_type", "证件类型"), ("level", "认证等级")):
        assert re.search(rf'<fieldset class="field" data-field="{name}">\s*<legend>{legend}</legend>', html), name
    # A radio group in error: the fieldset is described by the message, the summary leads to its first radio.
    response = client.post("/me/identity/", {"id_type": "resident_id", "id_number": "x", "name": "x"})
    html = response.content.decode()
    fieldset = re.search(r'<fieldset class="field has-error" data-field="level"[^>]*>', html).group(0)
    assert attr(fieldset, "aria-describedby") == "id_level_error"
    assert "id_level_0" in summary_links(html) and 'id="id_level_0"' in html


def test_steps_have_titles_of_their_own(client):
    user = make_person("p1", phone="13900000053")
    pairs = [("/register/", "/register/verify/"), ("/login/code/", "/login/code/verify/"),
             ("/recover/", "/recover/verify/")]
    titles = [title(client.get(path).content.decode()) for pair in pairs for path in pair]
    client.force_login(user, backend="tongban.accounts.backends.TongbanBackend")
    titles += [title(client.get(path).content.decode()) for path in ("/me/phone/", "/me/phone/verify/")]
    assert len(set(titles)) == len(titles), titles
    assert titles[0] == "注册账号（第 1 步，共 2 步） · 一网通办"
    assert titles[1] == "注册账号（第 2 步，共 2 步） · 一网通办"


def test_skip_link_and_messages_in_the_portal(client):
    make_person("p1", phone="13900000054")
    assert client.login(username="p1", password=PASSWORD)
    response = client.post("/me/sessions/revoke-others/", follow=True)
    html = response.content.decode()
    assert re.search(r'<body>\s*<a class="skip-link" href="#main">跳到主要内容</a>', html)
    assert 'id="main"' in tag(html, "main")
    assert re.search(r'<div class="messages" role="status"><ul class="message-list"><li class="message success">', html)
    assert html.count('role="status"') == 1


def test_staff_login_failure_follows_the_pattern(client):
    make_officer("officer1")
    response = client.post("/backoffice/login/", {"username": "officer1", "password": "Not-the-password-1"})
    html = response.content.decode()
    assert title(html).startswith("错误：工作人员登录")
    assert re.search(r'<body class="backoffice">\s*<a class="skip-link" href="#main">', html)
    assert summary_links(html) == ["id_username"]
    for input_id in ("id_username", "id_password"):
        opening = tag(html, input_id)
        assert attr(opening, "aria-invalid") == "true" and attr(opening, "aria-describedby") == "login_error"
    assert "novalidate" in html  # the server's messages, not the browser's, for every failure


def test_staff_password_errors_point_at_their_input(client):
    officer = make_officer("officer1")
    login_verified(client, officer)
    html = client.get("/backoffice/password/").content.decode()
    assert attr(tag(html, "id_new_password1"), "aria-describedby") == "id_new_password1_helptext"
    response = client.post("/backoffice/password/", {"old_password": STAFF_PASSWORD, "new_password1": "Abcdefgh-2026!x",
                                                     "new_password2": "Abcdefgh-2027!x"})
    html = response.content.decode()
    assert title(html).startswith("错误：修改密码") and summary_links(html) == ["id_new_password2"]
    assert attr(tag(html, "id_new_password2"), "aria-invalid") == "true"
    response = client.post("/backoffice/password/", {"old_password": "wrong-Password-2026", "new_password1": "Abcdefgh-2026!x",
                                                     "new_password2": "Abcdefgh-2026!x"})
    html = response.content.decode()
    assert summary_links(html) == ["id_old_password"]
    assert attr(tag(html, "id_old_password"), "aria-describedby") == "id_old_password_error"
    assert "当前密码不正确" in html


def test_staff_messages_have_the_live_region_on_a_wrapper(client):
    officer = make_officer("officer1")
    login_verified(client, officer)
    response = client.post("/backoffice/password/", {"old_password": STAFF_PASSWORD, "new_password1": "Changed-pass-2026!",
                                                     "new_password2": "Changed-pass-2026!"}, follow=True)
    html = response.content.decode()
    assert re.search(r'<div class="messages" role="status"><ul class="message-list"><li class="message success">'
                     r'密码已修改', html)
    assert html.count('role="status"') == 1


def test_sign_in_again_summarises_the_form_in_error(flow):  # noqa: F811
    """The SSO page with two forms (password, SMS code): the one in error is summarised and marked."""
    response = flow.follow(flow.http.get(flow.authorize_url(prompt="login")))
    html = response.content.decode()
    assert "/o/authorize/login/" in response.request["PATH_INFO"] and "error-summary" not in html
    txn = response.context["txn"]
    response = flow.http.post(f"/o/authorize/login/?txn={txn}", {"txn": txn, "action": "password",
                                                                 "password": "Not-the-password-1"})
    html = response.content.decode()
    assert response.status_code == 422
    assert title(html).startswith("错误：重新验证身份")
    assert summary_links(html) == ["id_password"]
    opening = tag(html, "id_password")
    assert attr(opening, "aria-invalid") == "true" and attr(opening, "aria-describedby") == "id_password_error"
    assert f'action="/o/authorize/login/?txn={txn}"' in html  # posts back without a fragment: autofocus works
