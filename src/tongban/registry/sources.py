"""Reference implementations of the authoritative sources, each on its own database alias.

Each answer is one indexed query against the source's own database (raw SQL, no model instances,
no joins across sources). Any database error becomes SourceUnavailable, which never passes.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence
from typing import Any

from django.db import Error as DatabaseError

from tongban.core.hant import same_name
from tongban.core.statements import Statement
from tongban.registry.interfaces import (
    CardCheck,
    CardPhoto,
    CardStatus,
    LicenceInfo,
    LicenceStatus,
    OwnerContact,
    PermitCompare,
    PermitHolder,
    PermitStatus,
    PersonCompare,
    PersonStatus,
    RecordCheck,
    SourceUnavailable,
    VehicleInfo,
)

_PERMIT = re.compile(r"^([HM]\d{8})(\d{2})?$")
_SPACES = re.compile(r"[\s,·•.]+")


def _date(value: Any) -> datetime.date | None:
    if value is None or isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value))


def _id_number(value: str) -> str:
    return value.strip().upper()


def _same_name(given: str, registered: str) -> bool:
    """Names compare exactly, ignoring surrounding spaces and the middle dot of minority names."""
    return _SPACES.sub("", given) == _SPACES.sub("", registered) and bool(given.strip())


class _DatabaseSource:
    """Each query is a prepared statement on the source's own alias (tongban.core.statements)."""

    name: str = ""

    def __init__(self) -> None:
        self._statements: dict[str, Statement] = {}

    def _statement(self, sql: str) -> Statement:
        statement = self._statements.get(sql)
        if statement is None:
            statement = self._statements[sql] = Statement(self.name, sql)
        return statement

    def _all(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            return self._statement(sql).rows(params)
        except DatabaseError as exc:
            raise SourceUnavailable(self.name) from exc

    def _one(self, sql: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def ping(self) -> None:
        self._one("SELECT 1", [])


class DatabasePopulationSource(_DatabaseSource):
    name = "population"

    def compare(self, id_number: str, name: str) -> PersonCompare:
        row = self._one("SELECT name, status FROM population_person WHERE id_number = %s", [_id_number(id_number)])
        if row is None:
            return PersonCompare(found=False, name_consistent=False)
        return PersonCompare(found=True, name_consistent=_same_name(name, row[0]), status=PersonStatus(row[1]))

    def household_address(self, id_number: str) -> str | None:
        row = self._one("SELECT address FROM population_person WHERE id_number = %s", [_id_number(id_number)])
        return str(row[0]) if row and row[0] else None


class DatabaseIdCardSource(_DatabaseSource):
    name = "idcard"

    def current_card_check(
        self, id_number: str, valid_from: datetime.date, valid_to: datetime.date | None
    ) -> CardCheck:
        rows = self._all(
            "SELECT valid_from, valid_to, status FROM idcard_card WHERE id_number = %s ORDER BY valid_from DESC",
            [_id_number(id_number)],
        )
        if not rows:
            return CardCheck(found=False, consistent=False)
        wanted = (valid_from, valid_to)
        current = (_date(rows[0][0]), _date(rows[0][1]))
        superseded = any((_date(r[0]), _date(r[1])) == wanted for r in rows[1:])
        return CardCheck(
            found=True,
            consistent=current == wanted,
            status=CardStatus(rows[0][2]),
            superseded=superseded and current != wanted,
        )

    def card_photo(self, id_number: str) -> CardPhoto | None:
        row = self._one(
            "SELECT p.id, p.image FROM idcard_photo p WHERE p.id = ("
            "SELECT c.photo_id FROM idcard_card c WHERE c.id_number = %s ORDER BY c.valid_from DESC LIMIT 1)",
            [_id_number(id_number)],
        )
        if row is None:
            return None
        return CardPhoto(photo_id=int(row[0]), image=bytes(row[1]))


class DatabaseTrafficSource(_DatabaseSource):
    name = "traffic"

    @staticmethod
    def _plate(plate: str) -> str:
        return _SPACES.sub("", plate).upper()

    def vehicles_by_owner(self, id_number: str) -> tuple[VehicleInfo, ...]:
        rows = self._all(
            "SELECT plate, plate_type, vehicle_type, registered_on FROM traffic_vehicle "
            "WHERE owner_id_number = %s ORDER BY plate",
            [_id_number(id_number)],
        )
        return tuple(VehicleInfo(r[0], r[1], r[2], _date(r[3])) for r in rows)  # type: ignore[arg-type]

    def owner_contact_for_plate(self, plate: str) -> OwnerContact | None:
        normalized = self._plate(plate)
        row = self._one("SELECT owner_id_number, owner_phone FROM traffic_vehicle WHERE plate = %s", [normalized])
        if row is None:
            return None
        return OwnerContact(plate=normalized, owner_id_number=row[0], phone=row[1])

    def licence_status(self, licence_number: str, name: str | None = None) -> LicenceInfo:
        row = self._one(
            "SELECT name, licence_class, status, valid_to, points, cycle_start FROM traffic_licence "
            "WHERE licence_number = %s",
            [_id_number(licence_number)],
        )
        if row is None:
            return LicenceInfo(found=False)
        return LicenceInfo(
            found=True,
            name_consistent=name is not None and _same_name(name, row[0]),
            licence_class=row[1],
            status=LicenceStatus(row[2]),
            valid_to=_date(row[3]),
            points=int(row[4]),
            cycle_start=_date(row[5]),
        )


class DatabaseExitEntrySource(_DatabaseSource):
    name = "exitentry"

    _COLUMNS = "name_zh, name_en, status, region, issue_count"

    @staticmethod
    def _answer(row: tuple[Any, ...] | None, name: str, issue_count: int | None = None,
                name_en: str | None = None) -> PermitCompare:
        if row is None:
            return PermitCompare(found=False, name_consistent=False)
        name_zh, registered_en, status, region, count = row
        zh_ok: bool | None = None
        en_ok: bool | None = None
        if name_en:
            zh_ok = same_name(name, name_zh)
            en_ok = same_name(name_en, registered_en)
            consistent = zh_ok and en_ok
        else:  # one name, Chinese or English
            consistent = same_name(name, name_zh) or same_name(name, registered_en)
        return PermitCompare(
            found=True,
            name_consistent=consistent,
            status=PermitStatus(status),
            region=region,
            issue_count_consistent=None if issue_count is None else int(count) == issue_count,
            name_zh_consistent=zh_ok,
            name_en_consistent=en_ok,
        )

    def compare(self, permit_number: str, name: str, name_en: str | None = None) -> PermitCompare:
        match = _PERMIT.match(_SPACES.sub("", permit_number).upper())
        if match is None:
            return PermitCompare(found=False, name_consistent=False)
        base, count = match.group(1), match.group(2)
        row = self._one(f"SELECT {self._COLUMNS} FROM exitentry_permit WHERE permit_number = %s", [base])  # noqa: S608
        return self._answer(row, name, None if count is None else int(count), name_en)

    def holder(self, permit_number: str) -> PermitHolder | None:
        match = _PERMIT.match(_SPACES.sub("", permit_number).upper())
        if match is None:
            return None
        row = self._one("SELECT name_zh, name_en, region FROM exitentry_permit WHERE permit_number = %s",
                        [match.group(1)])
        return None if row is None else PermitHolder(name_zh=row[0], name_en=row[1], region=row[2])

    def residence_permit_check(self, residence_permit_number: str, name: str) -> PermitCompare:
        row = self._one(
            f"SELECT {self._COLUMNS} FROM exitentry_permit WHERE residence_permit_number = %s",  # noqa: S608
            [_id_number(residence_permit_number)],
        )
        return self._answer(row, name)


class DatabaseCriminalRecordSource(_DatabaseSource):
    name = "criminal"

    def record_check(self, id_number: str, since: datetime.date | None = None) -> RecordCheck:
        if since is None:
            row = self._one("SELECT 1 FROM criminal_record WHERE id_number = %s LIMIT 1", [_id_number(id_number)])
        else:
            row = self._one("SELECT 1 FROM criminal_record WHERE id_number = %s AND judged_on >= %s LIMIT 1",
                            [_id_number(id_number), since])
        return RecordCheck(has_record=row is not None)
