"""`tongban violations generate`: record synthetic camera violations for generated vehicles (demo, load tests)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "交通违法处理：generate 为已生成的机动车录入合成的交通违法记录（车主会收到短信）。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, title="子命令")
        gen = sub.add_parser("generate", help="为已生成人员名下的机动车录入违法记录")
        gen.add_argument("--owners", type=int, default=20, help="车主人数（取自 tongban registry sample），默认 20")
        gen.add_argument("--per-plate", type=int, default=2, help="每辆车的违法条数，默认 2")
        gen.add_argument("--seed", type=int, default=2026, help="随机种子")

    def handle(self, *args: Any, **options: Any) -> None:
        from tongban.registry.samples import sample
        from tongban.violations.services import violations_generate

        if not 1 <= options["owners"] <= 10_000 or not 1 <= options["per_plate"] <= 50:
            raise CommandError("--owners 须为 1-10000，--per-plate 须为 1-50")
        try:
            people = sample(options["owners"], seed=options["seed"])["people"]
        except Exception as exc:  # no generated registry
            raise CommandError("请先运行 tongban registry generate 生成交管数据") from exc
        plates = [p["plate"] for p in people if p.get("plate")]
        made = violations_generate(plates=plates, per_plate=options["per_plate"], seed=options["seed"])
        self.stdout.write(f"已为 {len(plates)} 辆机动车录入 {len(made)} 条违法记录")
