"""`tongban registry generate|sample`: fill the reference sources with synthetic people, or show some."""

from __future__ import annotations

import datetime
import json
from argparse import BooleanOptionalAction
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"日期格式应为 YYYY-MM-DD：{value!r}") from exc


class Command(BaseCommand):
    help = "权威数据源参考实现：generate 生成合成数据并写入各数据源库；sample 列出可用于演示的人员。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="子命令")
        gen = sub.add_parser("generate", help="生成人口、身份证、交管、出入境数据并写入各自的数据库")
        gen.add_argument("--people", type=int, default=10_000, help="内地人口数（另加 0.5%% 港澳居民），默认 10000")
        gen.add_argument("--seed", type=int, default=2026, help="随机种子：同一种子、同一基准日生成相同数据")
        gen.add_argument("--as-of", type=_date, default=None, help="基准日（判断证件是否过期），默认今天")
        gen.add_argument(
            "--replace", action=BooleanOptionalAction, default=True, help="替换已有数据（默认）；--no-replace 遇到已有数据则报错"
        )
        gen.add_argument("--no-progress", action="store_true", help="不显示进度条")
        gen.add_argument("--json", action="store_true", help="以 JSON 输出统计与耗时")

        smp = sub.add_parser("sample", help="列出已生成的人员（含身份证有效期、号牌），供演示注册使用")
        smp.add_argument("--n", type=int, default=5, help="人数，默认 5")
        smp.add_argument("--json", action="store_true", help="以 JSON 输出")
        smp.add_argument("--seed", type=int, default=0, help="换一批人")
        smp.add_argument(
            "--status", choices=["valid", "any"], default="valid",
            help="valid：仅户籍正常且身份证有效的成年人（默认）；any：不限",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "generate":
            self._generate(options)
        else:
            self._sample(options)

    def _generate(self, options: dict[str, Any]) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from tongban.registry.generator import generate
        from tongban.registry.generator.writers import DataExists

        people = options["people"]
        if people < 1:
            raise CommandError("--people 至少为 1")
        console = Console(stderr=True)  # progress on stderr; results on stdout
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=False, disable=options["no_progress"],
        )
        try:
            with progress:
                result = generate(
                    people=people, seed=options["seed"], as_of=options["as_of"], replace=options["replace"],
                    progress=progress,
                )
        except DataExists as exc:
            raise CommandError(f"{exc}；去掉 --no-replace 以替换") from exc
        if options["json"]:
            self.stdout.write(json.dumps(
                {"people": result.people, "seed": result.seed, "as_of": result.as_of.isoformat(),
                 "counts": result.counts, "seconds": {k: round(v, 3) for k, v in result.timings.items()},
                 "parallel": result.parallel},
                ensure_ascii=False,
            ))
            return
        counts = result.counts
        self.stdout.write(
            f"已生成 {counts['people']} 人（身份证 {counts['cards']} 张，驾驶证 {counts['licences']} 本，"
            f"机动车 {counts['vehicles']} 辆，港澳居民 {counts['hk_macao']} 人，照片 {counts['photos']} 张），"
            f"种子 {result.seed}，基准日 {result.as_of}，用时 {result.total_seconds:.1f} 秒。"
        )

    def _sample(self, options: dict[str, Any]) -> None:
        from tongban.registry.samples import sample

        if options["n"] < 1:
            raise CommandError("--n 至少为 1")
        data = sample(options["n"], any_status=options["status"] == "any", seed=options["seed"])
        if options["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        console = Console(file=self.stdout, width=None if self.stdout.isatty() else 160)  # type: ignore[arg-type]
        table = Table(title="内地居民（可用于注册演示）")
        for column in ("身份号码", "姓名", "性别", "出生日期", "身份证有效期", "证件状态", "号牌", "驾驶证"):
            table.add_column(column)
        for p in data["people"]:
            card = p["card"] or {}
            licence = p["licence"] or {}
            table.add_row(
                p["id_number"], p["name"], p["sex"], p["birth_date"],
                f"{card.get('valid_from', '')} 至 {card.get('valid_to', '')}" if card else "无",
                card.get("status", ""), p["plate"] or "", licence.get("class", ""),
            )
        console.print(table)
        hk = Table(title="港澳居民")
        for column in ("回乡证号码", "居住证号码", "中文姓名", "英文姓名", "有效期至", "状态"):
            hk.add_column(column)
        for r in data["hk_macao"]:
            hk.add_row(
                r["permit_number_with_count"], r["residence_permit_number"] or "", r["name_zh"], r["name_en"],
                r["valid_to"], r["status"],
            )
        console.print(hk)
