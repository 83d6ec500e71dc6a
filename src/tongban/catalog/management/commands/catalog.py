"""`tongban catalog load|check|export`: the shipped catalog's data files and the implementation lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tongban.audit.services import Actor


class Command(BaseCommand):
    help = "事项目录：load 加载数据文件（幂等），check 只校验数据文件，export 导出实施清单（JSON 或 CSV）。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load", help="加载 src/tongban/catalog/data 下的数据文件（可重复运行）")
        load.add_argument("--dir", type=Path, default=None, help="数据文件目录（默认随软件发布的目录）")
        check = sub.add_parser("check", help="校验数据文件，不写数据库")
        check.add_argument("--dir", type=Path, default=None)
        export = sub.add_parser("export", help="导出现行发布的实施清单")
        export.add_argument("--format", choices=["json", "csv"], default="json")
        export.add_argument("--out", type=Path, required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        from tongban.catalog.loading import CatalogDataError, catalog_load, read_data

        action = options["action"]
        try:
            if action == "load":
                report = catalog_load(options["dir"], actor=Actor.cli())
                self.stdout.write(f"事项目录已加载：{report.summary()}")
            elif action == "check":
                data = read_data(options["dir"])
                self.stdout.write(f"数据文件校验通过：机构 {len(data.organisations)}，基本目录 {len(data.basic_items)}，"
                                  f"实施清单 {len(data.implementations)}")
            else:
                from tongban.catalog.transfer import implementations_export

                payload = implementations_export(fmt=options["format"], actor=Actor.cli())
                options["out"].write_bytes(payload)
                self.stdout.write(f"已导出到 {options['out']}")
        except CatalogDataError as exc:
            for problem in exc.problems[:50]:
                self.stderr.write(problem)
            raise CommandError(f"数据文件有 {len(exc.problems)} 处问题，未加载任何内容") from exc
