"""`tongban jobs worker|list|show|retry|cancel|stats|purge`: run the worker and look after jobs."""

from __future__ import annotations

import datetime as dt
import io
import json
import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.table import Table

from tongban.core.clock import to_local
from tongban.core.errors import TongbanError
from tongban.jobs import selectors, services
from tongban.jobs.models import JobStatus
from tongban.jobs.worker import Worker


def _local(value: dt.datetime | None) -> str:
    return to_local(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


class Command(BaseCommand):
    help = "后台任务：运行执行器、查看任务、重试失败任务、统计。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{worker,list,show,retry,cancel,stats,purge}")

        worker = sub.add_parser("worker", help="运行任务执行器，直到收到 SIGTERM/SIGINT。")
        worker.add_argument("--once", action="store_true", help="只处理当前到期的任务（一批）然后退出。")
        worker.add_argument("--concurrency", type=int, default=1, help="执行线程数（每个线程一个数据库连接）。")
        worker.add_argument("--queue", action="append", dest="queues", help="只处理这些队列（可重复）；默认全部。")
        worker.add_argument("--poll-interval", type=float, default=1.0, help="空闲时轮询间隔（秒）。")
        worker.add_argument("--batch-size", type=int, default=20, help="每轮最多执行的任务数。")

        lister = sub.add_parser("list", help="列出任务（最新的在前）。")
        lister.add_argument("--status", choices=[s.value for s in JobStatus], help="只看该状态，如 dead。")
        lister.add_argument("--task", help="只看该任务；以 * 结尾按前缀匹配，如 outbox.*")
        lister.add_argument("--limit", type=int, default=50)

        show = sub.add_parser("show", help="显示一个任务的详情（含最近错误）。")
        show.add_argument("job_id", type=int)

        retry = sub.add_parser("retry", help="把已失败（dead）或已取消的任务重新排队。")
        retry.add_argument("job_ids", type=int, nargs="+", metavar="JOB_ID")

        cancel = sub.add_parser("cancel", help="取消未开始或已失败的任务。")
        cancel.add_argument("job_ids", type=int, nargs="+", metavar="JOB_ID")

        sub.add_parser("stats", help="按状态、按任务统计任务数。")

        purge = sub.add_parser("purge", help="删除若干天前已成功、已取消或已过期的任务（已失败的保留）。")
        purge.add_argument("--older-than-days", type=int, default=30)

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        getattr(self, f"_{action}")(options)

    # -- output ------------------------------------------------------------------------------------

    def _print(self, renderable: Any) -> None:
        colour = self.stdout.isatty()
        buffer = io.StringIO()
        Console(file=buffer, width=160, force_terminal=colour, no_color=not colour, highlight=False).print(renderable)
        self.stdout.write(buffer.getvalue(), ending="")

    # -- subcommands ---------------------------------------------------------------------------------

    def _worker(self, options: dict[str, Any]) -> None:
        concurrency = max(1, options["concurrency"])
        make = lambda: Worker(queues=options["queues"], poll_interval=options["poll_interval"],  # noqa: E731
                              batch_size=options["batch_size"], recurring=not options["once"])
        if options["once"]:
            done = make().run_once()
            self.stdout.write(f"执行了 {done} 个任务。")
            return
        stop = threading.Event()
        workers = [make() for _ in range(concurrency)]

        def on_signal(signum: int, _frame: Any) -> None:
            # Graceful: the job in progress finishes and is recorded; nothing new is claimed.
            stop.set()
            for worker in workers:
                worker.wake()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        threads = [threading.Thread(target=w.run_forever, args=(stop,), name=f"jobs-worker-{i}", daemon=True)
                   for i, w in enumerate(workers[1:], start=1)]
        for thread in threads:
            thread.start()
        self.stdout.write(f"任务执行器已启动：{concurrency} 个线程；按 Ctrl+C 或发送 SIGTERM 停止。")
        workers[0].run_forever(stop)  # the main thread works too, and stays where signals arrive
        for thread in threads:
            thread.join()
        self.stdout.write("任务执行器已停止。")

    def _list(self, options: dict[str, Any]) -> None:
        jobs = list(selectors.jobs_list(status=options["status"], task=options["task"], limit=options["limit"]))
        table = Table(title=f"任务（{len(jobs)} 条）", show_lines=False)
        for column in ("ID", "任务", "状态", "次数", "队列", "最早执行", "结束", "最近错误"):
            table.add_column(column, overflow="fold")
        for job in jobs:
            error = (job.last_error or "").splitlines()[:1]
            table.add_row(str(job.id), job.task, f"{job.get_status_display()} ({job.status})",
                          f"{job.attempts}/{job.max_attempts}", job.queue, _local(job.run_after),
                          _local(job.finished_at), error[0][:80] if error else "")
        self._print(table)

    def _show(self, options: dict[str, Any]) -> None:
        job = selectors.job_get(job_id=options["job_id"])
        if job is None:
            raise CommandError(f"任务 {options['job_id']} 不存在。")
        table = Table(show_header=False)
        table.add_column("字段")
        table.add_column("值", overflow="fold")
        rows = [("ID", str(job.id)), ("任务", job.task), ("状态", f"{job.get_status_display()} ({job.status})"),
                ("次数", f"{job.attempts}/{job.max_attempts}"), ("队列", job.queue),
                ("幂等键", job.idempotency_key or ""),
                ("参数", json.dumps(job.payload, ensure_ascii=False, sort_keys=True)), ("最早执行", _local(job.run_after)),
                ("有效期至", _local(job.expires_at) or "（长期）"),
                ("执行者", job.locked_by), ("租约到期", _local(job.lease_expires_at)),
                ("创建", _local(job.created_at)), ("更新", _local(job.updated_at)), ("结束", _local(job.finished_at)),
                ("最近错误", job.last_error)]
        for name, value in rows:
            table.add_row(name, value)
        self._print(table)

    def _operator(self, options: dict[str, Any], verb: str) -> None:
        failed = 0
        for job_id in options["job_ids"]:
            try:
                if verb == "retry":
                    job = services.job_retry(job_id=job_id, actor="cli")
                else:
                    job = services.job_cancel(job_id=job_id, actor="cli")
            except TongbanError as exc:
                failed += 1
                self.stderr.write(f"任务 {job_id}：{exc.message('zh')}")
                continue
            self.stdout.write(f"任务 {job.id}（{job.task}）：{job.get_status_display()}")
        if failed:
            raise CommandError(f"{failed} 个任务未能处理。")

    def _retry(self, options: dict[str, Any]) -> None:
        self._operator(options, "retry")

    def _cancel(self, options: dict[str, Any]) -> None:
        self._operator(options, "cancel")

    def _stats(self, options: dict[str, Any]) -> None:
        by_status = selectors.job_counts_by_status()
        statuses = [s for s in JobStatus]
        summary = Table(title="按状态")
        summary.add_column("状态")
        summary.add_column("数量", justify="right")
        for status in statuses:
            summary.add_row(f"{status.label} ({status.value})", str(by_status[status.value]))
        self._print(summary)
        per_task = Table(title="按任务")
        per_task.add_column("任务")
        for status in statuses:
            per_task.add_column(status.value, justify="right")
        for task, counts in selectors.job_counts_by_task().items():
            per_task.add_row(task, *(str(counts.get(s.value, 0)) for s in statuses))
        self._print(per_task)

    def _purge(self, options: dict[str, Any]) -> None:
        deleted = services.job_purge_finished(older_than=dt.timedelta(days=options["older_than_days"]))
        self.stdout.write(f"删除了 {deleted} 个已结束的任务。")
