"""Small filters of the item pages: money in fen shown in yuan (never through a float)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def yuan(fen: Any) -> str:
    try:
        value = int(fen)
    except (TypeError, ValueError):
        return ""
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}{value // 100}" if value % 100 == 0 else f"{sign}{value // 100}.{value % 100:02d}"
