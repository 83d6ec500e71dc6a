"""Validators for the identifiers citizens and enterprises type in, each failure with its own error code.

Citizen ID numbers (GB 11643), Hong Kong and Macao residence-permit numbers (810000 / 820000), the
Mainland Travel Permit for HK/Macao residents (回乡证), the unified social credit code (GB 32100) and
mainland mobile numbers. Every `validate_*` normalises its input and returns it (or a small frozen
dataclass); a failure raises TongbanError with a code from CATALOG. Django validators and
pydantic `Annotated` types wrap the same functions, so a form and an API reject the same values.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Annotated, Any, Literal

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError
from stdnum.cn import uscc as _uscc

from tongban.core import clock
from tongban.core.errors import TongbanError, message_for
from tongban.core.masking import mask_id_number, mask_permit

# The oldest birth year we accept: the oldest Chinese on record with an ID card was born in 1886.
EARLIEST_BIRTH_YEAR = 1880

MALE, FEMALE = 1, 2  # GB/T 2261.1 sex codes, as in the population registry

_SEPARATORS = re.compile(r"[\s\-]+")
# ASCII digits only: \d would also take full-width and other Unicode digits.
_ID_SHAPE = re.compile(r"^[0-9]{17}[0-9X]$")
_PERMIT_SHAPE = re.compile(r"^([HM][0-9]{8})([0-9]{2})?$")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
# Hong Kong mobile numbers are 8 digits starting 4–9 (OFCA's numbering plan gives 5, 6, 7, 8, 9 and 4 to
# mobile services); Macao's are 8 digits starting 6 (CTT/DSRT plan: 62–68).
_MOBILE_HK = re.compile(r"^[4-9][0-9]{7}$")
_MOBILE_MO = re.compile(r"^6[2-8][0-9]{6}$")
MOBILE_REGIONS = {"86": "CN", "852": "HK", "853": "MO"}
# Region prefixes that belong to residence permits, never to a mainland resident ID number.
_PERMIT_PREFIXES = {"81": "HK", "82": "MO", "83": "TW"}

# GB 32100-2015: registration authority (登记管理部门) codes. 1 机构编制, 2 外交, 3 司法行政,
# 4 文化, 5 民政, 6 旅游, 7 宗教, 8 工会, 9 工商 (市场监管), A 中央军委改革和编制办公室,
# N 农业, Y 其他. The institution type (机构类别) is one more character, 1-9 under each.
_USCC_SHAPE = re.compile(r"^[1-9ANY][1-9][0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$")
# GB 11714-1997: weights of the organisation code's eight body characters.
_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def _fail(code: str, field: str | None) -> TongbanError:
    details = [{"field": field, "type": code}] if field else None
    return TongbanError(code, details=details)


# --- Citizen ID number (公民身份号码, GB 11643-1999) --------------------------------------------


@dataclass(frozen=True, slots=True)
class ResidentId:
    """A valid citizen ID number and what it encodes. repr() masks the number (logs never see it)."""

    number: str  # 18 characters, upper-case X
    region_code: str  # GB/T 2260, the first six digits
    birth_date: datetime.date
    sex: int  # GB/T 2261.1: 1 男 (odd order code), 2 女 (even)

    @property
    def masked(self) -> str:
        return mask_id_number(self.number)

    def __repr__(self) -> str:
        return f"ResidentId({self.masked})"

    __str__ = __repr__


@cache
def _region_periods() -> dict[str, tuple[tuple[int | None, int | None], ...]]:
    """GB/T 2260 code -> the periods (first year, last year; None = open) it was in use.

    Read once from python-stdnum's table (stdnum/cn/loc.dat, the one stdnum.cn.ric checks against):
    two-digit province lines, each followed by its four-digit suffixes.
    """
    text = resources.files("stdnum.cn").joinpath("loc.dat").read_text(encoding="utf-8")
    periods: dict[str, tuple[tuple[int | None, int | None], ...]] = {}
    province = ""
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        if not line.startswith(" "):
            province = line[:2]
            continue
        suffix, _, rest = line.strip().partition(" ")
        names = rest.partition("=")[2].strip('"')
        spans: list[tuple[int | None, int | None]] = []
        for name in names.split(","):
            if not name.startswith("["):
                spans.append((None, None))
                continue
            start, _, end = name[1:].partition("]")[0].partition("-")
            spans.append((int(start) if start else None, int(end) if end else None))
        periods[province + suffix] = tuple(spans)
    return periods


def region_code_known(code: str, birth_year: int) -> bool:
    """Is `code` a GB/T 2260 code that was still in use in or after `birth_year`?

    A number keeps the region code of the place where it was first assigned, which can be years
    after birth (first cards from 1984, the 18-digit upgrade in 1999): a county created after the
    holder's birth is fine, one abolished before it is not. stdnum.cn.ric demands the code be in
    use in the birth year itself, which would reject real numbers.
    """
    spans = _region_periods().get(code)
    if not spans:
        return False
    return any(end is None or end >= birth_year for _, end in spans)


_GB11643_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))


def gb11643_check_character(number: str) -> str:
    """The ISO 7064 MOD 11-2 check character of the first 17 digits (GB 11643-1999 §6.2): "0"-"9" or "X"."""
    total = sum(w * (ord(c) - 48) for w, c in zip(_GB11643_WEIGHTS, number[:17], strict=True))
    return "10X98765432"[total % 11]


def _gb11643(number: str, *, prefix_ok: Callable[[str], bool], codes: dict[str, str], field: str | None,
             today: datetime.date | None) -> tuple[datetime.date, int]:
    """Shape, check digit, birth date and region of an 18-character GB 11643 number."""
    if not _ID_SHAPE.match(number):
        raise _fail(codes["format"], field)
    # The check digit first: any single mistyped digit fails it, so a typo reads as a typo.
    if number[-1] != gb11643_check_character(number):
        raise _fail(codes["checksum"], field)
    try:
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:  # an impossible date (month 13, 30 February)
        raise _fail(codes["birth_date"], field) from None
    if birth.year < EARLIEST_BIRTH_YEAR or birth > (today or clock.today_local()):
        raise _fail(codes["birth_date"], field)
    if not prefix_ok(number):
        raise _fail(codes["region"], field)
    return birth, MALE if int(number[16]) % 2 else FEMALE


_ID_CODES = {"format": "id_format", "region": "id_region", "birth_date": "id_birth_date", "checksum": "id_checksum"}


def normalise_id_number(value: str) -> str:
    """Strip spaces and dashes, upper-case the x."""
    return _SEPARATORS.sub("", value or "").upper()


def validate_resident_id(value: str, *, field: str | None = None, today: datetime.date | None = None) -> ResidentId:
    """A citizen ID number: 18 characters, a real GB/T 2260 region, a real birth date not in the
    future, and the GB 11643 check digit. Codes: id_format, id_region, id_birth_date, id_checksum.

    810000 / 820000 / 830000 numbers are residence permits, not resident IDs (id_region).
    """
    number = normalise_id_number(value)

    def prefix_ok(n: str) -> bool:
        return n[:2] not in _PERMIT_PREFIXES and region_code_known(n[:6], int(n[6:10]))

    birth, sex = _gb11643(number, prefix_ok=prefix_ok, codes=_ID_CODES, field=field, today=today)
    return ResidentId(number=number, region_code=number[:6], birth_date=birth, sex=sex)


# --- 港澳居民居住证 (GB 11643 structure, 810000 Hong Kong / 820000 Macao) ------------------------


@dataclass(frozen=True, slots=True)
class ResidencePermitNumber:
    number: str
    region: Literal["HK", "MO"]
    birth_date: datetime.date
    sex: int

    @property
    def masked(self) -> str:
        return mask_id_number(self.number)

    def __repr__(self) -> str:
        return f"ResidencePermitNumber({self.masked})"

    __str__ = __repr__


_RP_CODES = {
    "format": "residence_permit_format",
    "region": "residence_permit_format",
    "birth_date": "residence_permit_birth_date",
    "checksum": "residence_permit_checksum",
}


def validate_hk_macao_residence_permit(
    value: str, *, field: str | None = None, today: datetime.date | None = None
) -> ResidencePermitNumber:
    """港澳居民居住证 number: 810000 (HK) or 820000 (Macao), birth date, order code, GB 11643 check.

    Codes: residence_permit_format (shape or prefix), residence_permit_birth_date, residence_permit_checksum.
    """
    number = normalise_id_number(value)
    birth, sex = _gb11643(number, prefix_ok=lambda n: n[:6] in ("810000", "820000"), codes=_RP_CODES,
                          field=field, today=today)
    return ResidencePermitNumber(number=number, region="HK" if number[:2] == "81" else "MO", birth_date=birth, sex=sex)


# --- 港澳居民来往内地通行证 (回乡证) ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TravelPermit:
    """A Mainland Travel Permit number. The person is keyed on the first 9 characters; the optional
    two trailing digits count the permits issued (换证次数)."""

    number: str  # as given, normalised: 9 or 11 characters
    person_key: str  # H/M + 8 digits
    issue_count: int | None
    region: Literal["HK", "MO"]

    @property
    def masked(self) -> str:
        return mask_permit(self.number)

    def __repr__(self) -> str:
        return f"TravelPermit({self.masked})"

    __str__ = __repr__


def validate_travel_permit(value: str, *, field: str | None = None) -> TravelPermit:
    """`^[HM]\\d{8}(\\d{2})?$` after removing spaces and upper-casing. Code: travel_permit_format."""
    number = _SEPARATORS.sub("", value or "").upper()
    match = _PERMIT_SHAPE.match(number)
    if match is None:
        raise _fail("travel_permit_format", field)
    count = match.group(2)
    return TravelPermit(
        number=number,
        person_key=match.group(1),
        issue_count=None if count is None else int(count),
        region="HK" if number[0] == "H" else "MO",
    )


# --- 统一社会信用代码 (GB 32100-2015) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Uscc:
    code: str
    registration_authority: str  # 登记管理部门码, e.g. "9" 工商
    institution_type: str  # 机构类别码, e.g. "1" 企业
    region_code: str  # 登记管理机关行政区划码 (GB/T 2260)
    organisation_code: str  # 主体标识码 (GB 11714 组织机构代码, 9 characters)


def _org_code_check(body: str) -> str:
    """GB 11714 check character of an organisation code's eight body characters."""
    total = sum(int(c, 36) * w for c, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def validate_uscc(value: str, *, field: str | None = None) -> Uscc:
    """The unified social credit code: 18 characters (no I, O, S, V, Z), a registration-authority
    code, an institution type, six region digits, the organisation code with its own GB 11714 check,
    and the GB 32100 check character (stdnum.cn.uscc). Codes: uscc_format, uscc_checksum.

    The region digits are not looked up: the central level uses 100000 and codes retired since
    registration stay in the code for the entity's life.
    """
    code = _SEPARATORS.sub("", value or "").upper()
    if not _USCC_SHAPE.match(code):
        raise _fail("uscc_format", field)
    if code[-1] != _uscc.calc_check_digit(code[:17]):
        raise _fail("uscc_checksum", field)
    org = code[8:17]
    if org[-1] != _org_code_check(org[:8]):
        raise _fail("uscc_checksum", field)
    return Uscc(code=code, registration_authority=code[0], institution_type=code[1], region_code=code[2:8],
                organisation_code=org)


# --- Mainland mobile numbers --------------------------------------------------------------------


def validate_mobile(value: str, *, field: str | None = None) -> str:
    """A mobile number of the mainland, Hong Kong or Macao.

    A mainland number is normalised to its 11 digits (accepts +86 / 0086 / 86 in front). A Hong Kong
    (+852) or Macao (+853) number — 8 digits each, with +852/00852/852 or +853/00853/853 in front — is
    normalised to `+852XXXXXXXX` / `+853XXXXXXXX`; each region's own number plan is checked. Spaces,
    dashes and brackets anywhere. Code: mobile_invalid."""
    number = _SEPARATORS.sub("", (value or "").replace("(", "").replace(")", ""))
    for code, pattern in (("852", _MOBILE_HK), ("853", _MOBILE_MO)):
        for prefix in ("+" + code, "00" + code, code):
            if number.startswith(prefix) and len(number) == len(prefix) + 8:
                local = number[len(prefix):]
                if not pattern.match(local):
                    raise _fail("mobile_invalid", field)
                return f"+{code}{local}"
    for prefix in ("+86", "0086", "86"):
        if number.startswith(prefix) and len(number) == len(prefix) + 11:
            number = number[len(prefix):]
            break
    if not _MOBILE.match(number):
        raise _fail("mobile_invalid", field)
    return number


def mobile_region(number: str) -> str:
    """"CN", "HK" or "MO" for a number `validate_mobile` returned."""
    if number.startswith("+852"):
        return "HK"
    if number.startswith("+853"):
        return "MO"
    return "CN"


# --- Django validators (forms and model fields) -------------------------------------------------


def _django(validate: Callable[..., Any]) -> Callable[[Any], None]:
    def validator(value: Any) -> None:
        from django.core.exceptions import ValidationError
        from django.utils.translation import get_language

        try:
            validate(str(value))
        except TongbanError as exc:
            raise ValidationError(message_for(exc.code, get_language()), code=exc.code) from None

    validator.__name__ = f"django_{validate.__name__}"
    validator.__doc__ = f"Django validator around {validate.__name__} (ValidationError with its code)."
    return validator


resident_id_validator = _django(validate_resident_id)
hk_macao_residence_permit_validator = _django(validate_hk_macao_residence_permit)
travel_permit_validator = _django(validate_travel_permit)
uscc_validator = _django(validate_uscc)
mobile_validator = _django(validate_mobile)


# --- pydantic / django-ninja types: a 422 naming the field, `type` = our code -------------------

def _pydantic(validate: Callable[..., Any], normalised: Callable[[Any], str]) -> Callable[[str], str]:
    def check(value: str) -> str:
        try:
            return normalised(validate(value))
        except TongbanError as exc:
            raise PydanticCustomError(exc.code, message_for(exc.code, None)) from None

    return check


ResidentIdNumber = Annotated[str, AfterValidator(_pydantic(validate_resident_id, lambda r: r.number))]
HkMacaoResidencePermitNumber = Annotated[
    str, AfterValidator(_pydantic(validate_hk_macao_residence_permit, lambda r: r.number))
]
TravelPermitNumber = Annotated[str, AfterValidator(_pydantic(validate_travel_permit, lambda r: r.number))]
UsccCode = Annotated[str, AfterValidator(_pydantic(validate_uscc, lambda r: r.code))]
MobileNumber = Annotated[str, AfterValidator(_pydantic(validate_mobile, lambda r: r))]
