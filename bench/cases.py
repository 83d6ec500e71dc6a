"""Benchmark: the case lists over HTTP on 1,000,000 cases, and the case services' write rates.

The claims (issue 14; docs/performance.md, "Cases"):
- the officer's inbox, first page with filters: p95 ≤ 100 ms over HTTP;
- a citizen's case list ("我的办件"): p95 ≤ 50 ms over HTTP;
- submissions and acceptances per second through the services (reported, no goal).

In one run, on its own PostgreSQL database (`tongban_staff_bench` unless --database-url says otherwise):
1. `tongban setup` (create and migrate); then, unless the database already holds them, 50,000 citizens and
   1,000,000 cases generated with COPY across 4 departments, the counties of two provinces, every state of
   the default workflow and a year of submission dates; ANALYZE;
2. an officer (户政, 杭州市) and a citizen with ~20 cases get signed-in sessions (database sessions, the
   officer's second factor marked verified, as after a TOTP sign-in);
3. `tongban serve --server gunicorn` (DEBUG off), then sequential requests on one keep-alive connection:
   each URL warmed up, then timed --requests times; p50, p95, p99 in milliseconds;
4. in-process: --writes submissions (start, draft, submit) and as many acceptances through the services.

    .venv/bin/python bench/cases.py                        # first run ~10 minutes (generation)
    .venv/bin/python bench/cases.py --cases 20000 --requests 50   # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_line  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/tongban_staff_bench"

DEPARTMENTS = ("hukou", "exit_entry", "traffic", "public_order")
ITEMS = {  # item code -> (title, department)
    "HZ-SFZ-01": ("居民身份证换领补领", "hukou"), "HZ-HJ-02": ("户口迁移（准迁证）", "hukou"),
    "HZ-HJ-03": ("新生儿入户", "hukou"), "CRJ-HZ-01": ("普通护照签发", "exit_entry"),
    "CRJ-GA-02": ("往来港澳通行证签注", "exit_entry"), "JG-JSZ-01": ("机动车驾驶证换证", "traffic"),
    "JG-CL-02": ("机动车检验标志核发", "traffic"), "ZA-WFZ-01": ("无犯罪记录证明", "public_order"),
    "ZA-BA-02": ("保安员证核发", "public_order"), "ZA-DJ-03": ("旅馆业特种行业许可", "public_order"),
}
STATES = (("submitted", 10), ("correction", 3), ("review", 8), ("decision", 5), ("delivery", 5),
          ("closed", 52), ("denied", 4), ("not_accepted", 5), ("withdrawn", 8))
OPEN = {"submitted", "correction", "review", "decision", "delivery"}


def env_for(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "TONGBAN_DATABASE_URL": args.database_url, "TONGBAN_ENV": "development", "TONGBAN_DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "config.settings.development", "TONGBAN_LOG_LEVEL": "WARNING",
        "TONGBAN_INPROCESS_WORKER": "false", "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
    })
    env.pop("TONGBAN_REDIS_URL", None)  # database sessions: the bench process and the server share them
    return env


def django_setup(env: dict[str, str]) -> None:
    os.environ.update(env)
    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    import django

    django.setup()


# -- generation -----------------------------------------------------------------------------------------------


def _columns(cur: Any, table: str) -> list[tuple[str, bool]]:
    cur.execute("SELECT column_name, is_nullable = 'YES' FROM information_schema.columns WHERE table_name = %s "
                "ORDER BY ordinal_position", (table,))
    return [(name, nullable) for name, nullable in cur.fetchall()]


def _copy(cur: Any, table: str, values: dict[str, Any], rows: Any) -> int:
    """COPY `rows` (dicts) into `table`; columns not given are NULL (refused if NOT NULL) or `values`."""
    cols = [name for name, _ in _columns(cur, table) if name != "id" or table != "accounts_user"]
    nullable = dict(_columns(cur, table))
    missing = [c for c in cols if c not in values and not nullable[c]]
    n = 0
    with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
        for row in rows:
            if missing and not all(c in row for c in missing):
                raise SystemExit(f"{table}: no value for NOT NULL columns {[c for c in missing if c not in row]}")
            copy.write_row([row.get(c, values.get(c)) for c in cols])
            n += 1
    return n


def generate(cases: int, citizens: int, seed: int = 2026) -> dict[str, Any]:
    from django.db import connection, transaction

    from tongban.accounts.regions import current_regions
    from tongban.cases.catalog_bridge import ItemSpec, MaterialSpec

    rng = random.Random(seed)
    counties = sorted(c for c in current_regions() if c[:2] in ("33", "32") and not c.endswith("00"))
    now = dt.datetime.now(dt.UTC)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as django_cursor:
        cur = django_cursor.cursor  # psycopg 3's own cursor: COPY
        role_false = {f"role_{r}": False for r in ("system_admin", "security_admin", "audit_admin", "key_admin",
                                                  "officer", "catalog_editor", "catalog_reviewer")}
        user_values = {"password": "!", "kind": "citizen", "is_active": True, "date_joined": now,
                       "must_change_password": False, "department": "", "region_code": "", "is_superuser": False,
                       **role_false}
        _copy(cur, "accounts_user", user_values, ({"username": f"bench-cit-{i:06d}"} for i in range(citizens)))
        cur.execute("SELECT min(id), max(id) FROM accounts_user WHERE username LIKE 'bench-cit-%%'")
        low, high = cur.fetchone()
        weights = [w for _, w in STATES]
        names = [s for s, _ in STATES]
        items = list(ITEMS.items())
        seq: dict[tuple[str, str], int] = {}
        snapshots = {code: json.dumps(ItemSpec(code=code, title=title, department=department, limit_days=10,
                                               materials=(MaterialSpec("photo", "本人近期证件照"),)).snapshot(),
                                      ensure_ascii=False)
                     for code, (title, department) in ITEMS.items()}

        from tongban.core.ids import EPOCH_MS, SEQUENCE_BITS

        def rows() -> Any:
            for i in range(cases):
                code, (title, department) = items[rng.randrange(len(items))]
                region = counties[rng.randrange(len(counties))]
                state = rng.choices(names, weights)[0]
                submitted = now - dt.timedelta(seconds=rng.randrange(365 * 86400))
                day = submitted.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
                key = (region, day.strftime("%y%m%d"))
                seq[key] = seq.get(key, 0) + 1
                limit = rng.choice((5, 10, 15, 20))
                due = day + dt.timedelta(days=limit * 7 // 5)
                finished = None if state in OPEN else day + dt.timedelta(days=rng.randrange(1, limit * 2))
                ms = int(submitted.timestamp() * 1000) - EPOCH_MS  # the platform's time-ordered ids
                yield {
                    "id": (ms << SEQUENCE_BITS) | i, "item_snapshot": snapshots[code], "number": f"{key[0]}{key[1]}{seq[key]:05d}0", "item_code": code, "item_title": title,
                    "department": department, "region_code": region, "state": state,
                    "applicant_id": rng.randint(low, high), "limit_days": limit, "clock_started_on": day,
                    "due_on": due, "finished_on": finished, "submitted_at": submitted, "created_at": submitted,
                    "updated_at": submitted, "state_entered_at": submitted,
                    "closed_at": submitted + dt.timedelta(days=3) if finished else None,
                    "suspended_since": day if state == "correction" else None,
                }

        values = {"workflow": "two_review",
                  "version": 1, "applicant_kind": "citizen", "prefilled": "[]", "delivery_method": "pickup",
                  "pickup_station": "窗口", "corrections_used": 0, "correction_items": "[]", "decision_reason": "",
                  "suspended_days": 0}
        _copy(cur, "cases_case", values, rows())
    with connection.cursor() as cur:
        cur.execute("ANALYZE cases_case")
        cur.execute("ANALYZE accounts_user")
    return {"cases": cases, "citizens": citizens, "seconds": round(time.perf_counter() - started, 1),
            "counties": len(counties)}


# -- sessions ---------------------------------------------------------------------------------------------------


def signed_in_cookie(user: Any, *, staff: bool) -> str:
    from django.conf import settings
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    client = Client()
    client.force_login(user, backend="tongban.accounts.backends.TongbanBackend")
    session = client.session
    if staff:
        from tongban.accounts.models import StaffTOTPDevice

        session[DEVICE_ID_SESSION_KEY] = StaffTOTPDevice.objects.get(user=user, confirmed=True).persistent_id
    session["_tongban_last_seen"] = int(time.time())
    session.save()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def people() -> dict[str, Any]:
    from tongban.accounts.models import StaffTOTPDevice, User, UserKind

    officer, created = User.objects.get_or_create(username="bench-officer", defaults={
        "kind": UserKind.STAFF, "role_officer": True, "department": "hukou", "region_code": "330100"})
    if created:
        officer.set_password("Bench-officer-2026!")
        officer.save()
        StaffTOTPDevice.objects.create(user=officer, name="bench", confirmed=True)
    citizen = User.objects.get(username="bench-cit-000001")
    return {"officer": officer, "citizen": citizen}


# -- HTTP -----------------------------------------------------------------------------------------------------------


def timed(port: int, path: str, cookie: str, n: int) -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": cookie, "Connection": "keep-alive"}
    samples = []
    status = 0
    for i in range(n + 5):
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        status = response.status
        if status != 200:
            raise SystemExit(f"{path}: HTTP {status}: {body[:300]!r}")
        if i >= 5:  # warm-up requests left out
            samples.append(elapsed)
    conn.close()
    samples.sort()

    def pct(p: float) -> float:
        return round(samples[min(len(samples) - 1, int(p * len(samples)))], 1)

    return {"path": path, "n": n, "p50": pct(0.5), "p95": pct(0.95), "p99": pct(0.99),
            "mean": round(statistics.fmean(samples), 1), "rows": body.count(b'href="/backoffice/cases/') or
            body.count(b'href="/me/cases/')}


def wait_http(port: int, proc: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited ({proc.returncode})")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not answer within 60 s")


def stop(proc: subprocess.Popen[Any]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# -- services ---------------------------------------------------------------------------------------------------------


def write_rates(officer: Any, n: int) -> dict[str, Any]:
    from tongban.accounts.models import CitizenProfile, User, UserKind
    from tongban.cases.catalog_bridge import ItemSpec, offer_item, withdraw_item
    from tongban.cases.services import case_act, case_save_draft, case_start, case_submit

    form = {"fields": [{"name": "reason", "label": "申请事由", "type": "text", "required": True}]}
    spec = ItemSpec(code="BENCH-W1", title="基准测试事项", department="hukou", region_code="330100", version_id=1,
                    assurance_level=2, workflow="two_review", application_form=form, limit_days=5, materials=())
    offer_item(spec)
    try:
        stamp = int(time.time())
        user = User.objects.create_user(f"bench-writer-{stamp}", None, kind=UserKind.CITIZEN)
        CitizenProfile.objects.create(user=user, phone=f"139{stamp % 100_000_000:08d}", id_type="resident_id",
                                      id_number="330106199001011234", person_key=f"33010619900101{stamp % 10000:04d}",
                                      name="基准", level=2)
        ids = []
        start = time.perf_counter()
        for _ in range(n):
            case = case_start(user=user, item_code=spec.code)
            case_save_draft(user=user, case_id=case.pk, answers={"reason": "基准"},
                            delivery={"method": "pickup", "station": "西湖区接待大厅"})
            case_submit(user=user, case_id=case.pk)
            ids.append(case.pk)
        submit_s = time.perf_counter() - start
        start = time.perf_counter()
        for case_id in ids:
            case_act(user=officer, case_id=case_id, action="accept")
        accept_s = time.perf_counter() - start
    finally:
        withdraw_item(spec.code)
    return {"submissions_per_s": round(n / submit_s, 1), "acceptances_per_s": round(n / accept_s, 1), "n": n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--citizens", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    env = env_for(args)
    subprocess.run([str(BIN / "tongban"), "setup"], env=env, cwd=ROOT, check=True, capture_output=True)
    django_setup(env)
    from tongban.cases.models import Case

    print(f"machine: {machine_line()}")
    have = Case.objects.filter(item_code__in=list(ITEMS)).count()
    if have < args.cases:
        if have:
            raise SystemExit(f"the database holds {have} generated cases, fewer than {args.cases}: drop it first")
        print("generated:", generate(args.cases, args.citizens), flush=True)
    else:
        print(f"reusing {have} generated cases")
    who = people()
    officer_cookie = signed_in_cookie(who["officer"], staff=True)
    citizen_cookie = signed_in_cookie(who["citizen"], staff=False)
    today = dt.date.today()
    inbox = [
        "/backoffice/cases/",
        "/backoffice/cases/?state=submitted",
        "/backoffice/cases/?state=review&assigned=unassigned",
        "/backoffice/cases/?overdue=on",
        f"/backoffice/cases/?item=HZ-SFZ-01&submitted_from={today - dt.timedelta(days=90)}&submitted_to={today}",
    ]
    server = subprocess.Popen([str(BIN / "tongban"), "serve", "--server", "gunicorn", "--port", str(args.port),
                               "--workers", str(args.workers)], env=env, cwd=ROOT, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = []
    try:
        wait_http(args.port, server)
        for path in inbox:
            results.append({"what": "officer inbox", **timed(args.port, path, officer_cookie, args.requests)})
        for path in ("/me/cases/", "/me/cases/?page=2"):
            results.append({"what": "citizen list", **timed(args.port, path, citizen_cookie, args.requests)})
    finally:
        stop(server)
    for row in results:
        goal = 100 if row["what"] == "officer inbox" else 50
        mark = "ok" if row["p95"] <= goal else "MISSED"
        print(f"{row['what']:14} {row['path']:90} p50 {row['p50']:6} p95 {row['p95']:6} p99 {row['p99']:6} ms "
              f"(goal p95 <= {goal}: {mark}; rows {row['rows']})")
    print("services:", write_rates(who["officer"], args.writes))


if __name__ == "__main__":
    main()
