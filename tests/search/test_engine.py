"""The pure half of search: normalisation, pinyin, synonyms, ranking (tongban.search.engine)."""

from __future__ import annotations

from tongban.search import engine
from tongban.search.engine import Candidate, expand, index_fields, normalize, rank


def _candidate(key: int, title: str, *, keywords: tuple[str, ...] = (), body: tuple[str, ...] = (),
               hooked: bool = False, high_frequency: bool = False) -> Candidate:
    f = index_fields(title=title, keywords=keywords, body=body)
    return Candidate(key=key, title=f.title, keywords=f.keywords, body=f.body, pinyin=f.pinyin,
                     initials=f.initials, hooked=hooked, high_frequency=high_frequency)


def test_normalize_traditional_fullwidth_and_spaces():
    assert normalize("身份證 補領") == "身份证补领"
    assert normalize("ＳＦＺ") == "sfz"
    assert normalize("《居民身份证》（换领）!") == "居民身份证换领"


def test_pinyin_and_initials():
    fields = index_fields(title="居民身份证换领")
    assert fields.pinyin == "ju min shen fen zheng huan ling"
    assert fields.initials == "jmsfzhl"
    assert "身份" in fields.title_grams.split() and "证" in fields.title_grams.split()


def test_synonyms_put_in_without_doubling_the_canonical_word():
    texts = [t.text for t in expand("身份证丢了怎么办")]
    assert "居民身份证补领" in texts
    assert all("居民居民" not in t for t in texts)
    assert [t.text for t in expand("居民身份证换领")] == ["居民身份证换领"]
    assert "无犯罪记录证明" in [t.text for t in expand("开证明")]
    assert "户籍证明" in [t.text for t in expand("我要开证明")]


def test_pinyin_queries_reach_synonyms():
    terms = expand("jiazhao")
    assert terms[0].latin and terms[0].text == "jiazhao"
    assert "机动车驾驶证" in [t.text for t in terms if not t.latin]


def test_title_beats_guide_text_and_hooked_items_come_first_on_ties():
    items = [
        _candidate(1, "户籍证明开具", body=("须提交居民身份证",)),
        _candidate(2, "居民身份证申领"),
        _candidate(3, "居民身份证换领", hooked=True),
        _candidate(4, "普通护照签发"),
    ]
    ranked = rank(items, expand("身份证"))
    assert [c.key for c in ranked] == [3, 2, 1]


def test_one_wrong_character_still_finds_the_item():
    items = [_candidate(1, "无犯罪记录证明开具"), _candidate(2, "户籍证明开具"), _candidate(3, "普通护照签发")]
    assert rank(items, expand("无犯罪纪录证明"))[0].key == 1
    assert rank(items, expand("户藉证明"))[0].key == 2


def test_initials_and_full_pinyin():
    items = [_candidate(1, "居民身份证换领"), _candidate(2, "普通护照签发"), _candidate(3, "机动车驾驶证补领")]
    assert rank(items, expand("sfz"))[0].key == 1
    assert rank(items, expand("shenfenzheng"))[0].key == 1
    assert rank(items, expand("huzhao"))[0].key == 2
    assert rank(items, expand("jsz"))[0].key == 3
    assert rank(items, expand("enfen")) == []  # not from the start of a syllable


def test_nothing_for_nothing():
    assert expand("") == []
    assert expand("   ！！") == []
    assert rank([_candidate(1, "普通护照签发")], expand("烟花爆竹")) == []
    assert engine.MIN_SCORE > 0
