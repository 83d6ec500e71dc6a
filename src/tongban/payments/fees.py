"""The seven categories of police non-tax income and their fee tables (data/fees.json, or the file named by
TONGBAN_PAYMENTS["FEES_FILE"]), the late fee of a fine, and amounts in figures and in capitals."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from django.conf import settings

DATA = Path(__file__).parent / "data" / "fees.json"
FINE_DEADLINE_DAYS = 15  # 行政处罚法 第六十七条: pay within 15 days of service
LATE_FEE_PERCENT_PER_DAY = 3  # 第七十二条: 3 % of the fine per day, never more than the fine


@dataclass(frozen=True)
class FeeItem:
    code: str
    name: str
    fen: int | None  # None: the amount is set per document (a fine)


@dataclass(frozen=True)
class Category:
    code: str
    name: str
    department: str
    basis: str
    decision: bool
    items: tuple[FeeItem, ...]

    def item(self, code: str) -> FeeItem | None:
        return next((i for i in self.items if i.code == code), None)


@lru_cache(maxsize=4)
def _load(path: str) -> dict[str, Category]:
    raw: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    found: dict[str, Category] = {}
    for entry in raw["categories"]:
        items = []
        for item in entry["items"]:
            fen = item.get("fen")
            if fen is not None and (not isinstance(fen, int) or isinstance(fen, bool) or fen <= 0):
                raise ValueError(f"fee {item['code']}: an amount is a positive whole number of fen")
            items.append(FeeItem(item["code"], item["name"], fen))
        found[entry["code"]] = Category(entry["code"], entry["name"], entry["department"], entry.get("basis", ""),
                                        bool(entry.get("decision")), tuple(items))
    return found


def categories() -> dict[str, Category]:
    configured = str(settings.TONGBAN_PAYMENTS.get("FEES_FILE") or "")  # type: ignore[attr-defined]
    return _load(configured or str(DATA))


def category(code: str) -> Category | None:
    return categories().get(code)


def late_fee_fen(*, fine_fen: int, served_on: dt.date, paid_on: dt.date) -> int:
    """加处罚款: 3 % of the fine for each calendar day after the 15 days that follow service, capped at the fine.

    Paid on day 15 after service: nothing; day 16: 3 %; 200 元 paid 40 days after the deadline: 200 元 (the
    cap). Rounded down to the fen (in the payer's favour), in integers only."""
    if fine_fen < 0:
        raise ValueError("a fine is not negative")
    days_late = (paid_on - served_on).days - FINE_DEADLINE_DAYS
    if days_late <= 0:
        return 0
    return min(fine_fen * LATE_FEE_PERCENT_PER_DAY * days_late // 100, fine_fen)


def yuan(fen: int) -> str:
    """12345 -> "123.45" (no float on the way)."""
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100:,}.{fen % 100:02d}"


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_SECTIONS = ("", "万", "亿", "万亿")


def _section(value: int) -> str:
    text, zero = "", False
    for position in range(3, -1, -1):
        digit = value // 10**position % 10
        if digit == 0:
            zero = bool(text)
            continue
        if zero:
            text += "零"
            zero = False
        text += _DIGITS[digit] + _UNITS[position]
    return text


def capitals(fen: int) -> str:
    """The amount in Chinese capitals as written on a receipt: 20050 -> "贰佰元伍角整"; 40001 -> "肆佰元零壹分"."""
    if fen < 0:
        raise ValueError("an amount on a receipt is not negative")
    yuan_part, jiao, fen_digit = fen // 100, fen // 10 % 10, fen % 10
    parts: list[str] = []
    section_index, text, need_zero = 0, "", False
    value = yuan_part
    while value:
        chunk = value % 10000
        if chunk:
            piece = _section(chunk) + _SECTIONS[section_index]
            if need_zero:
                piece += "零"
            text = piece + text
            need_zero = chunk < 1000
        else:
            need_zero = bool(text)
        value //= 10000
        section_index += 1
    text = text.rstrip("零")
    if text:
        parts.append(text + "元")
    if jiao:
        parts.append(_DIGITS[jiao] + "角")
    elif fen_digit and text:
        parts.append("零")
    if fen_digit:
        parts.append(_DIGITS[fen_digit] + "分")
    if not jiao and not fen_digit:
        return (text or "零") + "元整"
    result = "".join(parts)
    return result + ("整" if not fen_digit else "")
