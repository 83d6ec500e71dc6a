"""At least 100 real queries, each finding its item among the first three results, on the shipped catalog
(the same test runs on SQLite and on PostgreSQL: the candidates come from each database's own n-gram
index, the ranking is shared)."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.search.queries import QUERIES
from tongban.search import selectors

pytestmark = pytest.mark.django_db


@pytest.fixture
def shipped_catalog(db):
    from tongban.catalog.loading import catalog_load

    catalog_load()


def test_the_list_is_long_and_varied():
    kinds = Counter(kind for _, _, kind in QUERIES)
    assert len(QUERIES) >= 100
    for kind in ("pinyin", "initials", "traditional", "synonym", "typo"):
        assert kinds[kind] >= 10, kind


def test_every_query_finds_its_item_in_the_top_three(shipped_catalog):
    misses = []
    for query, expected, kind in QUERIES:
        top = [d.name for d in selectors.search(query, per_page=3).results]
        if expected not in top:
            misses.append(f"{kind}: {query!r} → {top} (wanted {expected})")
    assert not misses, f"{len(misses)} of {len(QUERIES)} queries missed:\n" + "\n".join(misses)


def test_a_region_filter_keeps_its_own_implementations(shipped_catalog):
    results = selectors.search("身份证", selectors.Filters(region="440100"), per_page=50).results
    assert results and all(d.region_code.startswith("44") for d in results)
