"""Bring the translation catalogs up to date (run after merging branches that add or change strings).

    .venv/bin/python scripts/i18n_update.py [--check]

1. `makemessages` for zh_Hant and en over src/tongban (templates and Python), into src/tongban/locale;
2. every zh_Hant entry without a translation is filled with OpenCC's Hong Kong Traditional (s2hk) of its
   Simplified msgid and marked fuzzy-free (review them: `git diff src/tongban/locale/zh_Hant`);
3. lists the English entries still missing (write them in src/tongban/locale/en/LC_MESSAGES/django.po);
4. compiles the .mo files (msgfmt when installed, else a small writer here).

With --check nothing is written: it exits 1 when a marked string has no entry or an entry no translation.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "src" / "tongban"
LOCALE = APP / "locale"
LANGS = ("zh_Hant", "en")


# -- a small .po reader/writer (no plurals are used in this project) ------------------------------------

ENTRY = re.compile(r'((?:^#.*\n)*)^msgid ((?:".*"\n)+)^msgstr ((?:".*"\n)+)', re.M)


def _unquote(block: str) -> str:
    return "".join(ast.literal_eval(line) for line in block.strip().split("\n"))


def _unfuzzy(comments: str) -> str:
    """The comments without the fuzzy flag (`#, fuzzy` or `#, fuzzy, python-format`)."""
    comments = re.sub(r"^#, fuzzy\n", "", comments, flags=re.M)
    return re.sub(r"^#, fuzzy, ", "#, ", comments, flags=re.M)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def read_po(path: Path) -> list[tuple[str, str, str]]:
    """(comments, msgid, msgstr) for every entry, the header (msgid "") first."""
    return [(m.group(1), _unquote(m.group(2)), _unquote(m.group(3)))
            for m in ENTRY.finditer(path.read_text(encoding="utf-8"))]


def write_po(path: Path, entries: list[tuple[str, str, str]]) -> None:
    out = []
    for comments, msgid, msgstr in entries:
        if msgid == "":
            out.append(f'{comments}msgid ""\nmsgstr ""\n' + "".join(
                _quote(line + "\n") + "\n" for line in msgstr.rstrip("\n").split("\n")))
        else:
            out.append(f"{comments}msgid {_quote(msgid)}\nmsgstr {_quote(msgstr)}\n")
    path.write_text("\n".join(out), encoding="utf-8")


def write_mo(po: Path, mo: Path) -> None:
    """GNU .mo (the layout msgfmt writes), translated entries only."""
    pairs = sorted((k.encode(), v.encode()) for _, k, v in read_po(po) if v and "#, fuzzy" not in _)
    ids = b"".join(k + b"\0" for k, _ in pairs)
    strs = b"".join(v + b"\0" for _, v in pairs)
    n = len(pairs)
    start = 7 * 4 + 16 * n
    offsets, pos = [], 0
    for k, _ in pairs:
        offsets += [len(k), start + pos]
        pos += len(k) + 1
    soffsets, pos = [], 0
    for _, v in pairs:
        soffsets += [len(v), start + len(ids) + pos]
        pos += len(v) + 1
    header = struct.pack("Iiiiiii", 0x950412DE, 0, n, 7 * 4, 7 * 4 + 8 * n, 0, 0)
    mo.write_bytes(header + struct.pack(f"{2 * n}i", *offsets) + struct.pack(f"{2 * n}i", *soffsets) + ids + strs)


def compile_all() -> None:
    for lang in LANGS:
        po = LOCALE / lang / "LC_MESSAGES" / "django.po"
        mo = po.with_suffix(".mo")
        if shutil.which("msgfmt"):
            subprocess.run(["msgfmt", "--check-format", "-o", str(mo), str(po)], check=True)  # noqa: S603, S607
        else:
            write_mo(po, mo)


def _django() -> None:
    for path in (str(ROOT), str(ROOT / "src")):
        if path not in sys.path:
            sys.path.insert(0, path)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()


def makemessages(into: Path, source: Path = APP) -> None:
    """makemessages over `source` (src/tongban, or a copy of it when only checking: makemessages writes
    temporary files beside the templates it reads, which two runs at once would trip over) into `into`."""
    _django()
    from django.core.management import call_command
    from django.test.utils import override_settings

    here = os.getcwd()
    os.chdir(source)
    try:
        with override_settings(LOCALE_PATHS=[into]):
            call_command("makemessages", locale=list(LANGS), no_location=True, no_obsolete=True, no_wrap=True,
                         ignore_patterns=["migrations/*", "locale/*"], verbosity=0)
    finally:
        os.chdir(here)


def missing(locale: Path) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for lang in LANGS:
        entries = read_po(locale / lang / "LC_MESSAGES" / "django.po")
        out[lang] = [msgid for comments, msgid, msgstr in entries if msgid and (not msgstr or "fuzzy" in comments)]
    return out


def fill_traditional(locale: Path) -> int:
    _django()
    from tongban.core.hant import to_traditional

    po = locale / "zh_Hant" / "LC_MESSAGES" / "django.po"
    entries = read_po(po)
    filled = 0
    for index, (comments, msgid, msgstr) in enumerate(entries):
        if not msgid:
            entries[index] = (_unfuzzy(comments), msgid, msgstr)
        elif not msgstr or "fuzzy" in comments:
            entries[index] = (_unfuzzy(comments), msgid, to_traditional(msgid))
            filled += 1
    write_po(po, entries)
    return filled


def check() -> dict[str, list[str]]:
    """The marked strings without a translation, by language (makemessages into a copy of the catalogs)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "tongban"
        shutil.copytree(APP, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo"))
        copy = source / "locale"
        makemessages(copy, source)
        return missing(copy)


def main(argv: list[str]) -> int:
    if "--check" in argv:
        gaps = check()
        for lang, ids in gaps.items():
            for msgid in ids:
                print(f"{lang}: no translation for {msgid!r}")
        return 1 if any(gaps.values()) else 0
    makemessages(LOCALE)
    print(f"zh_Hant: {fill_traditional(LOCALE)} entries filled by OpenCC (s2hk): review them")
    for msgid in missing(LOCALE)["en"]:
        print(f"en: missing {msgid!r}")
    compile_all()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
