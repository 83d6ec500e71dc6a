"""Simplified ↔ Traditional Chinese through OpenCC (the converters are built once per process)."""

from __future__ import annotations

from functools import cache

import opencc


@cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def to_traditional(text: str) -> str:
    """Traditional Chinese as used in Hong Kong (s2hk), for the items offered to HK and Macao residents."""
    return _converter("s2hk").convert(text) if text else text


def to_simplified(text: str) -> str:
    return _converter("t2s").convert(text) if text else text


def is_traditional_of(traditional: str, simplified: str) -> bool:
    """True when `traditional` is written in Traditional characters and says what `simplified` says.

    Written in Traditional: converting it to Traditional again changes nothing that the Simplified
    conversion would have changed (no Simplified-only character is left in it). Same text: both sides
    reduce to the same Simplified string.
    """
    if not traditional:
        return False
    if to_simplified(traditional) != to_simplified(simplified):
        return False
    # A Simplified-only character (证, 领, 驾…) is one the t2s conversion leaves alone but s2t changes.
    return to_traditional(traditional) == traditional or _converter("s2t").convert(traditional) == traditional
