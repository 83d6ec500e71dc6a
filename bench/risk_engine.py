"""What the risk engine adds to each audit entry: the rules' work per entry (cache counters, and the staff
look-up of a personal-data read), measured on the receiver alone with the local-memory cache, and the
whole audit_record with and without the engine connected (SQLite, one process).

    .venv/bin/python bench/risk_engine.py            # 3 s per figure

Results are kept in docs/performance.md ("Risk engine").
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from _common import machine_line, rate

ROOT = Path(__file__).resolve().parent.parent
DB = ROOT / "var" / "bench-risk.sqlite3"


def _django() -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "src")]
    os.environ["TONGBAN_DATABASE_URL"] = f"sqlite:///{DB}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.development")
    os.environ.setdefault("TONGBAN_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, database="default")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    _django()
    from tongban.accounts.models import User
    from tongban.audit.actions import Action
    from tongban.audit.models import AuditEntry
    from tongban.audit.services import Actor, Subject, audit_record
    from tongban.audit.signals import entry_recorded
    from tongban.core import clock
    from tongban.risk import engine

    officer, _ = User.objects.get_or_create(username="bench-officer", defaults={
        "kind": "staff", "role_officer": True, "department": "hukou", "region_code": "330100"})
    counter = iter(range(10**9))

    def entry(action: str, **fields: object) -> AuditEntry:
        return AuditEntry(action=action, occurred_at=clock.now(), actor_type=fields.get("actor_type", "anonymous"),
                          actor_id=str(fields.get("actor_id", "")), subject_type=str(fields.get("subject_type", "")),
                          subject_id=str(fields.get("subject_id", "")), outcome="success",
                          client_ip=str(fields.get("ip", "")), details=fields.get("details", {}))

    def verification() -> None:
        n = next(counter)
        engine._on_entry(None, entry("verification.request", actor_type="partner_app", actor_id="pa_bench",
                                     subject_type="identity", subject_id=f"ref-{n % 5000}",
                                     details={"app": f"pa_bench{n % 3}", "passed": True,
                                              "verdicts": ["id_number=consistent", "name=consistent"]}))

    def login_failure() -> None:
        n = next(counter)
        engine._on_entry(None, entry("auth.login.failure", ip=f"198.51.{n % 200}.{n % 250}",
                                     details={"username_digest": f"{n % 100000:016x}"}))

    def personal_read() -> None:
        engine._on_entry(None, entry("personal_data.read", actor_type="user", actor_id=officer.pk,
                                     subject_type="cases.case", subject_id="1"))

    def record() -> None:
        audit_record(action=Action.VERIFICATION_REQUEST, actor=Actor.partner_app("pa_bench"),
                     subject=Subject("identity", f"ref-{next(counter) % 5000}"),
                     details={"app": "pa_bench", "passed": True, "verdicts": ["id_number=consistent"]})

    print(f"machine: {machine_line()}")
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    engine.rules()  # loaded once, as a running process keeps them
    for name, fn in (("verification entry (2 rules)", verification), ("login failure (2 rules)", login_failure),
                     ("personal-data read (2 rules + staff look-up)", personal_read)):
        per_s = rate(fn, args.seconds)
        print(f"engine, {name}: {per_s:,.0f}/s ({1e6 / per_s:.1f} µs each)")
    with_engine = rate(record, args.seconds)
    entry_recorded.disconnect(dispatch_uid="tongban_risk_engine")
    without = rate(record, args.seconds)
    print(f"audit_record of a verification: {with_engine:,.0f}/s with the engine, {without:,.0f}/s without "
          f"({(1 / with_engine - 1 / without) * 1e6:+.1f} µs each)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
