"""Reference implementations of the authoritative sources, each on its own database alias."""

from __future__ import annotations

from django.db import connections

from tongban.registry.interfaces import SourceUnavailable


class _DatabaseSource:
    name: str = ""

    def ping(self) -> None:
        try:
            with connections[self.name].cursor() as cursor:
                cursor.execute("SELECT 1")
                cursor.fetchone()
        except Exception as exc:
            raise SourceUnavailable(self.name) from exc


class DatabasePopulationSource(_DatabaseSource):
    name = "population"


class DatabaseIdCardSource(_DatabaseSource):
    name = "idcard"


class DatabaseTrafficSource(_DatabaseSource):
    name = "traffic"


class DatabaseExitEntrySource(_DatabaseSource):
    name = "exitentry"
