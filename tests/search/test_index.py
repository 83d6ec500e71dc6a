"""The index on the database (pg_trgm on PostgreSQL, FTS5 on SQLite) with filters and paging."""

from __future__ import annotations

import pytest

from tongban.search import selectors, services
from tongban.search.models import SearchDocument
from tongban.search.selectors import Filters

pytestmark = pytest.mark.django_db

_DOCS = [
    # code, name, department, region, depth, charged, hooked, hf, audiences(m, hk, e), events, body
    ("A1", "居民身份证换领", "hukou", "330000", 3, True, True, True, (True, False, False), ("travel",),
     "居民身份证有效期满换领。须本人到场采集指纹。"),
    ("A2", "居民身份证换领", "hukou", "440000", 3, True, True, True, (True, False, False), ("travel",),
     "居民身份证有效期满换领。"),
    ("A3", "出生登记", "hukou", "330000", 4, False, False, True, (True, False, False), ("birth",),
     "新生儿出生后一个月内申报户口，提交出生医学证明。"),
    ("A4", "普通护照签发", "exit_entry", "330000", 3, True, True, True, (True, False, False), ("exit",),
     "中国公民因私出国申请普通护照。"),
    ("A5", "无犯罪记录证明开具", "public_order", "330000", 4, False, False, True, (True, True, False),
     ("employment",), "就业、出国需要的无犯罪记录证明。"),
    ("A6", "保安员证核发", "public_order", "440000", 2, False, False, False, (True, False, True), ("employment",),
     "保安员考试合格后核发保安员证。"),
    ("A7", "驾驶人考试预约", "traffic", "440000", 4, False, True, True, (True, True, False), ("driving",),
     "科目一、科目二、科目三考试预约。"),
]


@pytest.fixture
def documents():
    for n, (code, name, dept, region, depth, charged, hooked, hf, (m, hk, e), events, body) in enumerate(_DOCS):
        services.document_write(
            implementation_id=n + 1, version_id=n + 1, version_number=1, code=code, basic_code=code[:1] + name,
            name=name, department=dept, region_code=region, online_depth=depth, charged=charged,
            audience_mainland=m, audience_hk_macao=hk, audience_enterprise=e, hooked_national=hooked,
            high_frequency=hf, life_events=events, body=[body])


def _codes(query: str, filters: Filters | None = None) -> list[str]:
    return [d.code for d in selectors.search(query, filters).results]


def test_queries_find_items(documents):
    assert set(_codes("身份证")[:2]) == {"A1", "A2"}
    assert _codes("sfz")[0] in {"A1", "A2"}
    assert _codes("护照")[0] == "A4"
    assert _codes("良民证")[0] == "A5"
    assert _codes("上户口")[0] == "A3"
    assert _codes("身份證")[0] in {"A1", "A2"}
    assert _codes("无犯罪纪录证明")[0] == "A5"
    assert _codes("kaoshi")[0] == "A7"
    assert _codes("指纹") == ["A1"]  # in the guide text only
    assert _codes("烟花爆竹") == []


def test_filters(documents):
    assert _codes("身份证", Filters(region="440100")) == ["A2"]
    assert _codes("", Filters(department="public_order")) == ["A5", "A6"]
    assert _codes("", Filters(audience="hk_macao")) == ["A7", "A5"]
    assert _codes("", Filters(depth=4, fee="free")) == ["A7", "A3", "A5"]
    assert _codes("", Filters(fee="charged", department="exit_entry")) == ["A4"]
    assert _codes("", Filters(event="employment")) == ["A5", "A6"]
    assert _codes("", Filters(audience="enterprise")) == ["A6"]
    assert _codes("证", Filters(region="330000", department="public_order")) == ["A5"]


def test_paging(documents):
    first = selectors.search("证", per_page=2)
    assert first.total >= 4 and first.pages >= 2 and first.has_next and not first.has_previous
    second = selectors.search("证", per_page=2, page=2)
    assert not {d.code for d in first.results} & {d.code for d in second.results}


def test_reindex_replaces_and_remove_drops(documents):
    services.document_write(implementation_id=4, version_id=40, version_number=2, code="A4", basic_code="A护照",
                            name="普通护照换发", department="exit_entry", region_code="330000")
    assert SearchDocument.objects.get(code="A4").version_number == 2
    assert _codes("护照换发")[0] == "A4"
    assert services.document_remove(implementation_id=4)
    assert "A4" not in _codes("护照")
    assert not services.document_remove(implementation_id=4)


def test_reindex_command_rebuilds_from_the_catalog(publish):
    from io import StringIO

    from django.core.management import call_command

    publish("330100-HJ-1", "户籍证明开具")
    SearchDocument.objects.all().delete()
    out = StringIO()
    call_command("search_reindex", stdout=out)
    assert "1 个事项" in out.getvalue()
    assert [d.code for d in selectors.search("户籍证明").results] == ["330100-HJ-1"]


def test_top_items_one_per_basic_item(documents):
    names = [d.name for d in selectors.top_items(limit=12, high_frequency=True)]
    assert names.count("居民身份证换领") == 1
    assert names[0] in {"居民身份证换领", "普通护照签发", "驾驶人考试预约"}  # hooked and high-frequency first
    assert len(names) == 5
