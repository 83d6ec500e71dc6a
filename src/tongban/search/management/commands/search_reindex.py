"""`tongban search_reindex`: rebuild the search index from the catalog's published versions (after a bulk
change made outside the catalog's services, or to recover an index)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "重建事项搜索索引（按现行发布版本）。"

    def handle(self, *args: Any, **options: Any) -> None:
        from tongban.search.services import index_rebuild

        count = index_rebuild()
        self.stdout.write(f"搜索索引已重建：{count} 个事项")
