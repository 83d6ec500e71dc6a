"""JSON from an untrusted caller: whatever the bytes — not UTF-8, not JSON, nested thousands deep — the
answer is one clear error (`invalid_json`, 400), never a RecursionError turned into a 500 (issue 11, item 15).

Use `loads_untrusted` wherever a request body (or a decoded token part) is parsed outside a framework that
already does it.
"""

from __future__ import annotations

import json
from typing import Any

from tongban.core.errors import TongbanError

# Deeper than any request the platform accepts needs (the partner batch is three levels), far below the
# parser's recursion limit (about 1,000) and below anything that later walks the value recursively.
MAX_DEPTH = 32


def nesting_depth(value: Any) -> int:
    """How deep arrays and objects nest in a parsed JSON value (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children if isinstance(child, dict | list))
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def too_deep_error(max_depth: int) -> TongbanError:
    return TongbanError("invalid_json", details=[{"type": "nesting_too_deep", "max_depth": max_depth}])


def loads_untrusted(data: bytes | bytearray | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """`json.loads(data)`, or TongbanError("invalid_json") — for bytes that are not UTF-8 JSON (RFC 8259: no
    NaN or Infinity), and for arrays and objects nested deeper than `max_depth` (details: `nesting_too_deep`)."""
    try:
        # Strict UTF-8 (RFC 8259 §8.1): json.loads would also take UTF-16/32 and encoded lone surrogates.
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        value = json.loads(text, parse_constant=_no_constant)  # NaN, Infinity: Python's extension, not JSON
    except RecursionError:  # deeper than the parser goes: CPython's decoder stops cleanly at its limit
        raise too_deep_error(max_depth) from None
    except (ValueError, UnicodeDecodeError, TypeError):
        raise TongbanError("invalid_json") from None
    # Counting brackets is one fast pass; the walk only runs when there are enough of them to be too deep.
    if text.count("[") + text.count("{") > max_depth and nesting_depth(value) > max_depth:
        raise too_deep_error(max_depth)
    return value
