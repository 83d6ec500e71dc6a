"""The interfaces through which the platform reaches the authoritative sources other bureaus own.

The platform never reads a source's tables: it asks compare-style questions ("is this name
consistent with this number?") and the few look-ups services need. The implementation behind each
interface is chosen in settings (TONGBAN_SOURCES, dotted paths), so a deployment can put the real
bureau's API there; the project ships reference sources with their own databases.

Every answer is a small frozen dataclass (never a model instance); every failure to reach the
source is SourceUnavailable, which callers must never treat as a pass.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.utils.module_loading import import_string


class SourceUnavailable(Exception):
    """The source timed out or failed. Callers must treat this as "not verified", never as a pass."""


# --- Enumerated codes shared by the sources, the generator and the platform -------------------


class PersonStatus(StrEnum):
    """户籍状态 in the population registry."""

    NORMAL = "normal"  # 正常
    DECEASED = "deceased"  # 死亡
    CANCELLED = "cancelled"  # 注销
    EMIGRATED = "emigrated"  # 迁出境外

    @property
    def label(self) -> str:
        return {"normal": "正常", "deceased": "死亡", "cancelled": "注销", "emigrated": "迁出境外"}[self.value]


class CardStatus(StrEnum):
    """居民身份证状态."""

    VALID = "valid"  # 有效
    LOST = "lost"  # 挂失
    VOID = "void"  # 作废
    EXPIRED = "expired"  # 过期

    @property
    def label(self) -> str:
        return {"valid": "有效", "lost": "挂失", "void": "作废", "expired": "过期"}[self.value]


class IssueReason(StrEnum):
    """申领原因."""

    FIRST = "first"  # 首次申领
    RENEWAL = "renewal"  # 换领
    REPLACEMENT = "replacement"  # 补领

    @property
    def label(self) -> str:
        return {"first": "首次申领", "renewal": "换领", "replacement": "补领"}[self.value]


class LicenceStatus(StrEnum):
    """机动车驾驶证状态."""

    NORMAL = "normal"  # 正常
    SUSPENDED = "suspended"  # 暂扣
    REVOKED = "revoked"  # 吊销
    CANCELLED = "cancelled"  # 注销

    @property
    def label(self) -> str:
        return {"normal": "正常", "suspended": "暂扣", "revoked": "吊销", "cancelled": "注销"}[self.value]


class PermitStatus(StrEnum):
    """港澳居民来往内地通行证状态."""

    VALID = "valid"  # 有效
    VOID = "void"  # 作废
    EXPIRED = "expired"  # 过期

    @property
    def label(self) -> str:
        return {"valid": "有效", "void": "作废", "expired": "过期"}[self.value]


# --- Answers --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PersonCompare:
    """人口信息比对结果: whether the number exists, whether the name matches, and the status code."""

    found: bool
    name_consistent: bool
    status: PersonStatus | None = None


@dataclass(frozen=True, slots=True)
class CardCheck:
    """身份证有效期比对结果.

    `consistent` is true when the given validity dates are those of the person's *current* card
    (the latest issued); `status` is that current card's status. A card that matches the dates but
    was superseded gives consistent=False, superseded=True.
    """

    found: bool
    consistent: bool
    status: CardStatus | None = None
    superseded: bool = False


@dataclass(frozen=True, slots=True)
class CardPhoto:
    """The photo on the person's current card (JPEG bytes) and the photo record it came from."""

    photo_id: int
    image: bytes
    content_type: str = "image/jpeg"


@dataclass(frozen=True, slots=True)
class VehicleInfo:
    plate: str
    plate_type: str  # GA 36 号牌种类: "02" 小型汽车, "52" 小型新能源汽车
    vehicle_type: str  # GA 24.4 车辆类型: K33 轿车, K31 小型普通客车, H31 轻型普通货车 ...
    registered_on: datetime.date


@dataclass(frozen=True, slots=True)
class OwnerContact:
    """Who to reach about a plate (一键挪车): the owner's number and phone, never shown to the requester."""

    plate: str
    owner_id_number: str
    phone: str


@dataclass(frozen=True, slots=True)
class LicenceInfo:
    found: bool
    name_consistent: bool = False
    licence_class: str | None = None
    status: LicenceStatus | None = None
    valid_to: datetime.date | None = None  # None with found=True means 长期
    points: int | None = None
    cycle_start: datetime.date | None = None


