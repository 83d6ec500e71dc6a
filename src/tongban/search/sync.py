"""Reads for local platforms that keep a copy of the catalog: the published items as the API shows them,
and the changes since a cursor (incremental sync, docs/catalog-api.md)."""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q

from tongban.catalog import selectors as catalog
from tongban.catalog.models import Implementation, ImplementationVersion, VersionStatus
from tongban.core import clock
from tongban.core.errors import TongbanError

_CURSOR_PREFIX = "c1."


def settle_seconds() -> float:
    """Changes younger than this are not handed out yet: a transaction that committed late with an earlier
    timestamp is still seen by the next sync, because the cursor never passes a moment still settling."""
    return float(getattr(settings, "TONGBAN_CATALOG_SYNC_SETTLE_SECONDS", 2.0))


def cursor_encode(moment: dt.datetime, pk: int) -> str:
    raw = json.dumps([moment.isoformat(), pk], separators=(",", ":")).encode()
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str) -> tuple[dt.datetime, int]:
    try:
        if not cursor.startswith(_CURSOR_PREFIX):
            raise ValueError(cursor)
        body = cursor[len(_CURSOR_PREFIX):]
        moment, pk = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        parsed = dt.datetime.fromisoformat(moment)
        if parsed.tzinfo is None or not isinstance(pk, int):
            raise ValueError(cursor)
        return parsed, pk
    except (ValueError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TongbanError("catalog_cursor_invalid", status=400, message_zh="同步游标无效，请不带游标重新全量同步。",
                           message_en="The sync cursor is not valid; sync again from the start.") from exc


def item_payload(version: ImplementationVersion) -> dict[str, Any]:
    implementation = version.implementation
    organisation = implementation.organisation
    return {
        "code": implementation.code, "basic_code": implementation.basic_item.code,
        "basic_name": implementation.basic_item.name, "version": version.number,
        "department": implementation.department, "region_code": implementation.region_code,
        "organisation": {"code": organisation.code, "name": organisation.name},
        "published_at": version.published_at, "audiences": version.audiences, **version.content(),
    }


@dataclass
class Change:
    code: str
    action: str  # "upsert" (the item as published now) or "delete" (no longer published)
    version: int | None
    item: dict[str, Any] | None


def changes_since(cursor: str | None, *, limit: int) -> tuple[list[Change], str | None, bool]:
    """(changes, the cursor to pass next time, whether more are waiting now). A change is an implementation
    whose published version changed: a first publication or a new version (upsert) or a retirement (delete)."""
    until = clock.now() - dt.timedelta(seconds=settle_seconds())
    rows = Implementation.objects.filter(updated_at__lte=until)
    if cursor:
        moment, pk = cursor_decode(cursor)
        rows = rows.filter(Q(updated_at__gt=moment) | Q(updated_at=moment, pk__gt=pk))
    batch = list(rows.order_by("updated_at", "pk").values("pk", "code", "updated_at", "published_version_id")[
        : limit + 1])
    more = len(batch) > limit
    batch = batch[:limit]
    if not batch:
        return [], cursor, False
    published = {v.pk: v for v in catalog.published_versions().filter(
        pk__in=[r["published_version_id"] for r in batch if r["published_version_id"]])}
    retired = set(ImplementationVersion.objects.filter(
        implementation_id__in=[r["pk"] for r in batch if not r["published_version_id"]],
        status=VersionStatus.RETIRED).values_list("implementation_id", flat=True))
    changes: list[Change] = []
    for row in batch:
        version = published.get(row["published_version_id"])
        if version is not None:
            changes.append(Change(row["code"], "upsert", version.number, item_payload(version)))
        elif row["pk"] in retired:  # never-published drafts are nobody's business
            changes.append(Change(row["code"], "delete", None, None))
    last = batch[-1]
    return changes, cursor_encode(last["updated_at"], last["pk"]), more
