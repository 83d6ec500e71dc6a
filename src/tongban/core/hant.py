"""Traditional ↔ Simplified Chinese for the kernel (OpenCC; converters built once per process): the JSON
error envelopes in Traditional Chinese, and names compared whichever form they are written in."""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any


@cache
def _converter(config: str) -> Any:
    import opencc

    return opencc.OpenCC(config)


def to_traditional(text: str) -> str:
    """Traditional Chinese as written in Hong Kong (OpenCC s2hk)."""
    return _converter("s2hk").convert(text) if text else text


def to_simplified(text: str) -> str:
    return _converter("t2s").convert(text) if text else text


def is_traditional_language(language: str | None) -> bool:
    """zh-hant, zh-Hant-HK, zh-tw, zh-hk, zh-mo (any case, - or _)."""
    tag = (language or "").lower().replace("_", "-")
    return tag.startswith(("zh-hant", "zh-tw", "zh-hk", "zh-mo"))


_NAME_IGNORED = re.compile(r"[\s,·•.\-'’]+")


def name_key(value: str) -> str:
    """A name reduced for comparing: NFKC (full-width letters), no spaces, dots, commas, hyphens or
    apostrophes, case folded, Traditional characters as Simplified (陳大文 = 陈大文 = 陳 大文;
    `cheung fung hin` = `CHEUNG Fung Hin`)."""
    folded = _NAME_IGNORED.sub("", unicodedata.normalize("NFKC", value or "")).casefold()
    return to_simplified(folded) if folded and not folded.isascii() else folded


def same_name(given: str, registered: str) -> bool:
    key = name_key(given)
    return bool(key) and key == name_key(registered)


class TraditionalChineseMiddleware:
    """Pages asked for in Traditional Chinese (zh-Hant, from the switch or Accept-Language zh-TW/HK/MO) are
    converted whole with OpenCC (s2hk) after rendering, as Wikipedia's Chinese variants are: the catalog's
    content (item names, materials, form labels), workflow labels and messages come from data in Simplified,
    and the translation catalogs cover only the templates' and code's own strings. HTML only; JSON answers
    are localised by the error envelope (tongban.core.errors), files and streams are left alone."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        response = self.get_response(request)
        if not is_traditional_language(getattr(request, "LANGUAGE_CODE", None)):
            return response
        content_type = response.get("Content-Type", "")
        if getattr(response, "streaming", False) or not content_type.startswith("text/html"):
            return response
        charset = getattr(response, "charset", None) or "utf-8"
        response.content = to_traditional(response.content.decode(charset)).encode(charset)
        if response.has_header("Content-Length"):
            response["Content-Length"] = str(len(response.content))
        return response