@dataclass(frozen=True, slots=True)
class PermitCompare:
    """回乡证比对结果; `issue_count_consistent` is None when the caller gave no issue count."""

    found: bool
    name_consistent: bool
    status: PermitStatus | None = None
    region: str | None = None  # "HK" or "MO"
    issue_count_consistent: bool | None = None
    # Which name did not match, when the caller gave both (None: not given). `name_consistent` is all given.
    name_zh_consistent: bool | None = None
    name_en_consistent: bool | None = None


@dataclass(frozen=True, slots=True)
class PermitHolder:
    """The names on a permit, as the permit carries them: the Chinese name in its own form (Traditional for
    most Hong Kong and Macao residents), the English name in the permit's spelling and case. Asked only
    by the platform for an account it has just verified against this permit — never answered to partners."""

    name_zh: str
    name_en: str
    region: str


@dataclass(frozen=True, slots=True)
class RecordCheck:
    """违法犯罪记录查询结果: a verdict only — whether a criminal record exists for the number (within the
    period asked, when one is given). No offence, court or date leaves the source: the certificate and the
    refusal notice need nothing more."""

    has_record: bool


# --- Interfaces -----------------------------------------------------------------------------------


@runtime_checkable
class Source(Protocol):
    name: str

    def ping(self) -> None:
        """Raise SourceUnavailable unless the source answers."""


@runtime_checkable
class PopulationSource(Source, Protocol):
    def compare(self, id_number: str, name: str) -> PersonCompare:
        """Is this name the registered name for this citizen ID number, and what is the status?"""

    def household_address(self, id_number: str) -> str | None:
        """The registered household address (户籍地址) of this citizen ID number, or None if unknown.

        Data, not a verdict: only the platform's own services may ask (免提交 in the case engine, for the
        applicant's own number, audited); the partner API never exposes it (invariant 2)."""


@runtime_checkable
class IdCardSource(Source, Protocol):
    def current_card_check(
        self, id_number: str, valid_from: datetime.date, valid_to: datetime.date | None
    ) -> CardCheck:
        """Are these validity dates (valid_to None = 长期) those of the person's current card?"""

    def card_photo(self, id_number: str) -> CardPhoto | None:
        """The current card's photo, for face matching; None when the person has no card."""


@runtime_checkable
class TrafficSource(Source, Protocol):
    def vehicles_by_owner(self, id_number: str) -> tuple[VehicleInfo, ...]:
        """The vehicles registered to this ID number (possibly none)."""

    def owner_contact_for_plate(self, plate: str) -> OwnerContact | None:
        """The owner's phone for a plate (一键挪车); None when the plate is unknown."""

    def licence_status(self, licence_number: str, name: str | None = None) -> LicenceInfo:
        """The driving licence's class, status, validity and points (licence number = ID number)."""


@runtime_checkable
class ExitEntrySource(Source, Protocol):
    def compare(self, permit_number: str, name: str, name_en: str | None = None) -> PermitCompare:
        """Is this name (Chinese or English) the holder of this Mainland Travel Permit (H/M + 8 digits [+ 2])?
        With `name_en` too, both the Chinese and the English name must match. Case, spacing and
        Traditional/Simplified forms are ignored."""
        ...

    def holder(self, permit_number: str) -> PermitHolder | None:
        """The permit's names (for an account verified against it), None when unknown."""

    def residence_permit_check(self, residence_permit_number: str, name: str) -> PermitCompare:
        """Is this name the holder of this 港澳居民居住证 number (810000/820000...)?"""


@runtime_checkable
class CriminalRecordSource(Source, Protocol):
    def record_check(self, id_number: str, since: datetime.date | None = None) -> RecordCheck:
        """Has this citizen ID number a criminal record (a judgment on or after `since`, if given)?"""


@cache
def get_source(name: str) -> Source:
    """The configured implementation of source `name` (population, idcard, traffic, exitentry, criminal)."""
    try:
        dotted = settings.TONGBAN_SOURCES[name]
    except KeyError as exc:
        raise LookupError(f"no authoritative source named {name!r} in TONGBAN_SOURCES") from exc
    return import_string(dotted)()


def population() -> PopulationSource:
    return get_source("population")  # type: ignore[return-value]


def idcard() -> IdCardSource:
    return get_source("idcard")  # type: ignore[return-value]


def traffic() -> TrafficSource:
    return get_source("traffic")  # type: ignore[return-value]


def exitentry() -> ExitEntrySource:
    return get_source("exitentry")  # type: ignore[return-value]


def criminal_records() -> CriminalRecordSource:
    return get_source("criminal")  # type: ignore[return-value]


def source_names() -> list[str]:
    return list(settings.TONGBAN_SOURCES)
