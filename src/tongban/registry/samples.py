"""Picks generated people from the source databases for demos (`tongban registry sample`).

A development tool: it reads the sources' tables directly, which the platform itself never does.
By default it prefers adults whose registration is normal and whose current card is valid, half of
them vehicle owners, so a newcomer has someone to register as and a plate to try 一键挪车 with.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.db import connections
from django.utils import timezone


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime.date) else str(value)


def _rows(alias: str, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        names = [col[0] for col in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


_HASH = (
    "((CAST(substr({col}, 7, 8) AS BIGINT) * 7919 + CAST(substr({col}, 15, 3) AS BIGINT) * 104729 + %s) %% 100003)"
)


def _shuffle_key(seed: int) -> int:
    return (seed * 7_777_777 + 12_345) % 100_003


def _years_before(day: datetime.date, years: int) -> datetime.date:
    return datetime.date(day.year - years, day.month, min(day.day, 28))


def _in(values: list[str]) -> str:
    return ", ".join(["%s"] * len(values))


def sample(n: int, *, any_status: bool = False, seed: int = 0) -> dict[str, list[dict[str, Any]]]:
    """`n` mainland people (with current card, plate, licence) and a few HK/Macao permit holders."""
    today = timezone.localdate()
    pool = max(n * 4, 40)
    # A deterministic pseudo-random order (birth date and order code hashed with the seed) spreads
    # the sample over regions, ages and both sexes; it runs the same on SQLite and PostgreSQL.
    people_filter = "" if any_status else "WHERE status = 'normal' AND birth_date BETWEEN %s AND %s"
    params: list[Any] = [_shuffle_key(seed)]
    if not any_status:
        params += [_years_before(today, 70), _years_before(today, 18)]
    candidates = _rows(
        "population",
        f"SELECT id_number, name, sex, birth_date, status, region_code, address, {_HASH.format(col='id_number')} AS k "  # noqa: S608 (placeholders only; values are parameters)
        f"FROM population_person {people_filter} ORDER BY k, id_number LIMIT %s",
        [*params, pool],
    )
    owners = _rows(
        "traffic",
        f"SELECT owner_id_number, {_HASH.format(col='owner_id_number')} AS k FROM traffic_vehicle "  # noqa: S608 (placeholders only; values are parameters)
        "ORDER BY k, plate LIMIT %s",
        [_shuffle_key(seed), pool],
    )
    owner_ids = [row["owner_id_number"] for row in owners]
    if owner_ids:
        known = {row["id_number"] for row in candidates}
        extra = _rows(
            "population",
            "SELECT id_number, name, sex, birth_date, status, region_code, address FROM population_person "  # noqa: S608 (placeholders only; values are parameters)
            f"WHERE id_number IN ({_in(owner_ids)})" + ("" if any_status else " AND status = 'normal'"),
            owner_ids,
        )
        candidates = [row for row in extra if row["id_number"] not in known] + candidates
    ids = [row["id_number"] for row in candidates]
    if not ids:
        return {"people": [], "hk_macao": _hk_macao(max(1, n // 3), any_status)}

    cards: dict[str, dict[str, Any]] = {}
    for card_row in _rows(
        "idcard",
        "SELECT id_number, valid_from, valid_to, status, issuing_authority, photo_id FROM idcard_card "  # noqa: S608 (placeholders only; values are parameters)
        f"WHERE id_number IN ({_in(ids)}) ORDER BY id_number, valid_from",
        ids,
    ):
        cards[card_row["id_number"]] = card_row  # the last (latest valid_from) is the current card
    plates: dict[str, list[str]] = {}
    for row in _rows(
        "traffic",
        f"SELECT owner_id_number, plate FROM traffic_vehicle WHERE owner_id_number IN ({_in(ids)}) ORDER BY plate",  # noqa: S608
        ids,
    ):
        plates.setdefault(row["owner_id_number"], []).append(row["plate"])
    licences = {
        row["licence_number"]: row
        for row in _rows(
            "traffic",
            "SELECT licence_number, licence_class, status, valid_to FROM traffic_licence "  # noqa: S608 (placeholders only; values are parameters)
            f"WHERE licence_number IN ({_in(ids)})",
            ids,
        )
    }

    with_plate: list[dict[str, Any]] = []
    without_plate: list[dict[str, Any]] = []
    for person in candidates:
        card = cards.get(person["id_number"])
        if not any_status and (card is None or card["status"] != "valid"):
            continue
        entry = {
            "id_number": person["id_number"],
            "name": person["name"],
            "sex": "男" if int(person["sex"]) == 1 else "女",
            "birth_date": _iso(person["birth_date"]),
            "status": person["status"],
            "region_code": person["region_code"],
            "address": person["address"],
            "card": None
            if card is None
            else {
                "valid_from": _iso(card["valid_from"]),
                "valid_to": _iso(card["valid_to"]) or "长期",
                "status": card["status"],
                "issuing_authority": card["issuing_authority"],
                "photo_id": card["photo_id"],
            },
            "plates": plates.get(person["id_number"], []),
            "plate": next(iter(plates.get(person["id_number"], [])), None),
            "licence": None,
        }
        licence = licences.get(person["id_number"])
        if licence is not None:
            entry["licence"] = {
                "class": licence["licence_class"],
                "status": licence["status"],
                "valid_to": _iso(licence["valid_to"]) or "长期",
            }
        (with_plate if entry["plate"] else without_plate).append(entry)
    half = (n + 1) // 2
    chosen = with_plate[:half]
    chosen += without_plate[: n - len(chosen)]
    chosen += with_plate[half : half + n - len(chosen)]
    chosen.sort(key=lambda e: e["id_number"][14:17])
    return {"people": chosen, "hk_macao": _hk_macao(max(1, n // 3), any_status)}


def _hk_macao(n: int, any_status: bool) -> list[dict[str, Any]]:
    where = "" if any_status else "WHERE status = 'valid'"
    rows = _rows(
        "exitentry",
        "SELECT permit_number, issue_count, residence_permit_number, region, name_zh, name_en, sex, birth_date, "  # noqa: S608 (placeholders only; values are parameters)
        f"valid_from, valid_to, status FROM exitentry_permit {where} "
        "ORDER BY (residence_permit_number IS NULL), permit_number "
        "LIMIT %s",
        [n],
    )
    return [
        {
            "permit_number": row["permit_number"],
            "permit_number_with_count": f"{row['permit_number']}{int(row['issue_count']):02d}",
            "residence_permit_number": row["residence_permit_number"],
            "region": row["region"],
            "name_zh": row["name_zh"],
            "name_en": row["name_en"],
            "sex": "男" if int(row["sex"]) == 1 else "女",
            "birth_date": _iso(row["birth_date"]),
            "valid_from": _iso(row["valid_from"]),
            "valid_to": _iso(row["valid_to"]),
            "status": row["status"],
            "hk_macao": True,
        }
        for row in rows
    ]


def with_criminal_record(n: int = 2) -> list[dict[str, Any]]:
    """People of the generated registry who have a criminal record (to try the refusal of a 无犯罪记录证明):
    number and name only; the record's details stay in the source."""
    ids = [row["id_number"] for row in _rows(
        "criminal", "SELECT DISTINCT id_number FROM criminal_record ORDER BY id_number LIMIT %s", [n * 4])]
    if not ids:
        return []
    people = _rows("population", f"SELECT id_number, name FROM population_person WHERE status = 'normal' "  # noqa: S608
                                 f"AND id_number IN ({_in(ids)}) ORDER BY id_number LIMIT %s", [*ids, n])
    return [{"id_number": p["id_number"], "name": p["name"]} for p in people]
