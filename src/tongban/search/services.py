"""Writes to the search index. The catalog's publication calls for them through signals.py: a published
version is indexed, a retired one removed, in the transaction that publishes or retires it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction

from tongban.search import backends
from tongban.search.engine import IndexFields, gram_words, index_fields
from tongban.search.models import SearchDocument, SearchTitle

BODY_LIMIT = 4000  # characters of guide text indexed per item


def flatten(value: Any) -> Iterable[str]:
    """Every string inside a JSON value (the guide's lists of conditions, materials, steps)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from flatten(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from flatten(item)


@transaction.atomic
def document_write(*, implementation_id: int, version_id: int, version_number: int, code: str, basic_code: str,
                   name: str, summary: str = "", organisation: str = "", department: str, region_code: str,
                   item_type: str = "", online_depth: int = 1, charged: bool = False,
                   audience_mainland: bool = True, audience_hk_macao: bool = False,
                   audience_enterprise: bool = False, hooked_national: bool = False, high_frequency: bool = False,
                   life_events: Sequence[str] = (), keywords: Sequence[str] = (), body: Sequence[str] = (),
                   published_at: datetime | None = None) -> SearchDocument:
    """Index one implementation (replacing what was indexed for it)."""
    fields = index_fields(title=name, keywords=keywords, body=body)
    body_text = fields.body[:BODY_LIMIT]
    title = title_for(fields)
    values = {
        "version_id": version_id, "version_number": version_number, "code": code, "basic_code": basic_code,
        "name": name, "summary": summary, "organisation": organisation, "department": department,
        "region_code": region_code, "province_code": (region_code[:2] + "0000") if region_code else "",
        "item_type": item_type, "online_depth": online_depth, "charged": charged,
        "audience_mainland": audience_mainland, "audience_hk_macao": audience_hk_macao,
        "audience_enterprise": audience_enterprise, "hooked_national": hooked_national,
        "high_frequency": high_frequency, "life_events": "," + ",".join(life_events) + "," if life_events else "",
        "title_ref": title, "title_length": len(fields.title), "body": body_text, "published_at": published_at,
    }
    previous = SearchDocument.objects.filter(implementation_id=implementation_id).values_list(
        "title_ref_id", flat=True).first()
    document, _ = SearchDocument.objects.update_or_create(implementation_id=implementation_id, defaults=values)
    backends.fts_write_body(document.pk, gram_words(body_text, unigrams=False))
    if previous is not None and previous != title.pk:
        _title_drop_if_unused(previous)
    return document


def title_for(fields: IndexFields) -> SearchTitle:
    """The shared title row of a (name, keywords) pair, made on first use."""
    signature = hashlib.sha256(f"{fields.title}\n{fields.keywords}".encode()).hexdigest()
    title, created = SearchTitle.objects.get_or_create(signature=signature, defaults={
        "title": fields.title, "keywords": fields.keywords, "pinyin": fields.pinyin,
        "pinyin_compact": fields.pinyin_compact, "initials": fields.initials, "title_grams": fields.title_grams,
        "keywords_grams": fields.keywords_grams})
    if created:
        backends.fts_write_title(title.pk, title_grams=fields.title_grams, keywords_grams=fields.keywords_grams)
    return title


def _title_drop_if_unused(title_id: int) -> None:
    if not SearchDocument.objects.filter(title_ref_id=title_id).exists():
        backends.fts_delete_title(title_id)
        SearchTitle.objects.filter(pk=title_id).delete()


@transaction.atomic
def document_remove(*, implementation_id: int) -> bool:
    document = SearchDocument.objects.filter(implementation_id=implementation_id).first()
    if document is None:
        return False
    backends.fts_delete_body(document.pk)
    title_id = document.title_ref_id
    document.delete()
    _title_drop_if_unused(title_id)
    return True


def version_body(version: Any) -> list[str]:
    """The guide text of a catalog version that search looks into (after the title and keywords)."""
    parts = [version.summary, version.result_name]
    parts += list(flatten(version.conditions))
    parts += [m.get("name", "") if isinstance(m, dict) else str(m) for m in (version.materials or [])]
    parts += list(flatten(version.process_steps))
    return [p for p in parts if p]


def version_index(*, version: Any) -> SearchDocument:
    """Index a published catalog version (tongban.catalog ImplementationVersion)."""
    implementation = version.implementation
    return document_write(
        implementation_id=implementation.pk, version_id=version.pk, version_number=version.number,
        code=implementation.code, basic_code=implementation.basic_item.code, name=version.name,
        summary=version.summary, organisation=implementation.organisation.name,
        department=implementation.department, region_code=implementation.region_code,
        item_type=version.item_type, online_depth=version.online_depth, charged=version.charged,
        audience_mainland=version.audience_mainland, audience_hk_macao=version.audience_hk_macao,
        audience_enterprise=version.audience_enterprise, hooked_national=version.hooked_national,
        high_frequency=version.high_frequency, life_events=list(version.life_events or []),
        keywords=[*list(version.keywords or []), implementation.basic_item.name],
        body=version_body(version), published_at=version.published_at)


def index_rebuild() -> int:
    """Index every published version again and drop what is no longer published; returns the count."""
    from tongban.catalog.models import ImplementationVersion, VersionStatus

    versions = (ImplementationVersion.objects.filter(status=VersionStatus.PUBLISHED)
                .select_related("implementation__basic_item", "implementation__organisation"))
    kept: set[int] = set()
    for version in versions.iterator(chunk_size=500):
        version_index(version=version)
        kept.add(version.implementation_id)
    for implementation_id in SearchDocument.objects.exclude(implementation_id__in=kept).values_list(
            "implementation_id", flat=True):
        document_remove(implementation_id=implementation_id)
    return len(kept)
