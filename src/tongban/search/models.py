"""The search index: one row per published implementation (实施清单事项), written when a version is
published and removed when it is retired (tongban.search.services). It holds what the result list shows
and filters on, so a search reads these tables only; the catalog stays the source of truth.

Matching happens on titles, not rows: the same item implemented by seventy county bureaus has one
`SearchTitle` (its name and keywords, their pinyin and n-grams) and seventy documents pointing at it, so
a query scores each distinct title once. The n-gram index beside the titles depends on the database: on
PostgreSQL `pg_trgm` GIN indexes over the gram columns; on SQLite the FTS5 tables `search_fts` (titles)
and `search_fts_body` (guide text) hold the same gram words (migration 0002).
"""

from __future__ import annotations

from typing import ClassVar

from django.db import models
from django.utils.translation import gettext_lazy as _


class SearchTitle(models.Model):
    """A distinct (name, keywords) pair as matched by search (tongban.search.engine.index_fields)."""

    signature = models.CharField("签名", max_length=64, unique=True, help_text=_("名称与关键词的 SHA-256"))
    title = models.CharField("规范化名称", max_length=200)
    keywords = models.TextField("规范化关键词", blank=True)
    pinyin = models.CharField("名称全拼", max_length=600, blank=True)
    pinyin_compact = models.CharField("名称全拼（连写）", max_length=600, blank=True)
    initials = models.CharField("名称拼音首字母", max_length=200, blank=True)
    title_grams = models.TextField("名称 n-gram", blank=True)
    keywords_grams = models.TextField("关键词 n-gram", blank=True)

    class Meta:
        verbose_name = "搜索名称"
        verbose_name_plural = "搜索名称"

    def __str__(self) -> str:
        return self.title


class SearchDocument(models.Model):
    implementation_id = models.BigIntegerField("实施清单事项", unique=True)
    version_id = models.BigIntegerField("版本")
    version_number = models.PositiveIntegerField("版本号")
    code = models.CharField("实施编码", max_length=48, unique=True)
    basic_code = models.CharField("基本编码", max_length=32, db_index=True)
    name = models.CharField("事项名称", max_length=100)
    summary = models.TextField("事项简介", blank=True)
    organisation = models.CharField("实施主体", max_length=100, blank=True)
    # -- filters
    department = models.CharField("部门警种", max_length=32, db_index=True)
    region_code = models.CharField("实施区划代码", max_length=6, db_index=True)
    province_code = models.CharField("省级区划代码", max_length=6, db_index=True)
    item_type = models.CharField("事项类型", max_length=32)
    online_depth = models.PositiveSmallIntegerField("网上办理深度", db_index=True)
    charged = models.BooleanField("是否收费")
    audience_mainland = models.BooleanField("面向内地居民")
    audience_hk_macao = models.BooleanField("面向港澳居民")
    audience_enterprise = models.BooleanField("面向企业")
    hooked_national = models.BooleanField("对接国家政务服务平台")
    high_frequency = models.BooleanField("高频事项")
    life_events = models.CharField("人生事件", max_length=200, blank=True, help_text=_("以逗号包围，如 ,birth,school,"))
    # -- matching (tongban.search.engine.index_fields)
    title_ref = models.ForeignKey(SearchTitle, on_delete=models.PROTECT, related_name="documents",
                                  verbose_name="搜索名称")
    title_length = models.PositiveSmallIntegerField("名称长度", default=0)
    body = models.TextField("规范化指南文本", blank=True)
    published_at = models.DateTimeField("发布时间", null=True)
    indexed_at = models.DateTimeField("索引时间", auto_now=True)

    class Meta:
        verbose_name = "搜索索引条目"
        verbose_name_plural = "搜索索引条目"
        ordering: ClassVar[list[str]] = ["code"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["hooked_national", "high_frequency"], name="search_doc_priority"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
