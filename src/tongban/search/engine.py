"""The search engine's pure half: text normalisation, index fields, query expansion and ranking.

No database here. Chinese is matched by character n-grams (no word spaces, no segmenter: item titles are
short), Latin letters as full pinyin or pinyin initials (pypinyin), Traditional input is converted to
Simplified first (OpenCC), and what people type is mapped to the catalog's words (synonyms.py). A backend
(tongban.search.backends) finds candidates with an n-gram index; `rank` orders them the same way on every
database.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from tongban.search.synonyms import FILLERS, SYNONYMS

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_KEEP = re.compile(rf"[{_HAN}a-z0-9]+")
_HAN_RUN = re.compile(rf"[{_HAN}]+")
_LATIN = re.compile(r"^[a-z]+$")
_MAX_QUERY = 64  # characters of a query that are looked at; the rest is ignored

# Field weights: a title match outranks a keyword match, which outranks a match in the guide text.
W_TITLE = 1.0
W_KEYWORDS = 0.8
W_BODY = 0.45


@lru_cache(maxsize=1)
def _t2s():  # type: ignore[no-untyped-def]
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=4096)
def to_simplified(text: str) -> str:
    if not text or text.isascii():
        return text
    return str(_t2s().convert(text))


def normalize(text: str) -> str:
    """Simplified, lower case, half-width, only Han characters, Latin letters and digits (spaces dropped)."""
    text = unicodedata.normalize("NFKC", text or "")[: _MAX_QUERY * 64].lower()
    return "".join(_KEEP.findall(to_simplified(text)))


def bigrams(text: str) -> set[str]:
    return {text[i:i + 2] for i in range(len(text) - 1)}


def gram_words(text: str, *, unigrams: bool) -> str:
    """The text as space-separated character n-grams (bigrams, and each character when `unigrams`), the form
    both n-gram indexes store: pg_trgm and SQLite FTS5 both see a bigram as a word."""
    words: list[str] = []
    seen: set[str] = set()
    for run in _KEEP.findall(text):
        grams: Iterable[str]
        if _HAN_RUN.fullmatch(run):
            grams = itertools.chain(run if unigrams else (), (run[i:i + 2] for i in range(len(run) - 1)))
        else:
            grams = (run,)
        for gram in grams:
            if gram not in seen:
                seen.add(gram)
                words.append(gram)
    return " ".join(words)


def phrase_words(text: str) -> str:
    """A run of Han characters as its consecutive bigrams: as a phrase query it matches the exact text."""
    return " ".join(text[i:i + 2] for i in range(len(text) - 1)) if len(text) > 1 else text


@lru_cache(maxsize=8192)
def pinyin(text: str) -> tuple[str, str]:
    """(full pinyin with a space between syllables, initials) of the Han characters of `text`."""
    from pypinyin import lazy_pinyin

    han = "".join(_HAN_RUN.findall(text))
    if not han:
        return "", ""
    syllables = [s for s in lazy_pinyin(han, errors="ignore") if s.isascii() and s.isalpha()]
    return " ".join(syllables), "".join(s[0] for s in syllables)


@dataclass(frozen=True)
class IndexFields:
    """What the index stores for one item, computed once when a version is published."""

    title: str
    keywords: str
    body: str
    pinyin: str
    pinyin_compact: str
    initials: str
    title_grams: str
    keywords_grams: str
    body_grams: str


def index_fields(*, title: str, keywords: Sequence[str] = (), body: Sequence[str] = ()) -> IndexFields:
    title_n = normalize(title)
    keywords_n = " ".join(k for k in (normalize(word) for word in keywords) if k)
    body_n = " ".join(b for b in (normalize(part) for part in body) if b)
    full, initials = pinyin(title_n)
    return IndexFields(
        title=title_n, keywords=keywords_n, body=body_n, pinyin=full, pinyin_compact=full.replace(" ", ""),
        initials=initials, title_grams=gram_words(title_n, unigrams=True),
        keywords_grams=gram_words(keywords_n, unigrams=True), body_grams=gram_words(body_n, unigrams=False))


@dataclass(frozen=True)
class Term:
    """One way of reading the query: Han text (with n-grams) or Latin letters (pinyin), and its weight."""

    text: str
    weight: float
    latin: bool = False


def _strip_fillers(text: str) -> str:
    stripped = text
    for filler in FILLERS:
        stripped = stripped.replace(filler, "")
    return stripped or text


@lru_cache(maxsize=1)
def _keys_by_length() -> tuple[str, ...]:
    return tuple(sorted(SYNONYMS, key=len, reverse=True))


@lru_cache(maxsize=1)
def _pinyin_keys() -> dict[str, tuple[str, ...]]:
    """The synonym keys' (and their targets') full pinyin and initials, for a query typed in pinyin."""
    table: dict[str, list[str]] = {}
    for key, targets in SYNONYMS.items():
        full, initials = pinyin(key)
        for form in (full.replace(" ", ""), initials):
            if len(form) >= 2:
                table.setdefault(form, []).extend(t for t in targets if t not in table.get(form, []))
    return {form: tuple(targets) for form, targets in table.items()}


def _segments(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """The query cut into (text, replacements): the longest synonym key at each position, unless the text
    there already is one of its targets (居民身份证 is not 居民 + 身份证 → 居民居民身份证)."""
    out: list[tuple[str, tuple[str, ...]]] = []
    plain = ""
    i = 0
    while i < len(text):
        for key in _keys_by_length():
            if not text.startswith(key, i):
                continue
            targets = SYNONYMS[key]
            if any(0 <= i - target.find(key) and text.startswith(target, i - target.find(key))
                   for target in targets if key in target):
                continue
            if plain:
                out.append((plain, ()))
                plain = ""
            out.append((key, targets))
            i += len(key)
            break
        else:
            plain += text[i]
            i += 1
    if plain:
        out.append((plain, ()))
    return out


def expand(query: str, *, limit: int = 12) -> list[Term]:
    """The readings of a query, best first: as typed, with synonyms put in, and as pinyin."""
    text = normalize(query)[:_MAX_QUERY]
    if not text:
        return []
    terms: dict[tuple[str, bool], float] = {}

    def add(value: str, weight: float, latin: bool = False) -> None:
        if value and weight > terms.get((value, latin), 0.0):
            terms[(value, latin)] = weight

    if _LATIN.match(text):
        add(text, 1.0, latin=True)
        for target in _pinyin_keys().get(text, ()):
            add(target, 0.9)
        return [Term(t, w, latin) for (t, latin), w in terms.items()][:limit]
    core = _strip_fillers(text)
    add(core, 1.0)
    if core != text:
        add(text, 0.9)
    segments = _segments(core)
    options = [(seg,) if not repl else tuple(dict.fromkeys(repl)) for seg, repl in segments]
    for combo in itertools.islice(itertools.product(*options), limit):
        parts: list[str] = []
        for part in combo:
            if not parts or parts[-1] != part:  # 丢了补办 → 补领补领 → 补领
                parts.append(part)
        add("".join(parts), 0.95)
    return [Term(t, w, latin) for (t, latin), w in terms.items()][: limit + 2]


@lru_cache(maxsize=65536)
def _han_score(term: str, text: str) -> float:
    """1 when the term is in the text; otherwise how much of it is (its bigrams, then its characters): one
    wrong character in a four-character word keeps two of its three bigrams."""
    if not text:
        return 0.0
    if term in text:
        return 1.0
    if len(term) == 1:
        return 0.0
    grams = bigrams(term)
    have = sum(1 for g in grams if g in text)
    chars = set(term)
    have_chars = sum(1 for c in chars if c in text)
    return 0.6 * have / len(grams) + 0.3 * have_chars / len(chars)


def _latin_score(term: str, pinyin_spaced: str, initials: str, title: str) -> float:
    if term in title:
        return 1.0
    if initials and term == initials:
        return 1.0
    compact = pinyin_spaced.replace(" ", "")
    if len(term) >= 2 and compact:
        at = compact.find(term)
        if at >= 0:
            starts = {0}
            pos = 0
            for syllable in pinyin_spaced.split(" "):
                pos += len(syllable)
                starts.add(pos)
            if at in starts:  # from the start of a syllable: "shenfenzheng", "huzhao", "shenfenzh"
                return 0.95
    if len(term) >= 2 and initials.startswith(term):
        return 0.9
    if len(term) >= 3 and term in initials:  # inside: "sfz" of jmsfzhl
        return 0.85
    if len(term) == 2 and term in initials:
        return 0.6
    return 0.0


@dataclass
class Candidate:
    """An indexed item as the ranking sees it (a backend fills these from its rows)."""

    key: int
    title: str
    keywords: str
    body: str
    pinyin: str
    initials: str
    hooked: bool = False
    high_frequency: bool = False
    score: float = 0.0
    body_hit: bool = False  # the backend found one of the query's phrases in the guide text
    documents: list[int] | None = None  # with body_hit: the rows whose own guide text has it


def score(candidate: Candidate, terms: Sequence[Term]) -> float:
    best = 0.0
    for term in terms:
        if term.latin:
            value = _latin_score(term.text, candidate.pinyin, candidate.initials, candidate.title)
        else:
            value = _han_score(term.text, candidate.title) * W_TITLE
            if value < 1.0 and candidate.keywords:
                if term.text in candidate.keywords.split(" "):  # the item's editors listed this very phrase
                    value = W_TITLE
                else:
                    value = max(value, _han_score(term.text, candidate.keywords) * W_KEYWORDS)
            if value < W_BODY and len(term.text) > 1 and (candidate.body_hit or term.text in candidate.body):
                value = W_BODY
        best = max(best, value * term.weight)
    return best


# Below this a candidate is noise (one shared character of a long query).
MIN_SCORE = 0.3


def rank(candidates: Iterable[Candidate], terms: Sequence[Term]) -> list[Candidate]:
    """Best first. Scores are compared in steps of 0.05, so that on a tie the items hooked to the national
    platform and the high-frequency items come first, then the shorter (more specific) title."""
    kept = []
    for candidate in candidates:
        candidate.score = score(candidate, terms)
        if candidate.score >= MIN_SCORE:
            kept.append(candidate)
    kept.sort(key=lambda c: (-round(c.score * 20), not c.hooked, not c.high_frequency, len(c.title), c.key))
    return kept
