"""`tongban keys status|init|rotate|resume`: the key administrator's command (docs/keys.md)."""

from __future__ import annotations

import datetime as dt
import io
import sys
import time
from typing import IO, Any, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tongban.core.clock import to_local
from tongban.core.errors import TongbanError
from tongban.crypto import selectors, services
from tongban.crypto.models import KeyPurpose, KeyRotation, RotationState


def _local(value: Any) -> str:
    return to_local(value).strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, dt.datetime) else ""


def _progress_text(rotation: KeyRotation) -> str:
    phase = rotation.get_phase_display()
    text = (f"#{rotation.id} {rotation.purpose} → v{rotation.to_version} {rotation.get_state_display()}"
            f"（{phase}）{rotation.done_rows}/{rotation.total_rows} 行，重写 {rotation.rewritten_rows}")
    if rotation.failed_rows:
        text += f"，无法解密 {rotation.failed_rows}"
    return text


class Command(BaseCommand):
    help = "密钥管理：查看状态、初始化、轮换（须密钥管理员角色）。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="{status,init,rotate,resume,rewrap}")

        status = sub.add_parser("status", help="各用途的密钥版本、状态与轮换进度。")
        status.add_argument("--wait", action="store_true", help="有轮换在进行时显示进度条，直到完成。")
        status.add_argument("--work", action="store_true",
                            help="与 --wait 同用：在本进程内执行轮换任务（没有独立的任务执行器时）。")

        init = sub.add_parser("init", help="为尚无密钥的用途创建第 1 版（migrate 也会做）。")
        init.add_argument("--operator", required=True, help="操作人（密钥管理员账号）。")

        rotate = sub.add_parser("rotate", help="生成新版本并设为当前；数据类用途在后台重新加密。")
        rotate.add_argument("--purpose", required=True, choices=[p.value for p in KeyPurpose])
        rotate.add_argument("--operator", required=True, help="操作人（密钥管理员账号）。")
        rotate.add_argument("--no-reencrypt", action="store_true",
                            help="不启动重新加密：旧版本保持可用，数据在下次保存时改用新版本。")
        rotate.add_argument("--wait", action="store_true", help="显示进度条直到轮换完成。")
        rotate.add_argument("--work", action="store_true", help="与 --wait 同用：在本进程内执行轮换任务。")

        resume = sub.add_parser("resume", help="让一次已失败的轮换从中断处继续。")
        resume.add_argument("rotation_id", type=int)
        resume.add_argument("--operator", required=True, help="操作人（密钥管理员账号）。")

        rewrap = sub.add_parser("rewrap", help="更换主密钥：把全部数据密钥从旧主密钥改由当前配置的主密钥封装。")
        source = rewrap.add_mutually_exclusive_group(required=True)
        source.add_argument("--old-key-file", help="旧主密钥文件（权限 0600）。")
        source.add_argument("--old-key-env", metavar="VARIABLE", help="存放旧主密钥（hex 或 base64）的环境变量名。")
        rewrap.add_argument("--operator", required=True, help="操作人（密钥管理员账号）。")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, f"_{options['action']}")(options)
        except TongbanError as exc:
            raise CommandError(exc.message("zh")) from exc

    def _print(self, renderable: Any) -> None:
        colour = self.stdout.isatty()
        buffer = io.StringIO()
        Console(file=buffer, width=160, force_terminal=colour, no_color=not colour, highlight=False).print(renderable)
        self.stdout.write(buffer.getvalue(), ending="")

    # -- subcommands -------------------------------------------------------------------------------------

    def _status(self, options: dict[str, Any]) -> None:
        statuses = selectors.key_status()
        table = Table(title="数据密钥（只显示元数据，从不显示密钥）")
        for column in ("用途", "当前版本", "各版本", "主密钥", "最近轮换"):
            table.add_column(column, overflow="fold")
        for item in statuses:
            versions = ", ".join(f"v{v.version} {v.state}" for v in item.versions) or "（无）"
            master_ids = ", ".join(sorted({v.master_key_id for v in item.versions}))
            rotation = _progress_text(item.rotation) if item.rotation else ""
            table.add_row(f"{item.label} ({item.purpose})", f"v{item.current}" if item.current else "—",
                          versions, master_ids, rotation)
        self._print(table)
        if options.get("wait"):
            for item in statuses:
                if item.rotation and item.rotation.state in (RotationState.PENDING, RotationState.RUNNING):
                    self._follow(item.rotation.id, work=options.get("work", False))

    def _init(self, options: dict[str, Any]) -> None:
        operator = services.require_key_admin(username=options["operator"])
        created = services.keys_init(operator=operator)
        if created:
            self.stdout.write("已创建：" + ", ".join(f"{k.purpose} v{k.version}" for k in created))
        else:
            self.stdout.write("各用途均已有密钥。")

    def _rotate(self, options: dict[str, Any]) -> None:
        operator = services.require_key_admin(username=options["operator"])
        result = services.key_rotate(purpose=options["purpose"], operator=operator,
                                     reencrypt=not options["no_reencrypt"])
        self.stdout.write(f"{result.key.purpose} v{result.key.version} 已成为当前版本（操作人 {operator}）。")
        if result.rotation is None:
            return
        self.stdout.write(f"重新加密任务已排队：轮换 #{result.rotation.id}，约 {result.rotation.total_rows} 行；"
                          f"`tongban keys status --wait` 查看进度。")
        if options["wait"]:
            self._follow(result.rotation.id, work=options["work"])

    def _resume(self, options: dict[str, Any]) -> None:
        operator = services.require_key_admin(username=options["operator"])
        rotation = services.rotation_resume(rotation_id=options["rotation_id"], operator=operator)
        self.stdout.write(f"轮换 #{rotation.id} 已重新排队。")

    def _rewrap(self, options: dict[str, Any]) -> None:
        import os

        from tongban.crypto.keys import EnvMasterKey, FileMasterKey, MasterKeyProvider

        operator = services.require_key_admin(username=options["operator"])
        old: MasterKeyProvider
        if options["old_key_file"]:
            old = FileMasterKey(options["old_key_file"], create=False)
        else:
            value = os.environ.get(options["old_key_env"], "")
            if not value:
                raise CommandError(f"环境变量 {options['old_key_env']} 未设置。")
            old = EnvMasterKey(value)
        changed = services.master_key_rewrap(old=old, operator=operator)
        self.stdout.write(f"已改由新主密钥封装 {changed} 个数据密钥；请重启全部进程。")

    # -- progress -------------------------------------------------------------------------------------

    def _follow(self, rotation_id: int, *, work: bool) -> None:
        worker = None
        if work:
            from tongban.jobs.worker import Worker

            worker = Worker(queues=["keys"], batch_size=1)
        stream = cast("IO[str]", getattr(self.stdout, "_out", sys.stdout))
        console = Console(file=stream, force_terminal=self.stdout.isatty())
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("等待开始", total=None)
            while True:
                rotation = selectors.rotation_get(rotation_id=rotation_id)
                if rotation is None:
                    raise CommandError(f"轮换 {rotation_id} 不存在。")
                progress.update(task, total=max(rotation.total_rows, rotation.done_rows, 1),
                                completed=rotation.done_rows,
                                description=f"{rotation.purpose} v{rotation.to_version} {rotation.get_phase_display()}")
                if rotation.state == RotationState.DONE:
                    progress.update(task, completed=max(rotation.total_rows, rotation.done_rows, 1))
                    break
                if rotation.state == RotationState.FAILED:
                    raise CommandError(f"轮换 #{rotation.id} 失败：{rotation.last_error[:300]}")
                ran = worker.run_once() if worker is not None else 0
                if not ran:
                    time.sleep(0.5)
        self.stdout.write(_progress_text(rotation))
