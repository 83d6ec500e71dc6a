"""Every user-facing template string is marked for translation, and every marked string has its
Traditional Chinese and English translation in the committed catalogs (makemessages into a copy)."""

from __future__ import annotations

import ast
import importlib.util
import re
import shutil
from pathlib import Path

import pytest
from django.test import Client
from django.utils import translation

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = sorted((ROOT / "src" / "tongban").glob("*/templates/**/*.html"))


def _tool():
    spec = importlib.util.spec_from_file_location("i18n_update", ROOT / "scripts" / "i18n_update.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _mark():
    spec = importlib.util.spec_from_file_location("i18n_mark", ROOT / "scripts" / "i18n_mark.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_unmarked_chinese_in_templates():
    """The marker finds nothing left to mark: Chinese text and attributes are all inside translate tags."""
    mark = _mark()
    unmarked = []
    for path in TEMPLATES:
        text = path.read_text(encoding="utf-8")
        if mark.mark(text) != text:
            unmarked.append(str(path.relative_to(ROOT)))
    assert not unmarked, "Chinese text not marked for translation (run scripts/i18n_mark.py): " + ", ".join(unmarked)


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext (xgettext) is not installed")
def test_every_marked_string_has_both_translations():
    gaps = _tool().check()
    report = [f"{lang}: {msgid!r}" for lang, ids in gaps.items() for msgid in ids[:20]]
    assert not any(gaps.values()), ("catalog entries missing (run scripts/i18n_update.py):\n" + "\n".join(report))


def test_catalogs_translate():
    with translation.override("zh-hant"):
        assert translation.gettext("一网通办") == "一網通辦"
    with translation.override("en"):
        assert translation.gettext("首页") == "Home"


@pytest.mark.django_db
def test_accept_language_and_the_switch(client: Client):
    page = client.get("/login/", headers={"Accept-Language": "zh-Hant-HK,zh;q=0.8"}).content.decode()
    assert "一網通辦" in page and 'lang="zh-Hant"' in page
    response = client.get("/i18n/en/", headers={"Referer": "http://testserver/login/"})
    assert response.status_code == 302 and response["Location"] == "http://testserver/login/"
    assert client.get("/i18n/en/", headers={"Referer": "https://evil.example/"})["Location"] == "/"
    page = client.get("/login/").content.decode()
    assert 'lang="en"' in page and "Home" in page


def test_error_envelope_in_three_languages():
    from tongban.core.errors import message_for

    assert message_for("mobile_invalid", "zh-hans").startswith("手机号码不正确")
    assert message_for("mobile_invalid", "zh-Hant").startswith("手機號碼不正確")
    assert message_for("mobile_invalid", "en").startswith("The mobile number")


# -- Python sources: user-facing Chinese goes through gettext -------------------------------------------

_CJK = re.compile(r"[\u4e00-\u9fff]")
_GETTEXT = {"_", "gettext", "gettext_lazy", "pgettext", "pgettext_lazy", "ngettext", "ngettext_lazy", "gettext_noop"}
_MESSAGES = {"debug", "info", "success", "warning", "error", "add_message"}
_FIELD_KEYWORDS = {"label", "help_text"}
PYTHON = sorted(p for p in (ROOT / "src" / "tongban").rglob("*.py")
                if "migrations" not in p.parts and "demo" not in p.parts and not p.name.startswith("demo"))


def _unmarked_chinese(node: ast.AST) -> bool:
    """A Chinese literal (plain, f-string, concatenated or %-formatted) not wrapped in a gettext call."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _GETTEXT:
        return False
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str) and bool(_CJK.search(node.value))
    if isinstance(node, ast.JoinedStr):
        return any(_unmarked_chinese(v) for v in node.values)
    if isinstance(node, ast.BinOp):
        return _unmarked_chinese(node.left) or (isinstance(node.op, ast.Add) and _unmarked_chinese(node.right))
    if isinstance(node, ast.IfExp):
        return _unmarked_chinese(node.body) or _unmarked_chinese(node.orelse)
    return False


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return f"{_name(func.value)}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else ""


def unmarked_python(source: str) -> list[tuple[int, str]]:
    """(line, what) for each Chinese literal given unmarked to messages.*, a field's label/help_text or
    ValidationError."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name.startswith("messages.") and name.split(".")[-1] in _MESSAGES:
            suspects = node.args[1:2] + [k.value for k in node.keywords if k.arg == "message"]
        elif name.split(".")[-1] == "ValidationError":
            suspects = node.args[:1] + [k.value for k in node.keywords if k.arg == "message"]
        elif name.endswith("Field"):
            suspects = [k.value for k in node.keywords if k.arg in _FIELD_KEYWORDS]
            name = f"{name}(label/help_text)"
        else:
            continue
        found += [(node.lineno, name) for arg in suspects if _unmarked_chinese(arg)]
    return found


def test_the_python_scanner_sees_what_it_should():
    bad = ('messages.success(request, f"已解锁 {x}。")\nraise ValidationError("号码不正确")\n'
           'forms.CharField(label="姓名", help_text="必填")\nmessages.error(request, "前缀" + x)\n')
    assert [line for line, _what in unmarked_python(bad)] == [1, 2, 3, 3, 4]
    good = ('messages.success(request, _("已解锁 %(x)s。") % {"x": x})\nraise ValidationError(_("号码不正确"))\n'
            'forms.CharField(label=_("姓名"), help_text=gettext_lazy("必填"))\nmessages.error(request, exc.message(l))\n')
    assert unmarked_python(good) == []


def test_no_unmarked_chinese_in_python():
    """Messages to the user, form labels and help texts and validation errors are marked for translation."""
    unmarked = [f"{path.relative_to(ROOT)}:{line} {what}"
                for path in PYTHON for line, what in unmarked_python(path.read_text(encoding="utf-8"))]
    assert not unmarked, "Chinese text not marked for translation in Python:\n" + "\n".join(unmarked)
