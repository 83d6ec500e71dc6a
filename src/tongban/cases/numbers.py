"""受理编号: a case number a person can read out over the phone.

    330106-261206-00042-7       region (GB/T 2260, 6 digits) · date (yymmdd) · sequence · check digit

Digits only, in short groups; the region where the case is handled and the day it was submitted are in
it; the sequence counts per region and day (a counter row locked for the increment); the last digit is a
Damm check digit, which catches every single wrong digit and every swap of two neighbours — the two
mistakes people make reading numbers aloud. Stored without the dashes; shown with them.
"""

from __future__ import annotations

import datetime as dt
import re

# The Damm algorithm's quasigroup of order 10 (weakly totally anti-symmetric).
_DAMM = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
SEQUENCE_DIGITS = 5
LENGTH = 6 + 6 + SEQUENCE_DIGITS + 1


def damm(digits: str) -> int:
    interim = 0
    for ch in digits:
        interim = _DAMM[interim][int(ch)]
    return interim


def compose(region_code: str, day: dt.date, sequence: int) -> str:
    """The stored form (digits only)."""
    if not re.fullmatch(r"\d{6}", region_code):
        raise ValueError("region code must be 6 digits")
    if not 0 < sequence < 10**SEQUENCE_DIGITS:
        raise ValueError("sequence out of range")
    body = f"{region_code}{day:%y%m%d}{sequence:0{SEQUENCE_DIGITS}d}"
    return body + str(damm(body))


def normalise(text: str) -> str:
    """What a person typed or read (spaces, dashes, full-width digits) as the stored form."""
    import unicodedata

    return re.sub(r"[\s\-－—·.]", "", unicodedata.normalize("NFKC", text or ""))


def is_valid(text: str) -> bool:
    number = normalise(text)
    return len(number) == LENGTH and number.isdigit() and damm(number) == 0


def display(number: str) -> str:
    """The grouped form for pages, SMS and the phone: 330106-261206-00042-7."""
    if len(number) != LENGTH:
        return number
    return f"{number[:6]}-{number[6:12]}-{number[12:17]}-{number[17]}"


def parts(number: str) -> dict[str, str]:
    number = normalise(number)
    return {"region": number[:6], "date": number[6:12], "sequence": number[12:17], "check": number[17:]}
