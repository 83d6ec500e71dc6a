"""Reads for local platforms that keep a copy of the catalog: the published items as the API shows them,
and the changes since a cursor (incremental sync, docs/catalog-api.md)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from tongban.catalog import selectors as catalog
from tongban.catalog.models import ImplementationVersion
from tongban.core.errors import TongbanError

_CURSOR_PREFIX = "c1."


def cursor_encode(seq: int) -> str:
    raw = json.dumps({"seq": seq}, separators=(",", ":")).encode()
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(cursor: str) -> int:
    try:
        if not cursor.startswith(_CURSOR_PREFIX):
            raise ValueError(cursor)
        body = cursor[len(_CURSOR_PREFIX):]
        seq = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))["seq"]
        if not isinstance(seq, int) or seq < 0:
            raise ValueError(cursor)
        return seq
    except (ValueError, TypeError, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
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
    """(changes, the cursor to pass next time, whether more are waiting now), from the catalog's change feed
    (tongban.catalog `CatalogChange`, numbered in commit order). Each implementation named in the page is
    given as it stands now — its published version, or a deletion — so the order of a retirement and the
    publication that replaced it does not matter to the copy."""
    after = cursor_decode(cursor) if cursor else 0
    feed = catalog.changes_since(after, limit=limit + 1)
    more = len(feed) > limit
    feed = feed[:limit]
    if not feed:
        return [], cursor, False
    codes: dict[int, str] = {}
    for change in feed:
        codes.pop(change.implementation_id, None)
        codes[change.implementation_id] = change.implementation.code  # its last place in the page
    current = {v.implementation_id: v for v in catalog.published_versions().filter(implementation_id__in=codes)}
    changes = []
    for implementation_id, code in codes.items():
        version = current.get(implementation_id)
        if version is not None:
            changes.append(Change(code, "upsert", version.number, item_payload(version)))
        else:
            changes.append(Change(code, "delete", None, None))
    return changes, cursor_encode(feed[-1].seq), more
