"""`tongban audit verify | checkpoint | export | verify-export | purge`: the audit log's operator commands."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from tongban.audit.actions import Action, Outcome
from tongban.audit.models import AuditEntry
from tongban.audit.services import (
    Actor,
    PurgeRefused,
    Subject,
    audit_checkpoint,
    audit_export,
    audit_purge,
    audit_record,
)
from tongban.audit.verify import verify_export, verify_log
from tongban.core.clock import SHANGHAI


def _when(value: str) -> dt.datetime:
    """A date (Asia/Shanghai midnight) or an ISO datetime (naive = Asia/Shanghai)."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not a date or time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=SHANGHAI)


class Command(BaseCommand):
    help = "审计日志：校验、封存检查点、导出（带 SM2 签名）、校验导出文件、按保留期清理。"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser("verify", help="check every chain, checkpoint and signature")
        verify.add_argument("--no-progress", action="store_true")
        sub.add_parser("checkpoint", help="sign the heads of all open chains now")
        export = sub.add_parser("export", help="signed JSON Lines export of a time range")
        export.add_argument("--from", dest="start", required=True, type=_when)
        export.add_argument("--to", dest="end", required=True, type=_when)
        export.add_argument("--out", required=True, type=Path)
        vexp = sub.add_parser("verify-export", help="check an export's signature and hash links")
        vexp.add_argument("file", type=Path)
        vexp.add_argument("--public-key", type=Path, help="PEM public key to trust (default: this installation's)")
        purge = sub.add_parser("purge", help="delete sealed entries older than the retention period")
        purge.add_argument("--older-than-days", type=int, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, "_" + options["subcommand"].replace("-", "_"))(options)

    def _verify(self, options: dict[str, Any]) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        total = AuditEntry.objects.count()
        show = not options["no_progress"] and sys.stderr.isatty()
        with Progress(TextColumn("校验审计链"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      disable=not show, transient=True) as bar:
            task = bar.add_task("verify", total=total)
            report = verify_log(progress=lambda n: bar.advance(task, n))
        with transaction.atomic():
            audit_record(action=Action.AUDIT_VERIFY, actor=Actor.cli(), subject=Subject("audit.log", ""),
                         outcome=Outcome.SUCCESS if report.ok else Outcome.FAILURE,
                         details={"entries": report.entries, "chains": report.chains,
                                  "checkpoints": report.checkpoints, "problems": len(report.problems)})
        self.stdout.write(f"entries {report.entries}, chains {report.chains}, checkpoints {report.checkpoints}, "
                          f"unsealed entries {report.unsealed}")
        for warning in report.warnings[:20]:
            self.stdout.write(f"warning: {warning}")
        if report.ok:
            self.stdout.write(self.style.SUCCESS("审计日志校验通过 the audit log verifies"))
            return
        self.stderr.write(f"first problem: {report.first}")
        for problem in report.problems:
            self.stderr.write(str(problem))
        raise CommandError(f"the audit log does not verify: {len(report.problems)} problem(s)", returncode=2)

    def _checkpoint(self, options: dict[str, Any]) -> None:
        checkpoint = audit_checkpoint()
        self.stdout.write(f"checkpoint #{checkpoint.seq} {checkpoint.hash}")

    def _export(self, options: dict[str, Any]) -> None:
        start, end = options["start"], options["end"]
        if end <= start:
            raise CommandError("--to must be after --from")
        sig = audit_export(start=start, end=end, out=options["out"])
        self.stdout.write(f"{sig['entries']} entries → {options['out']} (SM3 {sig['sm3']}, key {sig['key_id']})")

    def _verify_export(self, options: dict[str, Any]) -> None:
        from tongban.crypto.sm2 import SM2PublicKey

        public = SM2PublicKey.from_pem(options["public_key"].read_bytes()) if options["public_key"] else None
        result = verify_export(options["file"], public_key=public)
        if not result.ok:
            raise CommandError(f"export does not verify: {result.message}", returncode=2)
        self.stdout.write(self.style.SUCCESS(f"{result.entries} entries; {result.message} (key {result.key_id})"))

    def _purge(self, options: dict[str, Any]) -> None:
        try:
            result = audit_purge(older_than_days=options["older_than_days"], actor=Actor.cli())
        except PurgeRefused as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"purged {result.deleted} entries older than "
                          f"{result.cutoff.astimezone(SHANGHAI):%Y-%m-%d %H:%M} (Asia/Shanghai) from {result.chains} chain(s)")
