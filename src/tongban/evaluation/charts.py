"""Server-rendered SVG bar charts for the supervisors' statistics: no script, a title and a description for
screen readers (role="img"), and the same figures in a table beside each chart."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from django.utils.safestring import SafeString, mark_safe

BAR = 22
GAP = 8
LABEL_WIDTH = 150
CHART_WIDTH = 560


def bar_chart(chart_id: str, title: str, rows: Sequence[tuple[str, float]], *, maximum: float = 100.0,
              unit: str = "%") -> SafeString:
    """Horizontal bars, one per (label, value); values from 0 to `maximum`."""
    height = max(1, len(rows)) * (BAR + GAP) + GAP
    plot = CHART_WIDTH - LABEL_WIDTH - 70
    desc = "；".join(f"{label} {value:g}{unit}" for label, value in rows) or "暂无数据"
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" id="{escape(chart_id)}" '
             f'width="100%" viewBox="0 0 {CHART_WIDTH} {height}" aria-labelledby="{escape(chart_id)}-t '
             f'{escape(chart_id)}-d"><title id="{escape(chart_id)}-t">{escape(title)}</title>'
             f'<desc id="{escape(chart_id)}-d">{escape(desc)}</desc>']
    for i, (label, value) in enumerate(rows):
        y = GAP + i * (BAR + GAP)
        width = 0 if maximum <= 0 else max(0.0, min(1.0, value / maximum)) * plot
        parts.append(f'<text x="{LABEL_WIDTH - 6}" y="{y + BAR * 0.7:.1f}" text-anchor="end" font-size="13" '
                     f'fill="#1f2933">{escape(label[:12])}</text>'
                     f'<rect x="{LABEL_WIDTH}" y="{y}" width="{width:.1f}" height="{BAR}" fill="#1f5fa8"></rect>'
                     f'<text x="{LABEL_WIDTH + width + 6:.1f}" y="{y + BAR * 0.7:.1f}" font-size="13" '
                     f'fill="#1f2933">{value:g}{escape(unit)}</text>')
    if not rows:
        parts.append(f'<text x="{LABEL_WIDTH}" y="{GAP + BAR * 0.7}" font-size="13" fill="#1f2933">暂无数据</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308  (every text inserted above is escaped)
