"""The interfaces through which the platform reaches the authoritative sources other bureaus own.

The platform never reads a source's tables: it asks compare-style questions ("is this name
consistent with this number?") and the few look-ups services need. The implementation behind each
interface is chosen in settings (TONGBAN_SOURCES, dotted paths), so a deployment can put the real
bureau's API there; the project ships reference sources with their own databases.
"""

from __future__ import annotations

from functools import cache
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.utils.module_loading import import_string


class SourceUnavailable(Exception):
    """The source timed out or failed. Callers must treat this as "not verified", never as a pass."""


@runtime_checkable
class Source(Protocol):
    name: str

    def ping(self) -> None:
        """Raise SourceUnavailable unless the source answers."""


@cache
def get_source(name: str) -> Source:
    """The configured implementation of source `name` (population, idcard, traffic, exitentry)."""
    try:
        dotted = settings.TONGBAN_SOURCES[name]
    except KeyError as exc:
        raise LookupError(f"no authoritative source named {name!r} in TONGBAN_SOURCES") from exc
    return import_string(dotted)()


def source_names() -> list[str]:
    return list(settings.TONGBAN_SOURCES)
