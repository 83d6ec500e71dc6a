"""Mark the Chinese text of Django templates for translation (a one-off helper; review its diff).

    python scripts/i18n_mark.py src/tongban/<app>/templates/...html [...]

Text between HTML tags and template tags that holds Chinese becomes {% translate "…" %} (or
{% blocktranslate with a=expr %}…{{ a }}…{% endblocktranslate %} when it holds {{ expr }}); the
placeholder, title, alt, aria-label and content attributes likewise. Adds {% load i18n %}. Text inside
<script>/<style> and template comments is left alone. tests/core/test_i18n.py finds what it missed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff01-\uff5e]")
# HTML tags, template tags, comments; text and {{ }} lie between them.
SPLIT = re.compile(r"(<script\b.*?</script>|<style\b.*?</style>|<!--.*?-->|\{#.*?#\}|\{%.*?%\}|<[^>]*>)", re.S)
VAR = re.compile(r"\{\{\s*(.*?)\s*\}\}")
ATTR = re.compile(r'\b(placeholder|title|alt|aria-label|content|data-confirm|value)="([^"{}]*)"')
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _text(segment: str) -> str:
    if not CJK.search(segment):
        return segment
    lead = segment[: len(segment) - len(segment.lstrip())]
    trail = segment[len(segment.rstrip()):]
    body = segment.strip()
    multiline = "\n" in body
    if "{{" not in body:
        if multiline or '"' in body:
            opening = "{% blocktranslate trimmed %}" if multiline else "{% blocktranslate %}"
            return f"{lead}{opening}{body}{{% endblocktranslate %}}{trail}"
        return f'{lead}{{% translate "{body}" %}}{trail}'
    names: dict[str, str] = {}

    def sub(match: re.Match[str]) -> str:
        expr = match.group(1)
        if IDENT.match(expr):
            return "{{ " + expr + " }}"
        if expr not in names:
            names[expr] = f"v{len(names) + 1}"
        return "{{ " + names[expr] + " }}"

    inner = VAR.sub(sub, body)
    with_part = (" with " + " ".join(f"{name}={expr}" for expr, name in names.items())) if names else ""
    trimmed = " trimmed" if multiline else ""
    return f"{lead}{{% blocktranslate{with_part}{trimmed} %}}{inner}{{% endblocktranslate %}}{trail}"


def _tag(tag: str) -> str:
    if tag.startswith("<") and not tag.startswith(("<script", "<style", "<!--")):
        return ATTR.sub(lambda m: f'{m.group(1)}="{{% translate \'{m.group(2)}\' %}}"' if CJK.search(m.group(2))
                        and "'" not in m.group(2) else m.group(0), tag)
    return tag


def mark(source: str) -> str:
    parts = SPLIT.split(source)
    out = []
    inside = False  # within {% blocktranslate %}…{% endblocktranslate %}: already marked
    for index, part in enumerate(parts):
        if index % 2:
            if re.match(r"\{%\s*(blocktranslate|blocktrans)\b", part):
                inside = True
            elif re.match(r"\{%\s*(endblocktranslate|endblocktrans)\b", part):
                inside = False
            out.append(_tag(part))
        else:
            out.append(part if inside else _text(part))
    text = "".join(out)
    if "{% load i18n" not in text and ("{% translate" in text or "{% blocktranslate" in text):
        lines = text.split("\n")
        at = 1 if lines and lines[0].startswith("{% extends") else 0
        if at == 0 and lines and lines[0].startswith("{% load "):
            lines[0] = "{% load i18n %}" + lines[0]
        else:
            lines.insert(at, "{% load i18n %}")
        text = "\n".join(lines)
    return text


def main(paths: list[str]) -> int:
    for name in paths:
        path = Path(name)
        before = path.read_text(encoding="utf-8")
        after = mark(before)
        if after != before:
            path.write_text(after, encoding="utf-8")
            print("marked", path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
