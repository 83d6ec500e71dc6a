"""Masking of personal data for pages and log lines (invariant 1: logs show masked values only)."""

from __future__ import annotations

import re

# A citizen ID number (18 characters with a plausible birth date, last may be X), a Mainland Travel
# Permit for Hong Kong and Macao residents, a mainland mobile number. Bounded by non-digits so longer
# numbers are left alone. The birth-date shape keeps tongban's own 18-digit row ids readable in logs
# while every real ID number (which always carries a date) is still masked.
_ID_RE = re.compile(
    r"(?<![0-9A-Za-z])(\d{6})((?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(\d{3}[0-9Xx])(?![0-9A-Za-z])"
)
_PERMIT_RE = re.compile(r"(?<![0-9A-Za-z])([HMhm])(\d{8})(\d{2})?(?![0-9A-Za-z])")
# Each of the three shapes holds a run of at least seven digits: text without one has nothing to mask.
_DIGIT_RUN_RE = re.compile(r"\d{7}")
_PHONE_RE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?(1[3-9]\d)(\d{4})(\d{4})(?![0-9])")
_HKMO_PHONE_RE = re.compile(r"(\+|(?<![0-9])00|(?<![0-9]))(85[23])[- ]?(\d{4})[- ]?(\d{4})(?![0-9])")


def unmaskable_hex(value: str, group: int = 8) -> str:
    """A hex digest written in dot-separated groups of `group` characters: no run of digits in it is long
    enough to look like an ID, permit or phone number, so `scrub` (logs, audit details) leaves it whole. A
    plain hex digest holds such a run now and then (e.g. `…c36d14183310836c…` has `14183310836`)."""
    return ".".join(value[i:i + group] for i in range(0, len(value), group))


def mask_id_number(value: str) -> str:
    """`110105199001011234` -> `110***********1234`: the first three and the last four stay."""
    value = (value or "").strip()
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_phone(value: str) -> str:
    """`13800138000` -> `138****8000`; `+85291234567` -> `+852 ****4567` (Hong Kong, Macao: 8 digits)."""
    value = (value or "").strip()
    if value.startswith(("+852", "+853")) and len(value) == 12:
        return value[:4] + " ****" + value[-4:]
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """`张三` -> `张*`, `欧阳娜娜` -> `欧***`; Latin names keep their first letter."""
    value = (value or "").strip()
    if not value:
        return ""
    return value[0] + "*" * max(1, len(value) - 1)


def mask_name_en(value: str) -> str:
    """`CHAN Tai Man` -> `C*** T** M**`: each word keeps its first letter (the permit's spelling and case)."""
    return " ".join(word[0] + "*" * max(1, len(word) - 1) for word in (value or "").split())


def mask_name_partial(value: str) -> str:
    """Surname and the first given-name character, for a person who must tell whom they authorised
    (an enterprise's representative and agents): `张三丰` -> `张三*`, `陳大文` -> `陳大*`; a two-character
    name shows only its surname (`张三` -> `张*`), a Latin name its first word and initials
    (`CHAN Tai Man` -> `CHAN T** M**`)."""
    value = (value or "").strip()
    if not value:
        return ""
    if value.isascii():
        first, *rest = value.split()
        return " ".join([first, *(w[0] + "*" * max(1, len(w) - 1) for w in rest)])
    if len(value) <= 2:
        return mask_name(value)
    return value[:2] + "*" * (len(value) - 2)


def mask_permit(value: str) -> str:
    """`H12345678` -> `H****5678`."""
    value = (value or "").strip()
    if len(value) <= 5:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 5) + value[-4:]


def scrub(text: str) -> str:
    """Mask anything in free text that looks like an ID number, a permit or a mobile number."""
    if not text or _DIGIT_RUN_RE.search(text) is None:
        return text
    text = _ID_RE.sub(lambda m: mask_id_number(m.group(0)), text)
    text = _PERMIT_RE.sub(lambda m: mask_permit(m.group(0)), text)
    text = _HKMO_PHONE_RE.sub(lambda m: m.group(1) + m.group(2) + " ****" + m.group(4), text)
    return _PHONE_RE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
