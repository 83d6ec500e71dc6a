"""Every user-facing template string is marked for translation, and every marked string has its
Traditional Chinese and English translation in the committed catalogs (makemessages into a copy)."""

from __future__ import annotations

import importlib.util
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
