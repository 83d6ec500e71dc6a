"""`tongban exchange deliver|worker|verify-log|reconcile|backfill|rotate-key|status|schemas`: the data
exchange with the national platform from the command line."""

from __future__ import annotations

import datetime as dt
import json
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from tongban.core.errors import TongbanError


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"日期格式应为 YYYY-MM-DD：{text}") from exc


class Command(BaseCommand):
    help = "统一数据交换：发送、核验报文日志、对账、补发历史、轮换信封密钥。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        deliver = sub.add_parser("deliver", help="发送一轮到期的消息后退出。")
        deliver.add_argument("--max-seconds", type=float, default=60.0)
        worker = sub.add_parser("worker", help="持续发送，直到收到 SIGTERM/SIGINT。")
        worker.add_argument("--concurrency", type=int, default=2)
        worker.add_argument("--poll-interval", type=float, default=1.0)
        verify = sub.add_parser("verify-log", help="核验双方的报文日志（哈希链、签名、回执）。")
        verify.add_argument("--local-only", action="store_true", help="不取国家平台一方的日志比对。")
        rec = sub.add_parser("reconcile", help="按日对账（条数与摘要）。")
        rec.add_argument("--date", required=True, type=_date)
        back = sub.add_parser("backfill", help="补发某日以来的办件状态变更。")
        back.add_argument("--since", required=True, type=_date)
        back.add_argument("--until", type=_date)
        back.add_argument("--rate", type=float, default=5000, help="每秒最多消息数（0 为不限），给实时消息留出余量。")
        back.add_argument("--batch-size", type=int, default=1000)
        back.add_argument("--concurrency", type=int, default=2)
        back.add_argument("--no-progress", action="store_true")
        sub.add_parser("rotate-key", help="生成新的信封密钥（SM2 加密后随批次发给国家平台）。")
        sub.add_parser("status", help="各状态的消息数、暂停的通道。")
        schemas = sub.add_parser("schemas", help="输出（或写入 docs/exchange/schemas/）消息的 JSON 模式。")
        schemas.add_argument("--write", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            getattr(self, "_" + action.replace("-", "_"))(options)
        except TongbanError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc

    def _deliver(self, options: dict[str, Any]) -> None:
        from tongban.exchange.delivery import deliver_pass

        results = deliver_pass(max_seconds=options["max_seconds"])
        sent = sum(r.sent + r.duplicates for r in results)
        failed = [r.failed for r in results if r.failed]
        self.stdout.write(f"batches {len(results)}, delivered {sent}, rejected {sum(r.rejected for r in results)}, "
                          f"dead {sum(r.dead for r in results)}" + (f", failed: {failed[0]}" if failed else ""))

    def _worker(self, options: dict[str, Any]) -> None:
        from django.db import connection

        from tongban.exchange.delivery import deliver_pass

        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())

        def loop() -> None:
            try:
                while not stop.is_set():
                    if not deliver_pass(max_seconds=30):
                        stop.wait(options["poll_interval"])
            finally:
                connection.close()

        threads = [threading.Thread(target=loop, name=f"exchange-{i}") for i in range(options["concurrency"])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _verify_log(self, options: dict[str, Any]) -> None:
        from tongban.exchange.client import TransportError, get_client
        from tongban.exchange.log import verify_log

        remote = None
        if not options["local_only"]:
            try:
                remote = get_client().log()
            except TransportError as exc:
                raise CommandError(f"取不到国家平台的日志：{exc}（可用 --local-only 只核验本方）") from exc
        report = verify_log(remote=remote)
        for problem in report.problems:
            self.stdout.write(f"问题：{problem}")
        self.stdout.write(f"checked {report.checked} entries, matched {report.matched_remote} batches with the "
                          f"national log: {'OK' if report.ok else 'PROBLEMS FOUND'}")
        if not report.ok:
            raise CommandError("报文日志核验未通过。")

    def _reconcile(self, options: dict[str, Any]) -> None:
        from tongban.exchange.reconcile import reconcile_day

        report = reconcile_day(day=options["date"])
        for line in report.lines:
            mark = "一致" if line["match"] else "有差异"
            self.stdout.write(f"{line['type']}: ours {line['ours']}, national {line['theirs']} — {mark}")
            for key in line.get("missing_there", []):
                self.stdout.write(f"  国家平台缺少 {key}")
            for key in line.get("extra_there", []):
                self.stdout.write(f"  国家平台多出 {key}")
        if not report.ok:
            raise CommandError(f"{options['date']} 对账有差异（报告 {report.pk}）。")

    def _backfill(self, options: dict[str, Any]) -> None:
        from tongban.exchange.backfill import backfill, count_events

        total = count_events(since=options["since"], until=options["until"])
        console = Console(stderr=True)
        with Progress(TextColumn("补发"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.speed} 条/秒"),
                      TimeElapsedColumn(), TimeRemainingColumn(), console=console,
                      disable=options["no_progress"]) as progress:
            task = progress.add_task("backfill", total=total)
            result = backfill(since=options["since"], until=options["until"], rate=options["rate"],
                              batch_size=options["batch_size"], concurrency=options["concurrency"],
                              progress=lambda n: progress.advance(task, n))
        self.stdout.write(json.dumps({"messages": result.messages, "accepted": result.accepted,
                                      "duplicates": result.duplicates, "rejected": result.rejected,
                                      "batches": result.batches, "seconds": round(result.seconds, 2),
                                      "per_second": round(result.messages / result.seconds) if result.seconds else 0},
                                     ensure_ascii=False))

    def _rotate_key(self, options: dict[str, Any]) -> None:
        from tongban.exchange.services import envelope_key_rotate

        self.stdout.write(f"new envelope key {envelope_key_rotate()}")

    def _status(self, options: dict[str, Any]) -> None:
        from tongban.exchange import selectors

        self.stdout.write(json.dumps(selectors.counts_by_status()))
        for lane in selectors.lanes_in_trouble():
            self.stdout.write(f"lane {lane.id}: {lane.failures} failures, next {lane.next_attempt_at:%Y-%m-%d %H:%M:%S}, "
                              f"{lane.last_error}")

    def _schemas(self, options: dict[str, Any]) -> None:
        from tongban.exchange.schemas import schema_documents, write_schemas

        if options["write"]:
            for path in write_schemas():
                self.stdout.write(str(path))
        else:
            self.stdout.write(json.dumps(schema_documents(), ensure_ascii=False, indent=2))
